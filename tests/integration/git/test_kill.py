"""kill -9 at every git step of a run: the next run repairs the work dir and ends with
exactly one correct commit on the remote (never zero, never two, never a merge).

The worker is a real subprocess in its own process group. Kill points are git hook events in
the client clone (reference-transaction, post-checkout, pre-push) counted across a clean run,
plus one kill from inside ``apply()``; at each point the whole group (python and git) dies.
The remote is served over smart HTTP from this process, so the "server" survives the kill.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.integration.git.helpers import APP_FILE
from tests.integration.git_fixtures import GitRemote, HttpGitServer, make_remote

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[3]
HOOK = """#!/bin/sh
cat >/dev/null
[ "$(git rev-parse --is-bare-repository 2>/dev/null)" = "true" ] && exit 0
n=$(( $(cat "$IA_KILL_COUNTER" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$IA_KILL_COUNTER"
echo "$n $(basename "$0") $*" >> "$IA_KILL_COUNTER.log"
[ "$n" = "$IA_KILL_AT" ] && kill -9 0
exit 0
"""


def _hooks(directory: Path) -> Path:
    directory.mkdir()
    for name in ("reference-transaction", "post-checkout", "pre-push"):
        hook = directory / name
        hook.write_text(HOOK)
        hook.chmod(0o755)
    return directory


def _run_worker(
    server: HttpGitServer, remote: GitRemote, work: Path, hooks: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "IA_TEST_USERNAME": server.username,
        "IA_TEST_PASSWORD": server.password,
        "IA_KILL_COUNTER": str(work.parent / "counter"),
        "TMPDIR": str(work.parent / "tmp"),
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "core.hooksPath",
        "GIT_CONFIG_VALUE_0": str(hooks),
        **extra,
    }
    return subprocess.run(
        [sys.executable, "-m", "tests.integration.git.kill_worker",
         server.url_for(remote), str(work), "2.0.0"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
        start_new_session=True, check=False,
    )  # fmt: skip


def _assert_exactly_one_correct_commit(remote: GitRemote, seed: str, old: str = "1.0.0") -> None:
    commits = remote.commits()
    parents = [c.parents for c in commits]
    assert parents[0] == (seed,) and parents[-1] == (), [c.subject for c in commits]
    assert commits[1].sha == seed, [c.subject for c in commits]
    assert f"registry.local/app:{old} -> registry.local/app:2.0.0" in commits[0].body
    assert "image: registry.local/app:2.0.0" in remote.read(APP_FILE)


def _warm_up(server: HttpGitServer, remote: GitRemote, work: Path, hooks: Path) -> str:
    """A finished run (1.0.0 -> 1.5.0) in ``work``: it leaves a clean mark. Its head."""
    done = _run_worker(server, remote, work, hooks, IA_KILL_AT="none", IA_TAG="1.5.0")
    assert done.returncode == 0, done.stderr
    for counter in work.parent.glob("counter*"):
        counter.unlink()
    return remote.head()


def _count_events(server: HttpGitServer, root: Path, hooks: Path, *, warm: bool = False) -> int:
    remote = make_remote(server.root / f"kill-count-{os.getpid()}-{root.name}-{warm}.git")
    probe = root / f"count-{warm}"
    (probe / "tmp").mkdir(parents=True)
    seed = _warm_up(server, remote, probe / "work", hooks) if warm else remote.head()
    done = _run_worker(server, remote, probe / "work", hooks, IA_KILL_AT="none")
    assert done.returncode == 0, done.stderr
    _assert_exactly_one_correct_commit(remote, seed, "1.5.0" if warm else "1.0.0")
    return int((probe / "counter").read_text())


def test_kill_at_every_step_then_next_run_leaves_exactly_one_commit(
    http_git_server: HttpGitServer, tmp_path: Path
) -> None:
    hooks = _hooks(tmp_path / "hooks")
    events = _count_events(http_git_server, tmp_path, hooks)
    assert events >= 5  # clone, checkout, commit, push ... all observed
    points: list[dict[str, str]] = [{"IA_KILL_AT": str(n)} for n in range(1, events + 1)]
    points.append({"IA_KILL_IN_APPLY": "1", "IA_KILL_AT": "none"})
    with ThreadPoolExecutor(max_workers=4) as pool:  # cases are independent: own remote, dir
        outcomes = list(
            pool.map(
                lambda case: _kill_then_rerun(http_git_server, tmp_path, hooks, *case),
                enumerate(points),
            )
        )
    assert len(outcomes) == len(points)


def test_kill_at_every_step_of_a_run_on_a_clean_marked_work_dir(
    http_git_server: HttpGitServer, tmp_path: Path
) -> None:
    """The same on the fast path: a finished run left the work dir clean and marked."""
    hooks = _hooks(tmp_path / "hooks")
    events = _count_events(http_git_server, tmp_path, hooks, warm=True)
    assert events >= 3  # commit, push, remote-tracking ref update
    points: list[dict[str, str]] = [{"IA_KILL_AT": str(n)} for n in range(1, events + 1)]
    points.append({"IA_KILL_IN_APPLY": "1", "IA_KILL_AT": "none"})
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(
            pool.map(
                lambda case: _kill_then_rerun(http_git_server, tmp_path, hooks, *case, warm=True),
                enumerate(points),
            )
        )
    assert len(outcomes) == len(points)


def _kill_then_rerun(
    server: HttpGitServer,
    root: Path,
    hooks: Path,
    number: int,
    point: dict[str, str],
    *,
    warm: bool = False,
) -> None:
    case = root / f"case-{number}-{warm}"
    (case / "tmp").mkdir(parents=True)
    remote = make_remote(server.root / f"kill-{root.name}-{number}-{warm}.git")
    seed = _warm_up(server, remote, case / "work", hooks) if warm else remote.head()
    killed = _run_worker(server, remote, case / "work", hooks, **point)
    assert killed.returncode == -signal.SIGKILL, (point, killed.stdout, killed.stderr)
    after_kill = remote.commits()
    before = 2 if warm else 1
    assert len(after_kill) in (before, before + 1)  # untouched, or one complete commit

    secrets_left = list((case / "tmp").rglob("password"))
    rerun = _run_worker(server, remote, case / "work", hooks, IA_KILL_AT="none")
    assert rerun.returncode == 0, (point, rerun.stderr)
    # The killed run left its askpass files behind; the next run removes them.
    assert len(secrets_left) == 1
    assert not list((case / "tmp").rglob("*"))
    _assert_exactly_one_correct_commit(remote, seed, "1.5.0" if warm else "1.0.0")
    assert rerun.stdout.strip() == ("no-change" if len(after_kill) > before else remote.head())


def test_two_processes_on_one_work_dir_serialise_and_commit_once(
    http_git_server: HttpGitServer, tmp_path: Path
) -> None:
    hooks = _hooks(tmp_path / "hooks")
    (tmp_path / "tmp").mkdir()
    remote = make_remote(http_git_server.root / f"two-procs-{tmp_path.name}.git")
    seed = remote.head()
    work = tmp_path / "work"
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(
            pool.map(
                lambda _: _run_worker(http_git_server, remote, work, hooks, IA_KILL_AT="none"),
                range(2),
            )
        )
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    assert sorted(r.stdout.strip() == "no-change" for r in runs) == [False, True]
    _assert_exactly_one_correct_commit(remote, seed)
