"""What the bounded YAML reader costs, and what a hostile file costs with it.

1. Composing: ``config.safe_yaml.compose_all`` against ruamel's C composer (the baseline,
   which has no bounds) over the example policy files, repeated; ratio of the best runs.
2. Refusing the classic 9-level billion-laughs file in-process (``load_bytes``).
3. ``validate`` as a subprocess on a directory of good policy files (baseline) and on the same
   directory plus the classic 9-level billion-laughs file: wall time and peak RSS of each
   (``wait4``), and their ratio. The issue's goal: refused in under 1 s and 100 MB RSS.

Run: ``.venv/bin/python bench/yaml_safety.py``
"""

from __future__ import annotations

import itertools
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ruamel.yaml import YAML

from image_automation.config.loading import load_bytes
from image_automation.config.safe_yaml import compose_all

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).with_name("image-automation")
ROUNDS = 25


def laughs() -> str:
    head = "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: lol}\n"
    lines = [head + 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in itertools.pairwise("abcdefghi"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def best(fn: object, rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def interleaved(first: object, second: object) -> tuple[float, float]:
    """Best time of each, run in turns so that machine load hits both alike."""
    a, b = [], []
    for _ in range(ROUNDS):
        a.append(best(first, 1))
        b.append(best(second, 1))
    return min(a), min(b)


def compose_ratio() -> None:
    texts = [p.read_text() for p in sorted((ROOT / "policies").rglob("*.yaml"))] * 20
    yaml = YAML(typ="safe", pure=False)

    def ruamel_c() -> None:
        for text in texts:
            list(yaml.compose_all(text))

    def bounded() -> None:
        for text in texts:
            compose_all(text, file="x")

    base, ours = interleaved(ruamel_c, bounded)
    print(f"compose {len(texts)} policy files: ruamel C composer best {base * 1e3:.1f} ms, "
          f"safe_yaml best {ours * 1e3:.1f} ms, ratio {ours / base:.2f}x")  # fmt: skip


def refusal_time() -> None:
    data = laughs().encode()
    seconds = best(lambda: load_bytes(data, file="bomb.yaml"))
    [error] = load_bytes(data, file="bomb.yaml").errors
    print(f"load_bytes(billion laughs): best {seconds * 1e3:.2f} ms -> {error}")


def validate(directory: Path) -> tuple[float, float, int]:
    """(seconds, peak RSS in MB, exit code) of ``validate directory``."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(CLI), "validate", str(directory)], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - start, usage.ru_maxrss / 1024, proc.returncode


def validate_runs() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        good, hostile = Path(tmp, "good"), Path(tmp, "hostile")
        shutil.copytree(ROOT / "policies", good)
        shutil.copytree(ROOT / "policies", hostile)
        (hostile / "bomb.yaml").write_text(laughs())
        runs: dict[str, list[tuple[float, float, int]]] = {"good": [], "with bomb": []}
        for _ in range(5):
            runs["good"].append(validate(good))
            runs["with bomb"].append(validate(hostile))
    for name, results in runs.items():
        seconds = min(r[0] for r in results)
        rss = max(r[1] for r in results)
        codes = sorted({r[2] for r in results})
        print(f"validate {name:9}: best {seconds:.2f} s, peak RSS {rss:.0f} MB, exit {codes}")
    ratio = min(r[0] for r in runs["with bomb"]) / min(r[0] for r in runs["good"])
    print(f"validate time with the bomb / without: {ratio:.2f}x")


def main() -> None:
    load = os.getloadavg()[0]
    print(f"python {platform.python_version()} on {platform.machine()}, load {load:.1f}")
    compose_ratio()
    refusal_time()
    validate_runs()


if __name__ == "__main__":
    main()
