"""Every command's ``--help`` shows an example, and the example works as written.

An example line is parsed with the command's own option parser, so it must use options the
command has; every relative path it gives a path option or argument must exist in the
repository (the examples are meant to be pasted at its root), except the directories a command
creates (``OUTPUTS``). Absolute and ``~`` paths name the reader's machine and are not checked.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from image_automation.cli._commands import COMMANDS
from image_automation.cli._root import root

ROOT = Path(__file__).resolve().parents[3]
PROG = "image-automation"
OUTPUTS = frozenset({"data_dir", "work_dir"})  # created by `run` and `reconcile` on first use


def _walk(command: click.Command, path: str) -> Iterator[tuple[str, click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name in command.list_commands(click.Context(command)):
            sub = command.get_command(click.Context(command), name)
            assert sub is not None
            yield from _walk(sub, f"{path} {name}")


def _all_commands() -> list[tuple[str, click.Command]]:
    found = [(PROG, root)]
    for name in COMMANDS:
        found.extend(_walk(COMMANDS[name].load(), f"{PROG} {name}"))
    return found


ALL = _all_commands()
IDS = [path for path, _ in ALL]


def _text(command: click.Command) -> str:
    return f"{command.help or ''}\n{command.epilog or ''}"


def _example_lines(text: str) -> list[list[str]]:
    """The argument lists after ``image-automation`` in each (continued) example line."""
    joined = text.replace("\\\n", " ")
    found: list[list[str]] = []
    for line in joined.splitlines():
        if PROG not in line.split():
            continue
        words = shlex.split(line)
        args = words[words.index(PROG) + 1 :]
        for stop in ("|", ";", "&&"):
            if stop in args:
                args = args[: args.index(stop)]
        found.append(args)
    return found


def _resolve(args: list[str]) -> tuple[click.Command, list[str]]:
    command: click.Command = root
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        sub = command.get_command(click.Context(command), args[0])
        assert sub is not None, f"no command {args[0]!r}"
        command, args = sub, args[1:]
    return command, args


def _path_values(command: click.Command, args: list[str]) -> list[str]:
    """The values the example gives to path options and arguments (outputs left out)."""
    ctx = click.Context(command, info_name=command.name, resilient_parsing=True)
    opts, rest, _ = command.make_parser(ctx).parse_args(args=list(args))
    assert rest == [], f"unexpected arguments {rest}"
    values: list[str] = []
    for param in command.params:
        is_path = isinstance(param.type, click.File | click.Path)
        value = opts.get(param.name) if param.name else None
        if not is_path or param.name in OUTPUTS or value is None:
            continue
        values.extend([value] if isinstance(value, str) else list(value))
    return values


@pytest.mark.parametrize(("path", "command"), ALL, ids=IDS)
def test_every_group_and_command_help_has_an_example(path: str, command: click.Command) -> None:
    text = _text(command)
    assert "Example" in text, f"{path} --help has no Example section"
    assert _example_lines(text), f"{path} --help: no `{PROG} ...` line in its example"


@pytest.mark.parametrize(("path", "command"), ALL, ids=IDS)
def test_every_path_in_a_help_example_exists_in_the_repository(
    path: str, command: click.Command
) -> None:
    for args in _example_lines(_text(command)):
        target, rest = _resolve(args)
        for value in _path_values(target, rest):
            if value == "-" or value.startswith(("/", "~")):
                continue
            assert (ROOT / value).exists(), f"{path} --help example names {value}: not in repo"


def test_the_check_sees_a_missing_file() -> None:
    text = "Example:\n  image-automation policy select --policy nope/x.yaml --tags-from -\n"
    (args,) = _example_lines(text)
    target, rest = _resolve(args)
    assert _path_values(target, rest) == ["nope/x.yaml", "-"]


def test_the_registries_file_the_scan_example_names_is_valid() -> None:
    from image_automation.registry import RegistrySettings

    settings = RegistrySettings.load(ROOT / "examples" / "registries.yaml")
    assert settings.hosts["127.0.0.1:5555"].insecure
