"""Pure value types shared by every layer: image references, tags, decisions, changes."""

from image_automation.domain._changes import Change, UpdateResult
from image_automation.domain._decision import Decision, TagInfo
from image_automation.domain._image import (
    DOCKER_HUB,
    DOCKER_HUB_API,
    ImageRef,
    InvalidReference,
    is_valid_tag,
)

__all__ = [
    "DOCKER_HUB",
    "DOCKER_HUB_API",
    "Change",
    "Decision",
    "ImageRef",
    "InvalidReference",
    "TagInfo",
    "UpdateResult",
    "is_valid_tag",
]
