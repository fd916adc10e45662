"""`validate` checks automation documents as `reconcile` would plan them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from image_automation.cli import root
from image_automation.cli._commands import register

register(root)

FLUX = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {name: apps, namespace: apps}
spec:
  interval: 30m
  sourceRef: {kind: GitRepository, name: fleet}
  git:
    commit:
      author: {email: bot@example.com}
      messageTemplate: {template}
{signing}  update:
    path: {path}
"""

SOURCE = """\
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: apps}
spec:
  url: https://git.example.com/fleet.git
"""

NATIVE = """\
apiVersion: image-automation.io/v1alpha1
kind: ImageAutomation
metadata: {name: native, namespace: apps}
spec:
  git: {url: "file:///srv/fleet.git"}
  commit:
    author: {email: bot@example.com}
    messageTemplate: {template}
  update: {path: ./}
"""


def flux(template: str = '"Update images"', path: str = "./clusters", signing: str = "") -> str:
    return (
        FLUX.replace("{template}", template).replace("{path}", path).replace("{signing}", signing)
    )


def run(tmp_path: Path, text: str, *args: str) -> tuple[int, list[str]]:
    (tmp_path / "automation.yaml").write_text(text)
    result = CliRunner().invoke(root, ["validate", *args, str(tmp_path)])
    return result.exit_code, result.stdout.splitlines()


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        (flux('"{{ .Nope }}"'), 10, "spec.git.commit.messageTemplate",
         "can't evaluate field Nope in type source.TemplateData"),
        (flux('"{{ range .Changed }"'), 10, "spec.git.commit.messageTemplate", "template"),
        (flux(path="../outside"), 12, "spec.update.path", "must stay inside"),
        (NATIVE.replace("{template}", '"{{ changes | nosuchfilter }}"'), 8,
         "spec.commit.messageTemplate", "nosuchfilter"),
        (NATIVE.replace("{template}", '"{% for c in changes %}"'), 8,
         "spec.commit.messageTemplate", "line 1"),
    ],
)  # fmt: skip
def test_a_broken_automation_is_an_error_at_its_field(
    tmp_path: Path, text: str, line: int, field: str, message: str
) -> None:
    code, out = run(tmp_path, text + SOURCE)
    assert code == 1
    errors = [x for x in out if not x.startswith("warning:")]
    assert len(errors) == 1, out
    assert errors[0].startswith(f"{tmp_path}/automation.yaml:{line}: {field}: "), errors
    assert message in errors[0]


def test_a_good_template_and_its_repository_pass(tmp_path: Path) -> None:
    template = '"{{range .Changed.Changes}}{{.OldValue}} -> {{.NewValue}} {{end}}"'
    assert run(tmp_path, flux(template) + SOURCE) == (0, [])


def test_a_missing_git_repository_is_a_warning_that_repo_silences(tmp_path: Path) -> None:
    code, out = run(tmp_path, flux())
    assert code == 0
    assert out == [
        f"warning: {tmp_path}/automation.yaml:6: spec.sourceRef.name: GitRepository apps/fleet"
        " not found in the loaded files (or run with --repo)"
    ]
    assert run(tmp_path, flux(), "--repo", "file:///srv/fleet.git") == (0, [])


def test_the_template_is_still_checked_when_the_repository_is_missing(tmp_path: Path) -> None:
    code, out = run(tmp_path, flux('"{{ .Nope }}"'))
    assert code == 1
    assert out[0].startswith("warning: ")
    assert out[1].startswith(f"{tmp_path}/automation.yaml:10: spec.git.commit.messageTemplate")


def test_signing_key_files_are_checked_only_with_a_secrets_dir(tmp_path: Path) -> None:
    text = flux(signing="      signingKey: {secretRef: {name: gpg}}\n") + SOURCE
    policies = tmp_path / "p"
    policies.mkdir()
    assert run(policies, text) == (0, [])
    secrets = tmp_path / "secrets"
    (secrets / "gpg").mkdir(parents=True)
    code, out = run(policies, text, "--secrets-dir", str(secrets))
    assert code == 1
    assert "signing key: no file" in out[0] and "gpg/git.asc" in out[0]
    (secrets / "gpg" / "git.asc").write_text("key")
    assert run(policies, text, "--secrets-dir", str(secrets)) == (0, [])


TWO_AUTOMATIONS = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {name: apps, namespace: apps}
spec:
  interval: 30m
  sourceRef: {kind: GitRepository, name: fleet}
  git:
    commit:
      author: {email: bot@example.com}
      messageTemplate: |
        Automated image update

        {{ range .Changed.Changes }}{{ .Nope }}{{ end }}
  update: {path: ./}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {name: apps-legacy, namespace: apps}
spec:
  interval: 30m
  sourceRef: {kind: GitRepository, name: fleet}
  git:
    commit:
      author: {email: bot@example.com}
      messageTemplate: '{{ range .Updated.Images }}{{ . }}{{ end }}'
  update: {path: ./}
"""


def test_each_template_error_is_reported_at_its_own_file_line(tmp_path: Path) -> None:
    code, out = run(tmp_path, TWO_AUTOMATIONS + SOURCE)
    assert code == 1
    where = f"{tmp_path}/automation.yaml"
    template_errors = [x for x in out if "messageTemplate" in x]
    assert template_errors == [
        f"{where}:13: spec.git.commit.messageTemplate: commit message template, line 3, "
        "column 32: can't evaluate field Nope in type update.Change",
        f"{where}:25: spec.git.commit.messageTemplate: commit message template, line 1, "
        "column 10: template uses removed '.Updated' field. Please use '.Changed' instead. "
        "See: https://fluxcd.io/flux/components/image/imageupdateautomations/#message-template "
        "(migrate: .Updated.Images -> .Changed.Changes and each .NewValue, "
        ".Updated.Files -> .Changed.FileChanges, .Updated.Objects -> .Changed.Objects)",
    ]


def test_a_template_reading_image_result_passes_with_a_warning(tmp_path: Path) -> None:
    template = "'{{ range .Changed.ImageResult.Images }}{{ . }}{{ end }}'"
    code, out = run(tmp_path, flux(template) + SOURCE)
    assert code == 0
    assert out == [
        f"warning: {tmp_path}/automation.yaml:10: spec.git.commit.messageTemplate: template "
        "uses removed '.Changed.ImageResult' field. Please use '.Changed.FileChanges' or "
        "'.Changed.Objects' instead. See: "
        "https://fluxcd.io/flux/components/image/imageupdateautomations/#message-template "
        "(rendered here; current Flux refuses it)"
    ]


@pytest.mark.parametrize(
    ("text", "args", "where"),
    [
        (flux() + SOURCE.replace("https://", "https://alice:S3cret@"), (), "automation.yaml:18: "
         "spec.url: "),
        (NATIVE.replace("file:///srv", "https://alice:S3cret@git.example.com").replace(
            "{template}", '"Update"'), (), "automation.yaml:5: spec.git.url: "),
        (flux(), ("--repo", "https://alice:S3cret@git.example.com/fleet.git"), "--repo: "),
    ],
)  # fmt: skip
def test_a_git_url_with_a_password_is_refused_by_validate_without_showing_it(
    tmp_path: Path, text: str, args: tuple[str, ...], where: str
) -> None:
    code, out = run(tmp_path, text, *args)
    assert code == 1
    errors = [x for x in out if not x.startswith("warning:")]
    assert len(errors) == 1, out
    assert where in errors[0] and "embeds credentials" in errors[0]
    assert "alice:***@" in errors[0]
    assert "S3cret" not in "\n".join(out)
