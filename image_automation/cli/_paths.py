"""Paths from flags, the environment and config files, made absolute once, at start-up.

Why: later steps run elsewhere (git clones beside their target, helpers run in a checkout) or
much later (the daemon reads secrets and state for as long as it runs); a relative path read
there names another file. So every command turns the paths it keeps into absolute ones before
it does anything else, the same way: against the current directory, or against the directory
of the ``--config`` file that gave them. Lexical (no symlink resolution), so a mounted
Secret's ``..data`` link is followed afresh on every read. Paths of documents read at once and
echoed in diagnostics (``validate PATH``, ``--policy FILE``) keep the spelling the user typed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = [
    "AbsolutePath",
    "absolute",
    "absolute_repo",
    "absolute_state",
    "default_work_dir",
    "state_option",
    "work_dir_and_state_options",
]

_F = TypeVar("_F", bound=Callable[..., Any])


def absolute(path: str | os.PathLike[str], *, base: Path | None = None) -> Path:
    """``path`` made absolute against ``base`` (default: the current directory)."""
    if base is not None and not os.path.isabs(path):
        path = base / path
    return Path(os.path.abspath(path))


def absolute_state(text: str | None) -> str | None:
    """A ``--state`` value (a path, ``sqlite:///PATH`` or another store's URL) with its path
    made absolute; URLs of other stores are left alone."""
    if text is None:
        return None
    prefix = "sqlite:///"
    if text.lower().startswith(prefix):
        return prefix + str(absolute(text[len(prefix) :]))
    if "://" in text:
        return text
    return str(absolute(text))


def absolute_repo(url: str) -> str:
    """A ``--repo`` given as a relative local path, made absolute (other URLs unchanged)."""
    from image_automation.git import absolute_local_url  # GitPython: only for commands using git

    return absolute_local_url(url)


class AbsolutePath(click.Path):
    """``click.Path`` whose value is an absolute :class:`~pathlib.Path` (``-`` stays ``-``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(path_type=Path, **kwargs)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        converted = super().convert(value, param, ctx)
        if self.allow_dash and str(converted) == "-":
            return converted
        return absolute(os.fsdecode(converted))


def state_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """click ``callback=`` for a ``--state`` option: :func:`absolute_state` of its value."""
    return absolute_state(value)


def default_work_dir() -> Path:
    """The clone cache without ``--work-dir``: ``$XDG_CACHE_HOME/image-automation/git``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "image-automation" / "git"


def work_dir_and_state_options(command: _F) -> _F:
    """``--work-dir`` and ``--state``, worded alike for every command that clones and keeps
    state (``reconcile``, ``promote``)."""
    command = click.option(
        "--state",
        metavar="FILE",
        callback=state_option,
        help="State store: a path, sqlite:///PATH or postgresql://... "
        "(default: $XDG_STATE_HOME/image-automation).",
    )(command)
    return click.option(
        "--work-dir",
        type=AbsolutePath(file_okay=False),
        default=None,
        help="Clone cache (default: $XDG_CACHE_HOME/image-automation/git).",
    )(command)
