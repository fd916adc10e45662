"""Tags from the state store for ``policy select --state FILE`` (the state side of it).

``policy select`` is synchronous click code; this wraps the async store in one ``asyncio.run``
so the command can take scanned tags instead of a ``--tags-from`` list.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from image_automation.domain import ImageRef, TagInfo
from image_automation.engine.scanning import tags_for
from image_automation.state import open_store


def read_scanned_tags(state: str | Path | None, image: ImageRef | str) -> list[TagInfo]:
    """The last good scanned tags of ``image``'s repository, with digests and times.

    ``state`` is a path, a ``sqlite:///`` URL or ``None`` (default location). Raises
    ``StateError`` when the store cannot be opened or the repository was never scanned.
    """

    async def read() -> list[TagInfo]:
        async with await open_store(state) as store:
            return await tags_for(store, image)

    return asyncio.run(read())
