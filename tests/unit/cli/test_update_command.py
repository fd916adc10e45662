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
    assert code == 0
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
    assert code == 0
    assert (path / "prod/app.yaml").read_text() == before
    assert out.startswith("--- a/prod/app.yaml\n+++ b/prod/app.yaml\n@@ ")
    assert "-      - image: ghcr.io/org/app:1.0 #" in out
    assert "+      - image: ghcr.io/org/app:2.0 #" in out
    assert "would change 1 value(s); 1 warning(s), 1 error(s)" in err


def test_text_output_lists_changes(tmp_path: Path) -> None:
    path = _tree(tmp_path)
    code, out, _ = _run(str(path), "--namespace", "apps", "--set", SET)
    assert code == 0
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
