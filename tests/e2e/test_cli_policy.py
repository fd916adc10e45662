"""The `policy select` and `validate` contract: stdout, stderr, exit codes, JSON keys."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from image_automation.cli import root
from image_automation.cli._commands import register

ROOT = Path(__file__).resolve().parents[2]
PODINFO = ROOT / "policies" / "flux" / "podinfo.yaml"
PODINFO_TAGS = ROOT / "examples" / "tags" / "ghcr.io_stefanprodan_podinfo.txt"

register(root)


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(root, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


REPO = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: app}
spec:
  image: registry.example.com/app
"""


def policy(body: str) -> str:
    return (
        REPO
        + "---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\n"
        + "metadata: {name: app}\nspec:\n  imageRepositoryRef: {name: app}\n"
        + body
    )


def test_select_prints_the_winning_tag() -> None:
    code, out, err = run(
        "policy", "select", "--policy", str(PODINFO), "--tags-from", str(PODINFO_TAGS)
    )
    assert (code, out) == (0, "6.10.0\n"), err


def test_select_reads_tags_from_stdin() -> None:
    code, out, _ = run(
        "policy", "select", "--policy", str(PODINFO), "--tags-from", "-", stdin="6.0.0\n6.2.0\n"
    )
    assert (code, out) == (0, "6.2.0\n")


def test_json_output_has_tag_considered_and_skipped() -> None:
    code, out, _ = run(
        "policy",
        "select",
        "--policy",
        str(PODINFO),
        "--tags-from",
        str(PODINFO_TAGS),
        "--output",
        "json",
    )
    assert code == 0
    payload = json.loads(out)
    assert set(payload) == {"tag", "considered", "skipped"}
    assert payload["tag"] == "6.10.0"
    assert "6.5.4.sig" not in payload["considered"]
    assert "latest" in payload["considered"]
    assert "6.5.4.sig" in payload["skipped"]
    assert "latest" in payload["skipped"]
    assert "7.0.0" in payload["skipped"]
    assert "6.10.0" not in payload["skipped"]
    all_tags = {line.split()[0] for line in PODINFO_TAGS.read_text().splitlines() if line}
    assert set(payload["skipped"]) == all_tags - {"6.10.0"}


def test_nothing_qualifies_exits_3_with_the_reason_on_stderr() -> None:
    code, out, err = run(
        "policy", "select", "--policy", str(PODINFO), "--tags-from", "-", stdin="1.0.0\nlatest\n"
    )
    assert code == 3
    assert out == ""
    assert "apps/podinfo" in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            policy("  policy:\n    semver: {range: '>=1.0.0 <<2'}\n"),
            "policy.yaml:13: spec.policy.semver.range",
        ),
        (
            policy("  policy:\n    numerical: {order: asc}\n  filterTags: {pattern: '(?<=x)a'}\n"),
            "policy.yaml:14: spec.filterTags.pattern",
        ),
        (
            policy("  policy:\n    semver: {range: '1.x'}\n").replace(
                "imageRepositoryRef: {name: app}", "imageRepositoryRef: {name: other}"
            ),
            "policy.yaml:11: spec.imageRepositoryRef.name: ImageRepository/default/other not found",
        ),
        (
            policy("  policy:\n    semver: {range: '1.x'}\n  colour: red\n"),
            "policy.yaml:14: spec.colour: unknown field",
        ),
        ("kind: [\n", "policy.yaml:2: not valid YAML"),
    ],
)
def test_invalid_policy_exits_2_with_file_and_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    code, out, err = run(
        "policy", "select", "--policy", str(path), "--tags-from", "-", stdin="1.0.0\n"
    )
    assert code == 2
    assert out == ""
    assert f"{tmp_path}/{expected}" in err, err


def test_several_policies_need_a_name() -> None:
    files = ROOT / "policies" / "flux" / "build-number.yaml"
    tags = ROOT / "examples" / "tags" / "registry.example.com_team_webapp.txt"
    code, _, err = run("policy", "select", "--policy", str(files), "--tags-from", str(tags))
    assert code == 2
    assert "apps/webapp" in err and "apps/webapp-calver" in err
    code, out, _ = run(
        "policy", "select", "--policy", str(files), "--tags-from", str(tags), "--name", "webapp"
    )
    assert (code, out) == (0, "main-7be01d2-102\n")
    code, out, _ = run(
        "policy",
        "select",
        "--policy",
        str(files),
        "--tags-from",
        str(tags),
        "--name",
        "apps/webapp-calver",
    )
    assert (code, out) == (0, "release-2026-11-02\n")


def test_native_gates_are_applied_as_of_now() -> None:
    files = ROOT / "policies" / "native" / "nginx.yaml"
    tags = ROOT / "examples" / "tags" / "docker.io_library_nginx.txt"
    args = [
        "policy",
        "select",
        "--policy",
        str(files),
        "--tags-from",
        str(tags),
        "--output",
        "json",
    ]
    code, out, _ = run(*args, "--now", "2026-11-22T00:00:00Z")
    payload = json.loads(out)
    assert code == 0
    assert payload["tag"] == "1.25.3-alpine"
    assert "minAge" in payload["skipped"]["1.25.4-alpine"]
    assert "1.25.4" in payload["skipped"]  # no -alpine suffix
    assert "1.26.0-alpine" in payload["skipped"]  # outside ~1.25
    code, out, _ = run(*args, "--now", "2026-11-30T00:00:00Z")
    assert json.loads(out)["tag"] == "1.25.4-alpine"


def test_validate_passes_on_the_shipped_policies() -> None:
    code, out, err = run("validate", str(ROOT / "policies"))
    assert code == 0, out
    assert "0 problems" in err


def test_validate_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(policy("  policy:\n    semver: {range: 'nope'}\n"))
    (tmp_path / "b.yaml").write_text("x: [\n")
    bad_image = REPO.replace("registry.example.com/app", "UPPER/case").replace("app}", "other}")
    (tmp_path / "c.yaml").write_text(bad_image)
    code, out, _ = run("validate", str(tmp_path))
    assert code == 1
    lines = out.splitlines()
    assert any(line.startswith(f"{tmp_path}/a.yaml:13: spec.policy.semver.range") for line in lines)
    assert any(line.startswith(f"{tmp_path}/b.yaml:2: not valid YAML") for line in lines)
    assert any(line.startswith(f"{tmp_path}/c.yaml:5: spec.image") for line in lines)


def test_console_script_runs_with_version_and_help() -> None:
    exe = Path(sys.executable).with_name("image-automation")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("image-automation, version ")
    for command in (["policy", "select"], ["validate"]):
        shown = subprocess.run(
            [exe, *command, "--help"], capture_output=True, text=True, check=True
        )
        assert "Example:" in shown.stdout


def test_bad_arguments_exit_2() -> None:
    code, _, _ = run("policy", "select", "--tags-from", "-")
    assert code == 2


def test_select_from_the_state_store_uses_the_last_good_scan(tmp_path: Path) -> None:
    import asyncio
    from datetime import UTC, datetime

    from image_automation.domain import TagInfo
    from image_automation.state import open_store

    state = tmp_path / "state.db"

    async def seed() -> None:
        async with await open_store(state) as store:
            tags = [TagInfo(name=n) for n in ("6.0.0", "6.4.1", "7.0.0", "6.4.1.sig")]
            now = datetime(2026, 11, 1, tzinfo=UTC)
            await store.replace_tags("ghcr.io/stefanprodan/podinfo", tags, now=now)

    asyncio.run(seed())
    code, out, err = run("policy", "select", "--policy", str(PODINFO), "--state", str(state))
    assert (code, out) == (0, "6.4.1\n"), err


def test_select_from_a_never_scanned_repository_is_an_error(tmp_path: Path) -> None:
    code, out, err = run(
        "policy", "select", "--policy", str(PODINFO), "--state", str(tmp_path / "empty.db")
    )
    assert code == 2
    assert out == ""
    assert "no successful scan of ghcr.io/stefanprodan/podinfo" in err


def test_select_needs_exactly_one_tag_source(tmp_path: Path) -> None:
    code, _, err = run("policy", "select", "--policy", str(PODINFO))
    assert code == 2
    assert "exactly one of --tags-from and --state" in err
