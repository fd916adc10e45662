"""AIU's Go templates over AIU's data: the commit message (``git.commit-message-template``,
AIU's default otherwise) and the templated write branch (``base:<template>``)."""

from __future__ import annotations

import pytest

from image_automation.domain import Change, UpdateResult
from image_automation.git.argocd_messages import (
    MAX_BRANCH,
    change_set_hash,
    commit_template,
    render_branch,
    split_reference,
    target_key,
)
from image_automation.git.flux_messages import FluxTemplateError, parse_template

WEB = Change("apps/web/values.yaml", 3, "", "", "", "", "argocd:u/web/web",
             "ghcr.io/org/web:1.0.0", "ghcr.io/org/web:1.1.0")  # fmt: skip
API = Change("apps/api/kustomization.yaml", 7, "", "", "", "", "argocd:u/web/api",
             "", "registry:5000/api:2.0.0@sha256:" + "b" * 64)  # fmt: skip


def _message(source: str | None, *changes: Change) -> str:
    template = commit_template(source, app_name="web")
    return template.render_text(UpdateResult(changes=changes), automation="a", values=None)


def test_without_a_template_the_message_is_aius_default() -> None:
    assert _message(None, WEB) == (
        "build: automatic update of web\n\nupdates image ghcr.io/org/web tag '1.0.0' to '1.1.0'\n"
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ .AppName }}: {{ len .AppChanges }} image(s)", "web: 2 image(s)"),
        ("{{ range .AppChanges }}{{ .Image }}={{ .NewTag }};{{ end }}",
         "registry:5000/api=2.0.0@sha256:" + "b" * 64 + ";ghcr.io/org/web=1.1.0;"),
        ("{{ range .AppChanges }}[{{ .OldTag }}]{{ end }}", "[][1.0.0]"),
        ("{{ range .AppChanges }}{{ len .Labels }}{{ end }}", "00"),
    ],
)  # fmt: skip
def test_a_commit_message_template_sees_aius_variables(source: str, expected: str) -> None:
    assert _message(source, WEB, API) == expected


@pytest.mark.parametrize("source", ["{{ .AppName ", "{{ end }}", "{{ .AppName | nosuch }}"])
def test_a_broken_commit_message_template_is_refused_with_its_position(source: str) -> None:
    with pytest.raises(FluxTemplateError) as caught:
        commit_template(source, app_name="web")
    assert caught.value.line == 1


def _branch(source: str, *changes: Change, app: str = "web") -> str:
    aliases = {WEB.setter: "web", API.setter: "api"}
    return render_branch(parse_template(source), changes, app_name=app, app_namespace="argocd",
                         key="0a1b2c3d", aliases=aliases)  # fmt: skip


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("image-updater-{{ .AppNamespace }}-{{ .AppName }}", "image-updater-argocd-web"),
        ("updates/{{ .TargetKey }}", "updates/0a1b2c3d"),
        ("{{ range .Images }}{{ .Alias }}-{{ .NewTag }}{{ end }}", "web-1.1.0"),
        ("{{ range .Images }}{{ .Name }}:{{ .OldTag }}{{ end }}", "ghcr.io/org/web:1.0.0"),
        ("b-{{ .SHA256 }}", "b-" + change_set_hash([WEB])),
        ("  padded  ", "padded"),
    ],
)
def test_a_write_branch_template_sees_aius_variables(source: str, expected: str) -> None:
    assert _branch(source, WEB) == expected


def test_the_change_set_hash_names_the_changes_not_their_order() -> None:
    assert _branch("{{ .SHA256 }}", WEB, API) == _branch("{{ .SHA256 }}", API, WEB)
    assert _branch("{{ .SHA256 }}", WEB) != _branch("{{ .SHA256 }}", API)


def test_a_long_write_branch_is_cut_as_aiu_cuts_it() -> None:
    assert len(_branch("{{ .AppName }}", WEB, app="a" * 1000)) == MAX_BRANCH


def test_a_write_branch_template_that_fails_to_run_is_an_error_not_a_crash() -> None:
    with pytest.raises(FluxTemplateError, match="index out of range"):
        _branch("{{ index .Images 99999999999999999999 }}", WEB)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ghcr.io/org/web:1.0.0", ("ghcr.io/org/web", "1.0.0")),
        ("registry:5000/api:2.0", ("registry:5000/api", "2.0")),
        ("registry:5000/api", ("", "registry:5000/api")),
        ("nginx:1@sha256:" + "c" * 64, ("nginx", "1@sha256:" + "c" * 64)),
        ("1.2.3", ("", "1.2.3")),
        ("", ("", "")),
        ("::::", ("", "::::")),
    ],
)
def test_a_reference_splits_into_image_and_tag(value: str, expected: tuple[str, str]) -> None:
    assert split_reference(value) == expected


def test_the_target_key_is_eight_hex_and_names_its_parts() -> None:
    key = target_key("https://git.example.test/fleet.git", "main", "apps/web/values.yaml")
    assert len(key) == 8 and int(key, 16) >= 0
    assert key != target_key("https://git.example.test/fleet.git", "main", "apps/api")


def test_a_bare_old_tag_is_the_old_tag_in_the_message() -> None:
    """A values file whose image name key was empty records the old value as the tag alone."""
    bare = Change("values.yaml", 3, "", "", "", "", WEB.setter, "1.0.0", WEB.new)
    assert "tag '1.0.0' to '1.1.0'" in _message(None, bare)
