"""Subprocess for the kill test: one publish run against a remote, as the daemon would do it.

Run as ``python -m tests.integration.git.kill_worker URL WORK_DIR TAG``; HTTP credentials come
from ``IA_TEST_USERNAME`` / ``IA_TEST_PASSWORD``. With ``IA_KILL_IN_APPLY=1`` the process group
is SIGKILLed right after the edit is written; git hooks set up by the test kill it elsewhere.
``IA_TAG`` overrides ``TAG`` (the kill test warms a work dir up with another tag first).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from image_automation.domain import UpdateResult
from image_automation.git import CommitSettings, GitAuth, PushSettings, RepoSpec, Workspace
from tests.integration.git.helpers import bump_to


async def main(url: str, work_dir: str, tag: str) -> None:
    bump = bump_to(os.environ.get("IA_TAG", tag))

    async def apply(root: Path) -> UpdateResult:
        result = await bump(root)
        if os.environ.get("IA_KILL_IN_APPLY") == "1":
            os.killpg(0, signal.SIGKILL)
        return result

    auth = GitAuth(username=os.environ["IA_TEST_USERNAME"], password=os.environ["IA_TEST_PASSWORD"])
    commit = CommitSettings(author_name="Image Bot", author_email="bot@example.test")
    async with Workspace.open(RepoSpec(url=url), work_dir=Path(work_dir), auth=auth) as ws:
        outcome = await ws.publish(apply, commit=commit, push=PushSettings(backoff=0.01))
    print(outcome.commit or "no-change")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
