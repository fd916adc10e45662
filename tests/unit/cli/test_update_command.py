"""The ``update`` command's contract: arguments, exit codes, JSON shape, dry run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from image_automation.cli import _commands, root

MARKED = 'image: ghcr.io/org/app:1.0 # {"$imagepolicy": "apps:app"}\n'
SET = "apps:app=ghcr.io/org/app:2.0"


@pytest.fixture(scope="module", autouse=True)
def _registered() -> None:
    _commands.register(root)


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(root, ["update", *args])
    return result.exit_code, result.stdout, result.stderr


def _tree(tmp_path: Path) -> Path:
    (tmp_path / "deploy/prod").mkdir(parents=True)
    (tmp_path / "deploy/prod/app.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: prod\n"
        "spec:\n  template:\n    spec:\n      containers:\n      - " + MARKED
    )
    (tmp_path / "deploy/broken.yaml").write_text(MARKED + "x: [\n")
    (tmp_path / "deploy/unknown.yaml").write_text(MARKED.replace("apps:app", "apps:nope"))
    return tmp_path / "deploy"


def test_json_output_is_exactly_changes_warnings_errors_with_paths_relative_to_path(
    tmp_path: Path,
) -> None:
    path = _tree(tmp_path)
    code, out, _ = _run(str(path), "--namespace", "apps", "--set", SET, "--output", "json")
    assert code == 1  # broken.yaml
    assert json.loads(out) == {
        "changes": [
            {
                "file": "prod/app.yaml",
                "line": 10,
                "api_version": "apps/v1",
                "kind": "Deployment",
                "namespace": "prod",
                "name": "web",
                "setter": "apps:app",
                "old": "ghcr.io/org/app:1.0",
                "new": "ghcr.io/org/app:2.0",
            }
        ],
        "warnings": ["unknown.yaml:1: unknown policy apps:nope"],
        "errors": ["broken.yaml:3: invalid YAML: did not find expected node content"],
    }
    assert "ghcr.io/org/app:2.0" in (path / "prod/app.yaml").read_text()


def test_dry_run_prints_a_unified_diff_and_writes_nothing(tmp_path: Path) -> None:
    path = _tree(tmp_path)
    before = (path / "prod/app.yaml").read_text()
    code, out, err = _run(str(path), "--namespace", "apps", "--set", SET, "--dry-run")
    assert code == 1  # broken.yaml
    assert (path / "prod/app.yaml").read_text() == before
    assert out.startswith("--- a/prod/app.yaml\n+++ b/prod/app.yaml\n@@ ")
    assert "-      - image: ghcr.io/org/app:1.0 #" in out
    assert "+      - image: ghcr.io/org/app:2.0 #" in out
    assert "would change 1 value(s); 1 warning(s), 1 error(s)" in err


def test_text_output_lists_changes(tmp_path: Path) -> None:
    path = _tree(tmp_path)
    code, out, _ = _run(str(path), "--namespace", "apps", "--set", SET)
    assert code == 1  # broken.yaml
    assert out == "prod/app.yaml:10: apps:app: ghcr.io/org/app:1.0 -> ghcr.io/org/app:2.0\n"


def test_include_narrows_the_files(tmp_path: Path) -> None:
    path = _tree(tmp_path)
    args = [str(path), "--namespace", "apps", "--set", SET, "--output", "json"]
    code, out, _ = _run(*args, "--include", "unknown.yaml")
    assert code == 0
    assert json.loads(out) == {
        "changes": [],
        "warnings": ["unknown.yaml:1: unknown policy apps:nope"],
        "errors": [],
    }


@pytest.mark.parametrize(
    "args",
    [
        ["--set", SET],  # no --namespace
        ["--namespace", "apps", "--set", "apps:app"],  # no image
        ["--namespace", "apps", "--set", "app=ghcr.io/org/app:2.0"],  # no namespace in key
        ["--namespace", "apps", "--set", "other:app=ghcr.io/org/app:2.0"],  # not visible
        ["--namespace", "apps", "--set", "apps:app=ghcr.io/org/app"],  # no tag
        ["--namespace", "apps", "--set", "apps:app=Not A Ref:1"],  # invalid reference
        ["--namespace", "apps", "--output", "yaml"],
        ["--namespace", "apps", "--max-file-size", "0"],
    ],
)
def test_bad_arguments_exit_2(tmp_path: Path, args: list[str]) -> None:
    code, _, err = _run(str(tmp_path), *args)
    assert code == 2
    assert "Usage:" in err


def test_missing_path_exits_2(tmp_path: Path) -> None:
    code, _, _ = _run(str(tmp_path / "absent"), "--namespace", "apps")
    assert code == 2


def test_help_shows_an_example() -> None:
    code, out, _ = _run("--help")
    assert code == 0
    assert "Example:" in out and "--set flux-system:podinfo=" in out


def test_the_documented_example_runs_as_described() -> None:
    """docs/manifests.md "Try it": six one-line changes, nothing written."""
    repo = Path(__file__).parents[3] / "examples/update/repo"
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()}
    code, out, _ = _run(
        str(repo),
        "--namespace",
        "flux-system",
        "--set",
        "flux-system:podinfo=ghcr.io/stefanprodan/podinfo:6.5.4",
        "--set",
        "flux-system:redis=redis:7.2.4",
        "--line-include",
        "Dockerfile",
        "--dry-run",
        "--output",
        "json",
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["warnings"] == [] and payload["errors"] == []
    assert sorted((c["file"], c["new"]) for c in payload["changes"]) == [
        ("apps/podinfo/deployment.yaml", "ghcr.io/stefanprodan/podinfo:6.5.4"),
        ("apps/podinfo/kustomization.yaml", "6.5.4"),
        ("apps/redis/helmrelease.yaml", "7.2.4"),
        ("build/Dockerfile", "ghcr.io/stefanprodan/podinfo:6.5.4"),
        ("build/compose.yaml", "ghcr.io/stefanprodan/podinfo:6.5.4"),
        ("build/compose.yaml", "redis:7.2.4"),
    ]
    assert {p: p.read_bytes() for p in repo.rglob("*") if p.is_file()} == before


def test_per_file_errors_exit_1_and_the_good_files_are_still_written(tmp_path: Path) -> None:
    path = _tree(tmp_path)
    code, _, err = _run(str(path), "--namespace", "apps", "--set", SET)
    assert code == 1
    assert "error: broken.yaml:3: invalid YAML" in err
    assert "ghcr.io/org/app:2.0" in (path / "prod/app.yaml").read_text()


def test_warnings_alone_exit_0(tmp_path: Path) -> None:
    (tmp_path / "unknown.yaml").write_text(MARKED.replace("apps:app", "apps:nope"))
    code, _, err = _run(str(tmp_path), "--namespace", "apps", "--set", SET)
    assert code == 0
    assert "warning: unknown.yaml:1: unknown policy apps:nope" in err


DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("ghcr.io/org/app:2.0@sha256:abc", "sha256 digest needs 64 lowercase hex characters"),
        ("ghcr.io/org/app:2.0@sha256:" + "A" * 64, "64 lowercase hex characters"),
        ("ghcr.io/org/app:2.0@sha256:" + "a" * 65, "64 lowercase hex characters"),
        ("ghcr.io/org/app:2.0@sha256:" + "g" * 64, "64 lowercase hex characters"),
        ("ghcr.io/org/app:2.0@sha256:", "invalid digest"),
        ("ghcr.io/org/app:2.0@sha512:" + "a" * 64, "sha512 digest needs 128 lowercase hex"),
        ("ghcr.io/org/app:2.0@md5:" + "a" * 32, "unsupported digest algorithm 'md5'"),
        ("ghcr.io/org/app:2.0@" + "a" * 64, "invalid digest"),
        ("ghcr.io/org/app:a;b", "not a valid OCI tag"),
        ("ghcr.io/org/app:$(id)", "not a valid OCI tag"),
        ("ghcr.io/org/app:" + "9" * 100_000, "not a valid OCI tag"),
    ],
)
def test_set_refuses_a_malformed_digest_or_tag(tmp_path: Path, image: str, message: str) -> None:
    (tmp_path / "app.yaml").write_text(MARKED)
    code, _, err = _run(str(tmp_path), "--namespace", "apps", "--set", f"apps:app={image}")
    assert code == 2
    assert message in err
    assert len(err) < 2000  # a hostile value is not echoed whole
    assert (tmp_path / "app.yaml").read_text() == MARKED


@pytest.mark.parametrize("digest", [DIGEST, "sha512:" + "b" * 128])
def test_set_takes_a_well_formed_digest(tmp_path: Path, digest: str) -> None:
    (tmp_path / "app.yaml").write_text(MARKED)
    code, _, err = _run(str(tmp_path), "--namespace", "apps", "--set", f"{SET}@{digest}")
    assert code == 0, err
    assert f"ghcr.io/org/app:2.0@{digest}" in (tmp_path / "app.yaml").read_text()


def test_dry_run_names_files_from_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()  # what marks a repository's root, for git too
    (tmp_path / "clusters/prod").mkdir(parents=True)
    (tmp_path / "clusters/prod/app.yaml").write_text(MARKED)
    path = tmp_path / "clusters"
    code, out, _ = _run(str(path), "--namespace", "apps", "--set", SET, "--dry-run")
    assert code == 0
    assert out.startswith("--- a/clusters/prod/app.yaml\n+++ b/clusters/prod/app.yaml\n")
    code, out, _ = _run(str(path), "--namespace", "apps", "--set", SET, "--output", "json")
    assert json.loads(out)["changes"][0]["file"] == "prod/app.yaml"  # JSON: relative to PATH
