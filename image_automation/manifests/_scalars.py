"""How to write a new string into a YAML scalar's place without changing its meaning.

A plain scalar stays plain when YAML 1.1 (what Kubernetes' Go decoders follow) and YAML 1.2
both read the new text as the same string; otherwise it becomes double-quoted
(``1.10`` -> ``"1.10"``, ``yes`` -> ``"yes"``). Quoted scalars keep their quote style.

PURE: no I/O.
"""

from __future__ import annotations

import json

from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver

_STR = "tag:yaml.org,2002:str"
_RESOLVERS = (VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2)))
# Characters that start an indicator, or may end or split a plain scalar somewhere.
_BAD_FIRST = set("-?:,[]{}#&*!|>'\"%@`")
_BAD_ANYWHERE = set(",[]{}\t\r\n")


def plain_is_safe(value: str) -> bool:
    """True when ``value`` written as a plain scalar reads back as this very string."""
    if not value or value != value.strip(" ") or value[0] in _BAD_FIRST:
        return False
    if any(ch in _BAD_ANYWHERE for ch in value) or not value.isprintable():
        return False
    if ": " in value or " #" in value or value.endswith(":"):
        return False
    return all(
        str(resolver.resolve(ScalarNode, value, (True, False))) == _STR for resolver in _RESOLVERS
    )


def render(value: str, *, style: str) -> str:
    """The text for ``value`` in the given original ``style`` ("", "'" or '"')."""
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style == '"' or not plain_is_safe(value):
        return json.dumps(value, ensure_ascii=False)
    return value
