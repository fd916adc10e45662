"""An advisory file lock per work dir, so two processes (or tasks) never share a checkout.

``flock`` is released by the kernel when the holder dies, so a kill -9 never leaves a stale
lock behind; the lock file itself is kept (deleting it would race with a waiting process).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from image_automation.errors import GitConflict, GitError

_POLL = 0.05


@asynccontextmanager
async def locked(path: Path, *, timeout: float | None = None) -> AsyncIterator[None]:
    """Hold an exclusive lock on ``path``; raise GitConflict after ``timeout`` seconds."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise GitError(f"cannot open lock file {path}: {exc.strerror or exc}") from exc
    try:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and loop.time() >= deadline:
                    raise GitConflict(
                        f"work dir is busy (lock {path} held by another run)", delay=timeout or 1.0
                    ) from None
                await asyncio.sleep(_POLL)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


__all__ = ["locked"]
