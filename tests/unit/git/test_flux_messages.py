"""Flux Go message templates render through our Jinja data as Flux would render them."""

from __future__ import annotations

import pytest

from image_automation.domain import Change, UpdateResult
from image_automation.git.flux_messages import FluxTemplateError, translate
from image_automation.git.messages import render_message

RESULT = UpdateResult(
    changes=(
        Change("b.yaml", 9, "apps/v1", "Deployment", "prod", "web", "ns:web", "r/web:1", "r/web:2"),
        Change("a.yaml", 3, "apps/v1", "Deployment", "prod", "app", "ns:app:tag", "1.0", "1.1"),
    )
)

# The example of Flux's ImageUpdateAutomation v1 docs, verbatim.
FLUX_DOCS_EXAMPLE = """\
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


def _render(go: str) -> str:
    return render_message(RESULT, translate(go), automation="flux-system/auto", values={"k": "v"})


def test_flux_docs_example_renders_like_flux() -> None:
    assert _render(FLUX_DOCS_EXAMPLE) == (
        "Automated image update\n\nAutomation name: flux-system/auto\n\nFiles:\n"
        "- a.yaml\n- b.yaml\nObjects:\n"
        "- Deployment app\n  Changes:\n    - 1.0 -> 1.1\n"
        "- Deployment web\n  Changes:\n    - r/web:1 -> r/web:2\n"
    )


@pytest.mark.parametrize(
    ("go", "expected"),
    [
        ("{{ range .Changed.Changes }}{{ .Setter }} {{ end }}", "ns:app:tag ns:web\n"),
        ("{{ len .Changed.Changes }} changes", "2 changes\n"),
        ("{{ range .Changed.ImageResult.Images }}{{ println . }}{{ end }}", "1.1\nr/web:2\n"),
        (
            "{{ range .Changed.ImageResult.Images }}{{ .Name }}|{{ .Identifier }} {{ end }}",
            "|1.1 r/web:2|2\n",
        ),
        ("{{ .Values.k }}{{/* a comment */}}", "v\n"),
        ("{{ if .Changed.Changes }}yes{{ else }}no{{ end }}", "yes\n"),
        ("{{ with .Values }}{{ .k }}{{ end }}", "v\n"),
        (
            "{{ range $i, $c := .Changed.Changes }}{{ $i }}={{ $c.NewValue }} {{ end }}",
            "0=1.1 1=r/web:2\n",
        ),
        (
            "{{ range .Changed.Changes }}{{ $.AutomationObject }}{{ end }}",
            "flux-system/autoflux-system/auto\n",
        ),
        ("literal {% raw %} {# kept #}", "literal {% raw %} {# kept #}\n"),
    ],
)
def test_supported_actions(go: str, expected: str) -> None:
    assert _render(go) == expected


@pytest.mark.parametrize(
    "go",
    [
        "{{ .A | printf }}",
        '{{ printf "%s" .A }}',
        "{{ end }}",
        "{{ range .A }}",
        '{{ define "x" }}{{ end }}',
        "{{ if .A }}{{ else if .B }}{{ end }}",
        "{{ (len .A) }}",
    ],
)
def test_unsupported_actions_fail_clearly(go: str) -> None:
    with pytest.raises(FluxTemplateError, match="Flux message template"):
        translate(go)
