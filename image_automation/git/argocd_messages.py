"""AIU's Go templates: the commit message (``git.commit-message-template``) and the write branch.

Both are Go ``text/template`` in AIU and run here on the interpreter Flux templates use
(:mod:`~image_automation.git.flux_messages`), over AIU's data:

* commit message: ``.AppName`` and ``.AppChanges`` (each ``.Image``, ``.OldTag``,
  ``.NewTag``, ``.Labels``; labels are an empty map here);
* write branch (``gitConfig.branch: base:<template>``): ``.Images`` (``.Name``, ``.Alias``,
  ``.OldTag``, ``.NewTag``), ``.SHA256`` (of the change set), ``.TargetKey`` (8 hex of the
  write-back target), ``.AppName``, ``.AppNamespace``. A branch longer than 255 characters is
  cut, as AIU cuts it.

Pure: text and data in, text out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from image_automation.domain import Change, ImageRef, InvalidReference, UpdateResult
from image_automation.git.flux_messages import FluxTemplate, parse_template

DEFAULT_MESSAGE = """\
build: automatic update of {{ .AppName }}

{{ range .AppChanges -}}
updates image {{ .Image }} tag '{{ .OldTag }}' to '{{ .NewTag }}'
{{ end -}}
"""
"""AIU's default commit message, so a migrated repository's history reads the same."""
MAX_BRANCH = 255


def split_reference(value: str) -> tuple[str, str]:
    """``name:tag[@digest]`` → (name, ``tag[@digest]``); a bare value is all tag (a values
    file's tag key alone: ``1.0.0`` is the old tag, not an image named ``1.0.0``)."""
    head = value.split("@", 1)[0]
    if ":" not in head.rpartition("/")[2]:
        return "", value
    try:
        ref = ImageRef.parse(value.split("@", 1)[0])
    except InvalidReference:
        return "", value
    name = value.split("@", 1)[0]
    slash, colon = name.rfind("/"), name.rfind(":")
    base = name[:colon] if colon > slash else name
    return base, value[len(base) + 1 :] if ref.tag else ""


def _changes(changes: Sequence[Change], aliases: Mapping[str, str]) -> list[dict[str, Any]]:
    out = []
    for change in sorted(changes, key=lambda c: (c.file, c.line)):
        name, new = split_reference(change.new)
        _, old = split_reference(change.old)
        out.append({"Image": name, "Name": name, "Alias": aliases.get(change.setter, ""),
                    "OldTag": old, "NewTag": new, "Labels": {}})  # fmt: skip
    return out


@dataclass(frozen=True, slots=True)
class ArgoMessage:
    """A parsed commit message template for one Application (a ``MessageTemplate``)."""

    template: FluxTemplate
    app_name: str

    @property
    def source(self) -> str:
        return self.template.source

    def render_text(
        self, result: UpdateResult, *, automation: str, values: Mapping[str, Any] | None
    ) -> str:
        data = {"AppName": self.app_name, "AppChanges": _changes(result.changes, {})}
        return self.template.render_data(data)[0]


def commit_template(source: str | None, *, app_name: str) -> ArgoMessage:
    """Parse ``source`` (AIU's default when None); raises ``FluxTemplateError`` at its line."""
    return ArgoMessage(parse_template(DEFAULT_MESSAGE if source is None else source), app_name)


def change_set_hash(changes: Sequence[Change]) -> str:
    lines = sorted(f"{c.setter}\0{c.old}\0{c.new}" for c in changes)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def target_key(*parts: str) -> str:
    """AIU's ``.TargetKey``: 8 hex characters naming a write-back target."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:8]


def render_branch(
    template: FluxTemplate,
    changes: Sequence[Change],
    *,
    app_name: str,
    app_namespace: str,
    key: str,
    aliases: Mapping[str, str],
) -> str:
    """The write branch for ``changes``, cut at 255 characters as AIU cuts it."""
    data = {
        "Images": _changes(changes, aliases),
        "SHA256": change_set_hash(changes),
        "TargetKey": key,
        "AppName": app_name,
        "AppNamespace": app_namespace,
    }
    return template.render_data(data)[0].strip()[:MAX_BRANCH]


__all__ = [
    "DEFAULT_MESSAGE",
    "MAX_BRANCH",
    "ArgoMessage",
    "change_set_hash",
    "commit_template",
    "render_branch",
    "split_reference",
    "target_key",
]
