"""``reconcile --once`` end to end: real registry, real git remote, the CLI as a subprocess."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from image_automation.state import PushRecord, SetterChange, open_store
from tests.e2e.reconcile.helpers import APP_FILE, CLI, app_manifest, fleet_files, run_reconcile
from tests.integration.git_fixtures import make_gpg_key, make_remote, run_git
from tests.integration.local_registry import LocalRegistry

pytestmark = pytest.mark.integration


def _last_push(state: Path, automation: str) -> PushRecord | None:
    async def read() -> PushRecord | None:
        async with await open_store(state) as store:
            return await store.last_push(automation)

    return asyncio.run(read())


def _repo_name(tmp_path: Path) -> str:
    return f"e2e-{tmp_path.name}-{os.urandom(3).hex()}"


def test_new_tag_becomes_one_line_commit_and_a_rerun_changes_nothing(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    repo = f"team/{_repo_name(tmp_path)}"
    registry.push(repo, "1.0.0")
    files = fleet_files(registry.host)
    files = {k: v.replace("team/app", repo) for k, v in files.items()}
    remote = make_remote(tmp_path / "fleet.git", files)
    seed = remote.head()

    first = run_reconcile(remote.url, tmp_path / "work")
    assert first.returncode == 0, first.stderr
    assert remote.head() == seed  # 1.0.0 is already in the file
    assert "apps/app: 1.0.0 selected; files already have it" in first.stdout

    registry.push(repo, "1.1.0", "0.9.0")
    second = run_reconcile(remote.url, tmp_path / "work")
    assert second.returncode == 0, second.stderr
    image = f"{registry.host}/{repo}"
    assert f"{APP_FILE}:11: apps:app: {image}:1.0.0 -> {image}:1.1.0" in second.stdout
    commits = remote.commits()
    assert [c.parents for c in commits] == [(seed,), ()]
    diff = remote.git("diff", "--unified=0", seed, "main")
    changed = [
        line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert changed == [
        f'-          image: {image}:1.0.0 # {{"$imagepolicy": "apps:app"}}',
        f'+          image: {image}:1.1.0 # {{"$imagepolicy": "apps:app"}}',
    ]
    # The Flux Go template rendered through our data.
    assert commits[0].author == "Image Bot <bot@example.test>"
    assert commits[0].body.startswith("Automated image update by apps/fleet\n")
    assert f"- apps:app: {image}:1.0.0 -> {image}:1.1.0" in commits[0].body

    record = _last_push(tmp_path / "work.state.db", "ImageUpdateAutomation/apps/fleet")
    assert record is not None and record.commit == commits[0].sha
    assert record.changes == (SetterChange("apps:app", f"{image}:1.0.0", f"{image}:1.1.0"),)

    third = run_reconcile(remote.url, tmp_path / "work")
    assert third.returncode == 0, third.stderr
    assert remote.head() == commits[0].sha  # idempotent: nothing new, no commit
    assert "no change" in third.stdout


def test_dry_run_prints_the_diff_and_pushes_nothing(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    repo = f"team/{_repo_name(tmp_path)}"
    registry.push(repo, "1.0.0", "2.0.0")
    files = {k: v.replace("team/app", repo) for k, v in fleet_files(registry.host).items()}
    remote = make_remote(tmp_path / "fleet.git", files)
    refs_before = remote.git("for-each-ref")

    done = run_reconcile(remote.url, tmp_path / "work", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert remote.git("for-each-ref") == refs_before
    assert f"--- a/{APP_FILE}" in done.stdout
    assert f"+          image: {registry.host}/{repo}:2.0.0" in done.stdout
    assert "would change (dry run)" in done.stdout


def test_a_broken_automation_does_not_stop_another(registry: LocalRegistry, tmp_path: Path) -> None:
    repo = f"team/{_repo_name(tmp_path)}"
    registry.push(repo, "1.0.0", "1.2.0")
    files = {k: v.replace("team/app", repo) for k, v in fleet_files(registry.host).items()}
    # bad-template edits its own file, so it has something to commit (the message is
    # rendered only then).
    files["staging/app.yaml"] = app_manifest(f"{registry.host}/{repo}:1.0.0")
    files["automation/broken.yaml"] = f"""\
apiVersion: image-automation.io/v1alpha1
kind: ImageAutomation
metadata: {{name: broken, namespace: apps}}
spec:
  git:
    url: file://{tmp_path}/no-such-remote.git
  commit:
    author: {{email: bot@example.test}}
---
apiVersion: image-automation.io/v1alpha1
kind: ImageAutomation
metadata: {{name: bad-template, namespace: apps}}
spec:
  commit:
    author: {{email: bot@example.test}}
    messageTemplate: "{{{{ no_such_variable }}}}"
  update: {{path: ./staging}}
"""
    remote = make_remote(tmp_path / "fleet.git", files)
    seed = remote.head()

    done = run_reconcile(remote.url, tmp_path / "work")
    assert done.returncode == 1
    assert "ImageAutomation/apps/broken: FAILED" in done.stdout
    assert "ImageAutomation/apps/bad-template: FAILED" in done.stdout
    assert "no_such_variable" in done.stdout
    assert "3 automation(s), 2 failed: " in done.stderr
    assert "ImageUpdateAutomation/apps/fleet: committed" in done.stdout
    assert [c.parents for c in remote.commits()] == [(seed,), ()]
    assert f"{registry.host}/{repo}:1.2.0" in remote.read(APP_FILE)


def test_policy_selector_limits_what_an_automation_touches(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    repo = f"team/{_repo_name(tmp_path)}"
    registry.push(repo, "1.0.0", "1.5.0")
    image = f"{registry.host}/{repo}"
    files = {k: v.replace("team/app", repo) for k, v in fleet_files(registry.host).items()}
    files["automation/automation.yaml"] = files["automation/automation.yaml"].replace(
        "  update: {path: ./clusters, strategy: Setters}\n",
        "  update: {path: ./clusters, strategy: Setters}\n"
        "  policySelector: {matchLabels: {team: other}}\n",
    )
    remote = make_remote(tmp_path / "fleet.git", files)
    seed = remote.head()
    done = run_reconcile(remote.url, tmp_path / "work")
    # The marker names a policy the selector hides: reported, not written.
    assert remote.head() == seed
    assert "unknown policy apps:app" in done.stdout
    assert f"{image}:1.5.0" not in remote.read(APP_FILE)


def test_push_branch_gets_the_commit_and_the_checkout_branch_stays(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    repo = f"team/{_repo_name(tmp_path)}"
    registry.push(repo, "1.0.0", "1.0.1")
    files = {k: v.replace("team/app", repo) for k, v in fleet_files(registry.host).items()}
    files["automation/automation.yaml"] = files["automation/automation.yaml"].replace(
        "push: {branch: main}", "push: {branch: image-updates}"
    )
    remote = make_remote(tmp_path / "fleet.git", files)
    seed = remote.head()
    done = run_reconcile(remote.url, tmp_path / "work")
    assert done.returncode == 0, done.stderr
    assert remote.head() == seed
    assert remote.commits("image-updates")[1].sha == seed
    assert ":1.0.1" in remote.read(APP_FILE, ref="image-updates")
    run_git("--git-dir", str(remote.path), "rev-parse", "image-updates")


def test_flux_signing_key_from_the_secrets_dir_signs_the_commit(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    repo = f"team/{_repo_name(tmp_path)}"
    registry.push(repo, "1.0.0", "1.0.2")
    files = {k: v.replace("team/app", repo) for k, v in fleet_files(registry.host).items()}
    files["automation/automation.yaml"] = files["automation/automation.yaml"].replace(
        "      author: {name: Image Bot, email: bot@example.test}\n",
        "      author: {name: Image Bot, email: bot@example.test}\n"
        "      signingKey: {secretRef: {name: signing}}\n",
    )
    remote = make_remote(tmp_path / "fleet.git", files)
    key = make_gpg_key(tmp_path)
    try:
        secrets = tmp_path / "secrets"
        (secrets / "signing").mkdir(parents=True)
        (secrets / "signing" / "git.asc").write_bytes(key.secret_key_file.read_bytes())
        done = run_reconcile(remote.url, tmp_path / "work", "--secrets-dir", str(secrets))
        assert done.returncode == 0, done.stdout + done.stderr
        signed = remote.git(
            "log", "-1", "--format=%G? %GF", "main", env={"GNUPGHOME": str(key.home)}
        ).split()
    finally:
        key.close()
    assert signed == ["G", key.fingerprint]


def test_help_shows_an_example_and_bad_arguments_exit_2(tmp_path: Path) -> None:
    shown = subprocess.run([str(CLI), "reconcile", "--help"], capture_output=True, text=True)
    assert shown.returncode == 0
    assert "Example" in shown.stdout and "reconcile --once --repo" in shown.stdout
    missing_once = subprocess.run(
        [str(CLI), "reconcile", "--repo", "file:///nowhere"], capture_output=True, text=True
    )
    assert missing_once.returncode == 2
    nothing = subprocess.run([str(CLI), "reconcile", "--once"], capture_output=True, text=True)
    assert nothing.returncode == 2
    assert "give --repo URL, --config PATH, or both" in nothing.stderr
