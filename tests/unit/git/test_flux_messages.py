"""Flux message templates render as image-automation-controller renders them.

The templates are the ones Flux's ImageUpdateAutomation docs show; the change set is small
and written out, and every expected message is worked out by hand from Go's rules (trim
markers, sorted map keys, ``%v`` of Flux's structs), not produced by the code under test.
"""

from __future__ import annotations

import hashlib

import pytest

from image_automation.domain import Change, UpdateResult
from image_automation.errors import ConfigError
from image_automation.git.flux_messages import (
    IMAGE_RESULT_NOTE,
    MAX_SOURCE,
    REMOVED_UPDATED,
    FluxTemplateError,
    parse_template,
)
from image_automation.git.messages import MessageTemplateError, render_message

PODINFO = Change(
    "clusters/prod/podinfo.yaml",
    10,
    "apps/v1",
    "Deployment",
    "default",
    "podinfo",
    "default:podinfo-policy",
    "ghcr.io/stefanprodan/podinfo:5.0.0",
    "ghcr.io/stefanprodan/podinfo:5.0.3",
)
APP_TAG = Change(
    "clusters/prod/helm.yaml",
    12,
    "helm.toolkit.fluxcd.io/v2",
    "HelmRelease",
    "default",
    "app",
    "default:app:tag",
    "1.0.0",
    "1.1.0",
)
RESULT = UpdateResult(changes=(PODINFO, APP_TAG))
AUTOMATION = "flux-system/podinfo-update"

DOCS_FILES_AND_OBJECTS = """\
Automated image update

Automation name: {{ .AutomationObject }}

Files:
{{ range $filename, $_ := .Changed.FileChanges -}}
- {{ $filename }}
{{ end -}}

Objects:
{{ range $resource, $changes := .Changed.Objects -}}
- {{ $resource.Kind }} {{ $resource.Name }}
  Changes:
{{- range $_, $change := $changes }}
    - {{ $change.OldValue }} -> {{ $change.NewValue }}
{{ end -}}
{{ end -}}
"""

DOCS_WITH_FUNCTIONS = """\
Automated image update

Automation name: {{ .AutomationObject }}

Files:
{{ range $filename, $_ := .Changed.FileChanges -}}
- {{ $filename }}
{{ end -}}

Objects:
{{ range $resource, $changes := .Changed.Objects -}}
- {{ $resource.Kind | lower }} {{ $resource.Name | lower }}
  Changes:
{{- range $_, $change := $changes }}
  {{ if contains "5.0.3" $change.NewValue -}}
    - {{ $change.OldValue }} -> {{ $change.NewValue }}
  {{ else -}}
    [skip ci] wrong image
  {{ end -}}
{{ end -}}
{{ end -}}
"""

DOCS_GERRIT = """\
Perform automatic image update

Automation name: {{ .AutomationObject }}

{{- $ChangeId := .AutomationObject -}}
{{- $ChangeId = printf "%s%s" $ChangeId ( .Changed.FileChanges | toString ) -}}
{{- $ChangeId = printf "%s%s" $ChangeId ( .Changed.Objects | toString ) -}}
{{- $ChangeId = printf "%s%s" $ChangeId ( .Changed.Changes | toString ) }}
Change-Id: {{ printf "I%s" ( sha256sum $ChangeId | trunc 40 ) }}
"""

# Go's %v of the structs above: ObjectIdentifier{ResourceIdentifier{TypeMeta, NameMeta}}.
HELM_ID = "{{{helm.toolkit.fluxcd.io/v2 HelmRelease} {app default}}}"
PODINFO_ID = "{{{apps/v1 Deployment} {podinfo default}}}"
HELM_CHANGE = "{1.0.0 1.1.0 default:app:tag}"
PODINFO_CHANGE = (
    "{ghcr.io/stefanprodan/podinfo:5.0.0 ghcr.io/stefanprodan/podinfo:5.0.3 default:podinfo-policy}"
)
CHANGE_ID_INPUT = (
    AUTOMATION
    + f"map[clusters/prod/helm.yaml:map[{HELM_ID}:[{HELM_CHANGE}]] "
    + f"clusters/prod/podinfo.yaml:map[{PODINFO_ID}:[{PODINFO_CHANGE}]]]"
    + f"map[{PODINFO_ID}:[{PODINFO_CHANGE}] {HELM_ID}:[{HELM_CHANGE}]]"
    + f"[{HELM_CHANGE} {PODINFO_CHANGE}]"
)


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        pytest.param(
            DOCS_FILES_AND_OBJECTS,
            {},
            "Automated image update\n\nAutomation name: flux-system/podinfo-update\n\n"
            "Files:\n- clusters/prod/helm.yaml\n- clusters/prod/podinfo.yaml\n"
            "Objects:\n"
            "- Deployment podinfo\n  Changes:\n"
            "    - ghcr.io/stefanprodan/podinfo:5.0.0 -> ghcr.io/stefanprodan/podinfo:5.0.3\n"
            "- HelmRelease app\n  Changes:\n    - 1.0.0 -> 1.1.0\n",
            id="files-and-objects",
        ),
        pytest.param(
            DOCS_WITH_FUNCTIONS,
            {},
            "Automated image update\n\nAutomation name: flux-system/podinfo-update\n\n"
            "Files:\n- clusters/prod/helm.yaml\n- clusters/prod/podinfo.yaml\n"
            "Objects:\n"
            "- deployment podinfo\n  Changes:\n"
            "  - ghcr.io/stefanprodan/podinfo:5.0.0 -> ghcr.io/stefanprodan/podinfo:5.0.3\n"
            "  - helmrelease app\n  Changes:\n  [skip ci] wrong image\n",
            id="template-functions",
        ),
        pytest.param(
            "Automated image update by Flux for cluster {{ .Values.cluster }}.",
            {"cluster": "prod"},
            "Automated image update by Flux for cluster prod.\n",
            id="message-template-values",
        ),
        pytest.param(
            DOCS_GERRIT,
            {},
            "Perform automatic image update\n\nAutomation name: flux-system/podinfo-update\n"
            "Change-Id: I" + hashlib.sha256(CHANGE_ID_INPUT.encode()).hexdigest()[:40] + "\n",
            id="gerrit-change-id",
        ),
        pytest.param(
            "{{range .Changed.Changes}}{{print .OldValue}} -> {{println\n  .NewValue}}{{end}}",
            {},
            "1.0.0 -> 1.1.0\n"
            "ghcr.io/stefanprodan/podinfo:5.0.0 -> ghcr.io/stefanprodan/podinfo:5.0.3\n",
            id="gitea-agit",
        ),
        pytest.param("Automated image update by Flux", {}, "Automated image update by Flux\n"),
    ],
)
def test_flux_docs_templates_render_as_flux_renders_them(
    template: str, values: dict[str, str], expected: str
) -> None:
    parsed = parse_template(template)
    assert render_message(RESULT, parsed, automation=AUTOMATION, values=values) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ .AutomationObject.Namespace }}|{{ .AutomationObject.Name }}",
         "flux-system|podinfo-update"),
        ("{{ range .Changed.Changes }}{{ .Setter | replace \":\" \"/\" }} {{ end }}",
         "default/app/tag default/podinfo-policy"),
        ("{{ len .Changed.Changes }} {{ len .Changed.FileChanges }} {{ len .Changed.Objects }}",
         "2 2 2"),
        ("{{ range $o, $_ := .Changed.Objects }}{{ $o.APIVersion }},{{ $o.Namespace }};{{ end }}",
         "apps/v1,default;helm.toolkit.fluxcd.io/v2,default;"),
        ("{{ .Values.missing }}|{{ index .Values \"missing\" }}|{{ .Values.k }}",
         "<no value>||v"),
        ("{{ .Values.k }}", "v"),
        ("{{ range .Changed.ImageResult.Images }}{{ . }}={{ .Identifier }},{{ .Policy }} {{ end }}",
         "1.1.0=1.1.0,default/app ghcr.io/stefanprodan/podinfo:5.0.3=5.0.3,default/podinfo-policy"),
        ("{{ .Values.inject }}", "{{ .Updated }} {% raw %}"),
    ],
)  # fmt: skip
def test_the_flux_template_data(template: str, expected: str) -> None:
    values = {"k": "v", "inject": "{{ .Updated }} {% raw %}"}
    parsed = parse_template(template)
    assert render_message(RESULT, parsed, automation=AUTOMATION, values=values) == expected + "\n"


def test_a_change_listed_in_two_objects_appears_once_in_changes() -> None:
    twin = Change("b.yaml", 1, "v1", "Pod", "", "p", "default:app:tag", "1.0.0", "1.1.0")
    parsed = parse_template("{{ range .Changed.Changes }}{{ .NewValue }};{{ end }}")
    result = UpdateResult(changes=(APP_TAG, twin))
    assert render_message(result, parsed, automation=AUTOMATION) == "1.1.0;\n"


def test_the_removed_updated_field_gets_fluxs_wording_and_a_migration_hint() -> None:
    # The v1beta1 template from the controller's 0.7.0 changelog.
    template = "Images:\n{{ range .Updated.Images -}}\n- {{.}}\n{{ end -}}\n"
    with pytest.raises(FluxTemplateError) as caught:
        render_message(RESULT, parse_template(template), automation=AUTOMATION)
    error = caught.value
    assert isinstance(error, MessageTemplateError) and isinstance(error, ConfigError)
    assert (error.line, error.column) == (2, 10)
    assert error.message == f"commit message template, line 2, column 10: {REMOVED_UPDATED}"
    assert REMOVED_UPDATED.startswith(
        "template uses removed '.Updated' field. Please use '.Changed' instead. See: "
        "https://fluxcd.io/flux/components/image/imageupdateautomations/#message-template"
    )
    assert ".Updated.Images -> .Changed.Changes" in REMOVED_UPDATED


def test_image_result_still_renders_with_a_note_that_current_flux_refuses_it() -> None:
    parsed = parse_template("{{ range .Changed.ImageResult.Images }}{{ println . }}{{ end }}")
    text, notes = parsed.render(RESULT, automation=AUTOMATION, values=None)
    assert text == "1.1.0\nghcr.io/stefanprodan/podinfo:5.0.3\n"
    assert notes == [IMAGE_RESULT_NOTE]
    assert (
        parse_template("{{ .Changed.Changes }}").render(RESULT, automation="a/b", values={})[1]
        == []
    )


@pytest.mark.parametrize(
    ("template", "line", "column", "message"),
    [
        ("ok\n\n  {{ .Nope }}", 3, 6, "can't evaluate field Nope in type source.TemplateData"),
        ("{{ range .Changed.Changes }}{{ .Nope }}{{ end }}", 1, 32,
         "can't evaluate field Nope in type update.Change"),
        ("{{ toJson . }}", 1, 4, "function 'toJson' is not supported here"),
        ("{{ now }}", 1, 4, "function 'now' not defined"),
        ('{{ define "x" }}{{ end }}', 1, 4, "{{define}} is not supported"),
        ("a\n{{ if .Values }}", 2, 4, "unexpected EOF: {{if}} without {{end}}"),
        ("{{ upper .AutomationObject }}", 1, 10,
         "wrong type for value; expected string; got types.NamespacedName"),
        ("{{ index .Changed.Changes 5 }}", 1, 4, "error calling index: index out of range: 5"),
    ],
)  # fmt: skip
def test_template_errors_name_their_line_and_column(
    template: str, line: int, column: int, message: str
) -> None:
    with pytest.raises(FluxTemplateError) as caught:
        render_message(RESULT, parse_template(template), automation=AUTOMATION)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert caught.value.message.startswith(
        f"commit message template, line {line}, column {column}: "
    )
    assert message in caught.value.message


def test_a_template_that_renders_blank_is_refused_when_there_is_something_to_commit() -> None:
    parsed = parse_template("{{ range .Changed.Changes }}{{ end }}  \n")
    with pytest.raises(MessageTemplateError, match="empty message"):
        render_message(RESULT, parsed, automation=AUTOMATION)


def test_an_oversized_template_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(FluxTemplateError, match=f"longer than {MAX_SOURCE}"):
        parse_template("{{ . }}" * (MAX_SOURCE // 7 + 1))
