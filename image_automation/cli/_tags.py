"""Tag list files for ``--tags-from``: ``TAG [CREATED]`` per line, ``#`` comments allowed."""

from __future__ import annotations

from datetime import UTC, datetime

from image_automation.domain import TagInfo


class TagListError(ValueError):
    """A line of a tag list is malformed; the message names the source and line."""


def parse_tag_list(text: str, *, source: str) -> list[TagInfo]:
    """Parse a tag list. The optional second column is an RFC 3339 build time."""
    tags: list[TagInfo] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) > 2:
            raise TagListError(f"{source}:{number}: expected 'TAG [CREATED]', got {line!r}")
        created = parse_time(parts[1], where=f"{source}:{number}") if len(parts) == 2 else None
        tags.append(TagInfo(name=parts[0], created=created))
    return tags


def parse_time(text: str, *, where: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TagListError(f"{where}: {text!r} is not an RFC 3339 time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
