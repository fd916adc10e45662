"""`make demo`: the main job on an embedded default.

For now: validate `policies/`, then run every example policy over the tag list shipped for its
image in `examples/tags/` and print what each selects and why. Later issues extend this to a
local registry and a local git remote.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from image_automation.cli._tags import parse_tag_list
from image_automation.config.loading import load_paths
from image_automation.config.resolving import resolve
from image_automation.policy import select

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    console = Console()
    exe = Path(sys.executable).with_name("image-automation")
    console.rule("image-automation validate policies/")
    check = subprocess.run([str(exe), "validate", str(ROOT / "policies")], check=False)
    if check.returncode != 0:
        return check.returncode
    resolved = resolve(load_paths([ROOT / "policies"]))
    now = datetime.now(UTC)
    table = Table(title=f"selection as of {now:%Y-%m-%d %H:%M} UTC")
    for column in ("policy", "image", "selected", "why"):
        table.add_column(column)
    for policy in resolved.policies:
        slug = f"{policy.image.registry}/{policy.image.repository}".replace("/", "_")
        tags_file = ROOT / "examples" / "tags" / f"{slug}.txt"
        tags = parse_tag_list(tags_file.read_text(), source=str(tags_file))
        decision = select(policy.spec, tags, now=now)
        why = "; ".join(decision.reasons) or f"{len(decision.considered)} considered"
        table.add_row(policy.key, str(policy.image), decision.tag or "-", why)
    console.print(table)
    console.print(
        "Try: .venv/bin/image-automation policy select "
        "--policy policies/flux/podinfo.yaml "
        "--tags-from examples/tags/ghcr.io_stefanprodan_podinfo.txt --output json"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
