"""``reconcile --once`` killed with SIGKILL at five points of a pull-request run, on each fake
forge: the next run ends with exactly one pull request, for the newest version, and no branch
but its own.

The kill comes from where the run is at that moment, not from a timer: the fake forge's bare
repository kills the run's process group from its ``post-receive`` hook (the push has landed),
or the fake's API does when the given request arrives (answering 503: it never happened) or
right after it handled it (it happened; the answer is lost).
"""

from __future__ import annotations

import os
import signal
import stat
import sys
from collections.abc import Callable
from typing import Literal

import pytest

from tests.e2e.pullrequests.fleet import PrFleet, flux_automation
from tests.forges.server import Call, Reply

pytestmark = pytest.mark.integration

HEAD = "image-automation/fleet"
Point = Literal["pushed", "creating", "created", "pushed-update", "updating"]
POINTS: tuple[Point, ...] = ("pushed", "creating", "created", "pushed-update", "updating")
UPDATES = ("update_pull", "update_mr", "edit_pull", "update_pr")


def _kill_after_push(fleet: PrFleet) -> Callable[[int], None]:
    """Arm the bare repository's post-receive hook to SIGKILL a process group once."""
    target = fleet.root / "kill-pgid"
    hook = fleet.fake.repo.path / "hooks" / "post-receive"
    hook.write_text(
        f"#!{sys.executable}\n"
        "import os, pathlib, signal, sys\n"
        "sys.stdin.read()\n"
        f"target = pathlib.Path({str(target)!r})\n"
        "if target.exists():\n"
        "    pgid = int(target.read_text())\n"
        "    target.unlink()\n"
        "    os.killpg(pgid, signal.SIGKILL)\n"
    )
    hook.chmod(hook.stat().st_mode | stat.S_IEXEC)
    return lambda pgid: target.write_text(str(pgid))


def _kill_at_request(
    fleet: PrFleet, handlers: tuple[str, ...], *, before: bool
) -> Callable[[int], None]:
    """SIGKILL a process group when the fake gets the first request for one of ``handlers``:
    ``before`` handling it (and answer 503), or right after."""
    fake, armed = fleet.fake, {"pgid": 0}
    original = fake.dispatch

    def dispatch(call: Call) -> Reply:
        pgid = armed["pgid"]
        if not pgid or fake.routes.get(call.op.key) not in handlers:
            return original(call)
        armed["pgid"] = 0
        if before:
            os.killpg(pgid, signal.SIGKILL)
            return Reply(503, fake.error_body(503, "killed"), checked=False)
        reply = original(call)
        os.killpg(pgid, signal.SIGKILL)
        return reply

    fake.dispatch = dispatch  # type: ignore[method-assign]
    return lambda pgid: armed.update(pgid=pgid)


def _arm(fleet: PrFleet, point: Point) -> Callable[[int], None]:
    creates = ("create_pull", "create_mr", "create_pr")
    if point in ("pushed", "pushed-update"):
        return _kill_after_push(fleet)
    if point == "updating":
        return _kill_at_request(fleet, UPDATES, before=True)
    return _kill_at_request(fleet, creates, before=point == "creating")


@pytest.mark.parametrize("point", POINTS)
def test_a_run_killed_at_any_point_leaves_one_pull_request_after_the_next(
    fleet: PrFleet, point: Point
) -> None:
    fleet.seed(flux_automation(fleet.fake))
    fleet.push("1.1.0")
    newest = "1.1.0"
    if point in ("pushed-update", "updating"):
        fleet.reconcile()
        fleet.push("1.2.0")
        newest = "1.2.0"
    arm = _arm(fleet, point)
    proc = fleet.spawn()
    arm(proc.pid)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == -signal.SIGKILL, f"{point}: not killed\n{out}\n{err}"

    after = fleet.reconcile()
    (pr,) = fleet.pulls()
    assert pr.state == "open" and newest in pr.title, after.stdout
    assert fleet.marked(HEAD) == newest
    assert sorted(fleet.fake.repo.branches()) == [HEAD, "main"]
    assert f"#{pr.number}" in after.stdout
