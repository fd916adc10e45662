"""An ``apply`` callback like the updater's: bump the app image in deploy/app.yaml."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from image_automation.domain import Change, UpdateResult

APP_FILE = "deploy/app.yaml"
OLD = "registry.local/app:1.0.0"


def bump_to(new_tag: str) -> Callable[[Path], Awaitable[UpdateResult]]:
    """Return an apply() that sets the app image to ``new_tag`` if it is not already there."""
    new = f"registry.local/app:{new_tag}"

    async def apply(root: Path) -> UpdateResult:
        path = root / APP_FILE
        text = path.read_text()
        lines = text.splitlines(keepends=True)
        changes = []
        for number, line in enumerate(lines, start=1):
            if "image: " in line and new not in line:
                old = line.split("image: ", 1)[1].split()[0]
                lines[number - 1] = line.replace(old, new)
                changes.append(
                    Change(
                        APP_FILE,
                        number,
                        "apps/v1",
                        "Deployment",
                        "prod",
                        "app",
                        "flux-system:app",
                        old,
                        new,
                    )
                )
        if changes:
            path.write_text("".join(lines))
        return UpdateResult(changes=tuple(changes), files_written=(APP_FILE,) if changes else ())

    return apply
