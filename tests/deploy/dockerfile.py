"""deploy/Dockerfile read as instructions, for tests that check what it promises."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from tests.deploy.renders import DEPLOY

DOCKERFILE = DEPLOY / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    line: int
    op: str
    args: str


def instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    found: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if not pending:
            start = number
        pending.append(line.removesuffix("\\").strip())
        if not line.endswith("\\"):
            op, _, args = " ".join(pending).partition(" ")
            found.append(Instruction(start, op.upper(), args.strip()))
            pending = []
    return found


def final_stage(items: list[Instruction]) -> list[Instruction]:
    starts = [i for i, ins in enumerate(items) if ins.op == "FROM"]
    return items[starts[-1] :]


def env_of(items: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for ins in items:
        if ins.op == "ENV":
            for word in shlex.split(ins.args):
                key, _, value = word.partition("=")
                env[key] = value
    return env


def exec_form(args: str) -> list[str]:
    match = re.fullmatch(r"\[(.*)\]", args)
    assert match, f"not the exec form: {args}"
    return [part.strip().strip('"') for part in match[1].split(",")]
