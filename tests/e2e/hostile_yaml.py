"""Hostile YAML for the end-to-end tests, and a memory ceiling to run the CLI under.

"Refused within bounds" is asserted with a resource limit on the subprocess, not a clock:
the address space is capped, so code that expands the aliases dies with MemoryError (the
unbounded loader reached ~3.5 GB), while code that refuses them runs as usual.
"""

from __future__ import annotations

import itertools
import resource
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

MEMORY_CEILING = 100 * 1024 * 1024
"""Address space for ``validate``, a single-threaded process."""
THREADED_CEILING = 1024 * 1024 * 1024
"""Address space for ``reconcile`` and the daemon: each thread reserves an 8 MB stack, and
git, started by them, inherits the limit; still well under what the bomb would need."""

POLICY_HEAD = "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: lol}\n"


def billion_laughs(head: str = POLICY_HEAD) -> str:
    """Nine anchors, each listing the previous one nine times: ~10⁹ nodes once expanded."""
    lines = [head + 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in itertools.pairwise("abcdefghi"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


BOMB_LINE = POLICY_HEAD.count("\n") + 6
"""The line of ``f:``, where the first alias of ``e`` crosses the expansion bound."""


def capped_memory(limit: int = MEMORY_CEILING) -> Callable[[], None]:
    """A ``preexec_fn`` capping the child's address space at ``limit`` bytes."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


_LAUNCHER = """\
import os, resource, sys
limit, report, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
pid = os.fork()
if pid == 0:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.execv(argv[0], argv)
_, status, usage = os.wait4(pid, 0)
with open(report, "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""
"""Forks the command from a small process: a child forked from pytest itself would count
pytest's own resident pages in its peak (the kernel keeps the high-water mark across exec)."""


def run_measured(
    argv: Sequence[str], *, report: Path, limit: int, **popen: Any
) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run ``argv`` under an address-space cap of ``limit`` bytes; its peak RSS in KiB."""
    result = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, str(limit), str(report), *argv],
        capture_output=True, text=True, check=False, **popen,
    )  # fmt: skip
    return result, int(report.read_text())
