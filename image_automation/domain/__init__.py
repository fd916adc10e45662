"""Pure value types shared by every layer: image references, tags, decisions, changes;
and the one credential redaction they all use."""

from image_automation.domain._changes import Change, UpdateResult
from image_automation.domain._decision import Decision, TagInfo
from image_automation.domain._image import (
    DOCKER_HUB,
    DOCKER_HUB_API,
    TAG_RE,
    ImageRef,
    InvalidReference,
    is_valid_tag,
)
from image_automation.domain._redaction import MASK, mask_secrets, redact

__all__ = [
    "DOCKER_HUB",
    "DOCKER_HUB_API",
    "MASK",
    "TAG_RE",
    "Change",
    "Decision",
    "ImageRef",
    "InvalidReference",
    "TagInfo",
    "UpdateResult",
    "is_valid_tag",
    "mask_secrets",
    "redact",
]
