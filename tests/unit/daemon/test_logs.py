"""Log lines carry what they concern, in plain or JSON form, and never a secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from image_automation.daemon.logs import REDACTOR, configure_logging, log_context

log = logging.getLogger("image_automation.test")


@pytest.fixture
def output() -> Iterator[tuple[io.StringIO, list[str]]]:
    stream = io.StringIO()
    formats: list[str] = []
    yield stream, formats
    root = logging.getLogger("image_automation")
    for handler in [h for h in root.handlers if getattr(h, "_image_automation", False)]:
        root.removeHandler(handler)


def test_json_lines_carry_context_fields(output: tuple[io.StringIO, list[str]]) -> None:
    stream, _ = output
    configure_logging("json", stream=stream)
    with log_context(automation="apps/auto"):
        log.info("reconciled %d", 1)
        with log_context(repository="docker.io/team/app"):
            log.warning("scan failed")
    log.info("hook", extra={"receiver": "apps/hub"})
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(x["level"], x["message"]) for x in lines] == [
        ("info", "reconciled 1"),
        ("warning", "scan failed"),
        ("info", "hook"),
    ]
    assert lines[0]["automation"] == "apps/auto" and "repository" not in lines[0]
    assert lines[1]["repository"] == "docker.io/team/app"
    assert lines[1]["automation"] == "apps/auto"
    assert lines[2]["receiver"] == "apps/hub" and "automation" not in lines[2]


def test_plain_lines_carry_context_fields(output: tuple[io.StringIO, list[str]]) -> None:
    stream, _ = output
    configure_logging("plain", stream=stream)
    with log_context(policy="apps/app"):
        log.info("selected 1.2.3")
    [line] = stream.getvalue().splitlines()
    assert line.endswith("image_automation.test: selected 1.2.3 policy=apps/app")


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_registered_secrets_never_reach_the_output(
    output: tuple[io.StringIO, list[str]], fmt: str
) -> None:
    stream, _ = output
    configure_logging(fmt, stream=stream)  # type: ignore[arg-type]
    REDACTOR.add("tok-Very-Secr3t-123")
    try:
        raise ValueError("auth with tok-Very-Secr3t-123 failed")
    except ValueError:
        log.exception("push failed for tok-Very-Secr3t-123")
    text = stream.getvalue()
    assert "tok-Very-Secr3t-123" not in text
    assert text.count("***") >= 2
