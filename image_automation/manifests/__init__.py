"""Manifests: find setter markers and splice new values into bytes (pure), walk trees.

``markers``, ``editing`` and ``lines`` are pure (bytes in, bytes and Changes out);
``walking`` is the one module here that reads and writes files.
"""

from image_automation.manifests.editing import FileEdit, apply_setters
from image_automation.manifests.lines import apply_line_setters
from image_automation.manifests.markers import MARKER_KEY, Setter, parse_setter
from image_automation.manifests.walking import (
    DEFAULT_INCLUDE,
    DEFAULT_MAX_FILE_SIZE,
    MarkerSite,
    find_markers,
    update_tree,
)

__all__ = [
    "DEFAULT_INCLUDE",
    "DEFAULT_MAX_FILE_SIZE",
    "MARKER_KEY",
    "FileEdit",
    "MarkerSite",
    "Setter",
    "apply_line_setters",
    "apply_setters",
    "find_markers",
    "parse_setter",
    "update_tree",
]
