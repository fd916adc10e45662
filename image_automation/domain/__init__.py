"""Pure value types shared by every layer: image references, tags, decisions, changes;
and the one credential redaction they all use."""

from image_automation.domain._changes import Change, UpdateResult
from image_automation.domain._decision import Decision, TagInfo
from image_automation.domain._http_headers import retry_after_seconds
from image_automation.domain._image import (
    DOCKER_HUB,
    DOCKER_HUB_API,
    NOT_A_TAG,
    TAG_RE,
    ImageRef,
    InvalidReference,
    digest_problem,
    invalid_tags,
    is_valid_tag,
)
from image_automation.domain._redaction import MASK, mask_secrets, redact

__all__ = [
    "DOCKER_HUB",
    "DOCKER_HUB_API",
    "MASK",
    "NOT_A_TAG",
    "TAG_RE",
    "Change",
    "Decision",
    "ImageRef",
    "InvalidReference",
    "TagInfo",
    "UpdateResult",
    "digest_problem",
    "invalid_tags",
    "is_valid_tag",
    "mask_secrets",
    "redact",
    "retry_after_seconds",
]
