"""``promote --once`` itself: the report per stage, ``--dry-run`` reading only (the pull
request it would open, its diff), a broken stage failing the run with its reason, and every
path option relative or absolute."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from image_automation.cli import root
from tests.e2e.promotion.fleet import (
    IMAGE,
    SECRET,
    PromoFleet,
    digest,
    policy_doc,
    promotion_doc,
)

pytestmark = pytest.mark.integration

HEAD = "image-automation/promote-web-staging"
STAGES = """\
    - {name: dev, path: clusters/dev}
    - {name: staging, path: clusters/staging}
"""
ONE, TWO = f"{IMAGE}:1.0.0@{digest('1.0.0')}", f"{IMAGE}:1.1.0@{digest('1.1.0')}"


def _seed(fleet: PromoFleet, stages: str = STAGES) -> None:
    files = fleet.stage_files(["dev", "staging"], ONE)
    files["automation/policies.yaml"] = policy_doc()
    files["automation/promotion.yaml"] = promotion_doc(fleet.fake, stages)
    fleet.seed(files)
    fleet.set_stage("dev", TWO)


def test_a_dry_run_prints_the_pull_request_and_writes_nothing(github_fleet: PromoFleet) -> None:
    fleet = github_fleet
    _seed(fleet)
    fleet.fake.reset_requests()
    dry = fleet.cli("--dry-run")
    out = dry.stdout
    assert f"    branch {HEAD}: would-open" in out, out
    assert f"      title: promote(staging): {IMAGE} 1.1.0 from dev" in out
    assert "        Promotion `Promotion/apps/web` moves 1 image from **dev** to **staging**" in out
    assert "+          image: " + TWO in out  # the diff
    assert fleet.writes() == [] and HEAD not in fleet.fake.repo.branches()
    assert "1 promotion(s), 0 failed" in dry.stderr

    real = fleet.cli()
    (pr,) = fleet.pulls()
    assert f"    branch {HEAD}: opened #{pr.number} " in real.stdout, real.stdout
    assert (
        "    apps/web 1.1.0@sha256:" in real.stdout and ": ready: dev has had it for" in real.stdout
    )


def test_a_stage_without_a_marker_fails_the_run_and_says_where(github_fleet: PromoFleet) -> None:
    fleet = github_fleet
    stages = STAGES + "    - {name: prod, path: clusters/prod}\n"
    _seed(fleet, stages)
    fleet.fake.move_base({"clusters/prod/app.yaml": "kind: ConfigMap\n"}, "prod has no marker")
    done = fleet.cli(ok=False)
    assert done.returncode == 1, done.stdout
    assert "prod holds no marker of apps:web under clusters/prod" in done.stdout
    assert f"branch {HEAD}: opened" in done.stdout  # staging went on regardless
    assert "1 failed: Promotion/apps/web" in done.stderr


@pytest.mark.parametrize("form", ["relative", "absolute"])
def test_repo_config_secrets_work_dir_and_state_paths_work_relative_or_absolute(
    github_fleet: PromoFleet, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    """The Promotion in --config, and --secrets-dir, --work-dir, --state: each relative to the
    current directory or not."""
    fleet = github_fleet
    files = fleet.stage_files(["dev", "staging"], ONE)
    files["automation/policies.yaml"] = policy_doc()
    fleet.seed(files)
    fleet.set_stage("dev", TWO)
    (fleet.root / "promotion.yaml").write_text(promotion_doc(fleet.fake, STAGES))
    here = fleet.root / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)

    def where(path: Path) -> str:
        return os.path.relpath(path, here) if form == "relative" else str(path)

    argv = ["promote", "--once", "--repo", fleet.git.url,
            "--config", where(fleet.root / "promotion.yaml"),
            "--secrets-dir", where(fleet.secrets_dir), "--git-secret", SECRET,
            "--work-dir", where(here / "w"),
            "--state", where(here / "s.db")]  # fmt: skip
    done = CliRunner().invoke(root, argv, catch_exceptions=False)
    assert done.exit_code == 0, done.stdout + done.stderr
    (pr,) = fleet.pulls()
    assert f"branch {HEAD}: opened #{pr.number}" in done.stdout, done.stdout
    assert fleet.marked("staging", HEAD) == TWO
    assert (here / "w").is_dir() and (here / "s.db").is_file()


def test_a_local_repo_path_is_refused_saying_a_pull_request_needs_a_forge(
    github_fleet: PromoFleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--repo as a relative path to the very repository the fake serves: read, but a pull
    request needs the forge's own URL of it (owner/name), and the error says so."""
    fleet = github_fleet
    _seed(fleet)
    monkeypatch.chdir(fleet.root)
    argv = ["promote", "--once", "--repo", os.path.relpath(fleet.fake.repo.path, fleet.root),
            "--secrets-dir", "secrets", "--git-secret", SECRET, "--work-dir", "w",
            "--state", "s.db"]  # fmt: skip
    done = CliRunner().invoke(root, argv, catch_exceptions=False)
    assert done.exit_code == 1, done.stdout + done.stderr
    assert "stage 'staging': its repository is a local path, not a forge's URL" in done.stdout
    assert fleet.pulls() == [] and HEAD not in fleet.fake.repo.branches()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--branch", "--upload-pack=touch pwned"], "is not a valid branch name"),
        (["--branch", "ma\nin"], "is not a valid branch name"),
        (["--repo", "ext::sh -c touch% pwned"], "transport 'ext' not allowed"),
    ],
    ids=["branch-option", "branch-newline", "ext-transport"],
)
def test_a_hostile_repo_or_branch_fails_the_run_and_runs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], said: str
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["promote", "--once", "--repo", str(tmp_path / "none.git"), "--work-dir", "w",
            "--state", "s.db", *args]  # fmt: skip
    done = CliRunner().invoke(root, argv, catch_exceptions=False)
    assert done.exit_code == 1 and said in done.stderr, done.stdout + done.stderr
    assert not (tmp_path / "pwned").exists()
