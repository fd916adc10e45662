"""reconcile under faults: a push race, SIGKILL at every git step, credentials kept secret."""

from __future__ import annotations

import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.reconcile.helpers import APP_FILE, REPO_ROOT, fleet_files, run_reconcile
from tests.integration.git_fixtures import GitRemote, HttpGitServer, make_remote
from tests.integration.local_registry import LocalRegistry

pytestmark = pytest.mark.integration

# Counts hook events in the client clone; at event $IA_KILL_AT kills the whole process group.
KILL_HOOK = """#!/bin/sh
cat >/dev/null
[ "$(git rev-parse --is-bare-repository 2>/dev/null)" = "true" ] && exit 0
n=$(( $(cat "$IA_KILL_COUNTER" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$IA_KILL_COUNTER"
[ "$n" = "$IA_KILL_AT" ] && kill -9 0
exit 0
"""

# Before our first push, another writer lands a commit on the remote (between fetch and push).
RACE_HOOK = """#!/bin/sh
[ -e "$IA_RACE_DONE" ] && exit 0
touch "$IA_RACE_DONE"
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_PREFIX
cd "$IA_REPO_ROOT" && exec "$IA_PYTHON" -c "
import sys
from pathlib import Path
from tests.integration.git_fixtures import GitRemote
GitRemote(Path(sys.argv[1])).commit_files({'other.txt': 'theirs\\n'}, 'Someone else')
" "$IA_REMOTE"
"""


def _hooks(directory: Path, text: str, names: tuple[str, ...]) -> Path:
    directory.mkdir()
    for name in names:
        hook = directory / name
        hook.write_text(text)
        hook.chmod(0o755)
    return directory


def _hook_env(hooks: Path, **extra: str) -> dict[str, str]:
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "core.hooksPath",
        "GIT_CONFIG_VALUE_0": str(hooks),
        **extra,
    }


def _fleet(registry: LocalRegistry, path: Path, tags: tuple[str, ...]) -> tuple[GitRemote, str]:
    repo = f"team/{path.name}-{os.urandom(3).hex()}"
    registry.push(repo, *tags)
    files = {k: v.replace("team/app", repo) for k, v in fleet_files(registry.host).items()}
    return make_remote(path, files), f"{registry.host}/{repo}"


def test_commit_landing_between_fetch_and_push_is_kept_and_ours_is_reapplied_once(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    remote, image = _fleet(registry, tmp_path / "fleet.git", ("1.0.0", "1.3.0"))
    seed = remote.head()
    hooks = _hooks(tmp_path / "hooks", RACE_HOOK, ("pre-push",))
    env = _hook_env(
        hooks,
        IA_RACE_DONE=str(tmp_path / "raced"),
        IA_REPO_ROOT=str(REPO_ROOT),
        IA_PYTHON=sys.executable,
        IA_REMOTE=str(remote.path),
    )
    done = run_reconcile(remote.url, tmp_path / "work", env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "raced").exists()  # the race really happened
    ours, theirs, first = remote.commits()
    assert first.sha == seed
    assert theirs.subject == "Someone else" and theirs.parents == (seed,)
    assert ours.parents == (theirs.sha,)  # rebuilt on top: no merge commit, no duplicate
    assert ours.subject.startswith("Automated image update")
    assert remote.read("other.txt") == "theirs\n"
    assert f"image: {image}:1.3.0" in remote.read(APP_FILE)


def _assert_one_correct_commit(remote: GitRemote, seed: str, image: str) -> None:
    commits = remote.commits()
    assert [c.parents for c in commits] == [(seed,), ()], [c.subject for c in commits]
    assert f"{image}:1.0.0 -> {image}:2.0.0" in commits[0].body
    assert f"image: {image}:2.0.0" in remote.read(APP_FILE)


def test_sigkill_at_every_git_step_then_next_run_leaves_exactly_one_commit(
    registry: LocalRegistry, http_git_server: HttpGitServer, tmp_path: Path
) -> None:
    hooks = _hooks(
        tmp_path / "hooks", KILL_HOOK, ("reference-transaction", "post-checkout", "pre-push")
    )

    def case(number: int, kill_at: str) -> tuple[int, int]:
        root = tmp_path / f"case-{number}"
        root.mkdir()
        served = http_git_server.root / f"reconcile-kill-{tmp_path.name}-{number}.git"
        remote, image = _fleet(registry, served, ("1.0.0", "2.0.0"))
        seed = remote.head()
        secrets = root / "secrets" / "fleet"
        secrets.mkdir(parents=True)
        (secrets / "username").write_text(http_git_server.username)
        (secrets / "password").write_text(http_git_server.password)
        args = ("--secrets-dir", str(root / "secrets"), "--git-secret", "fleet")
        url = http_git_server.url_for(remote)
        env = _hook_env(hooks, IA_KILL_COUNTER=str(root / "counter"), IA_KILL_AT=kill_at)
        first = run_reconcile(url, root / "work", *args, env=env)
        events = int((root / "counter").read_text())
        if kill_at == "none":
            assert first.returncode == 0, first.stderr
            _assert_one_correct_commit(remote, seed, image)
            return events, 0
        assert first.returncode == -signal.SIGKILL, (kill_at, first.stdout, first.stderr)
        assert len(remote.commits()) in (1, 2)  # untouched or one complete commit
        env["IA_KILL_AT"] = "none"
        rerun = run_reconcile(url, root / "work", *args, env=env)
        assert rerun.returncode == 0, (kill_at, rerun.stdout, rerun.stderr)
        _assert_one_correct_commit(remote, seed, image)
        return events, 1

    events, _ = case(0, "none")
    assert events >= 5  # clone, checkouts, commit, push: all observed
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda n: case(n, str(n)), range(1, events + 1)))
    assert [killed for _, killed in results] == [1] * events


@pytest.mark.parametrize("kind", ["basic", "bearer"])
def test_no_credential_in_output_logs_urls_or_git_config(
    kind: str, registry: LocalRegistry, http_git_server: HttpGitServer, tmp_path: Path
) -> None:
    served = http_git_server.root / f"reconcile-secret-{kind}-{tmp_path.name}.git"
    remote, image = _fleet(registry, served, ("1.0.0", "1.1.0"))
    secrets = tmp_path / "secrets"
    good, bad = secrets / "good", secrets / "bad"
    good.mkdir(parents=True)
    bad.mkdir()
    if kind == "basic":
        secret = http_git_server.password
        (good / "username").write_text(http_git_server.username)
        (good / "password").write_text(secret)
        wrong = "wrong-Secr3t-password-value"
        (bad / "username").write_text(http_git_server.username)
        (bad / "password").write_text(wrong)
    else:
        secret = http_git_server.token
        (good / "bearerToken").write_text(secret)
        wrong = "wrong-Secr3t-bearer-value"
        (bad / "bearerToken").write_text(wrong)
    url = http_git_server.url_for(remote)
    work = tmp_path / "work"
    ok = run_reconcile(url, work, "--secrets-dir", str(secrets), "--git-secret", "good", "-v")
    assert ok.returncode == 0, ok.stderr
    assert f"image: {image}:1.1.0" in remote.read(APP_FILE)
    failed = run_reconcile(url, work, "--secrets-dir", str(secrets), "--git-secret", "bad", "-v")
    assert failed.returncode == 1
    assert "error:" in failed.stderr
    texts = [ok.stdout, ok.stderr, failed.stdout, failed.stderr]
    for value in (secret, wrong):
        for text in texts:
            assert value not in text
        for path in work.rglob("*"):
            if path.is_file():
                assert value.encode() not in path.read_bytes(), path
    for config in work.rglob(".git/config"):
        text = config.read_text()
        assert "@" not in text.split("url = ", 1)[-1].splitlines()[0]
