"""The error tree's own guarantee: no exception of ours shows a password from a URL."""

from __future__ import annotations

import pytest

from image_automation import errors
from image_automation.errors import ConfigError, GitConflict, Location, TemporaryError

URL = "http://alice:S3cret-pw@host/fleet.git"

ALL_ERRORS = [
    cls
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, errors.ImageAutomationError)
]


@pytest.mark.parametrize("kind", ALL_ERRORS, ids=lambda c: c.__name__)
def test_every_error_masks_a_url_password_in_str_and_repr(kind: type[Exception]) -> None:
    exc = kind(f"{URL} (main): clone failed")
    for text in (str(exc), repr(exc), *map(str, exc.args)):
        assert "S3cret-pw" not in text
    assert "http://alice:***@host/fleet.git (main): clone failed" in str(exc)


def test_config_error_masks_its_message_and_location() -> None:
    exc = ConfigError(f"bad url {URL}", location=Location(file="a.yaml", line=3, field="url"))
    assert str(exc) == "a.yaml:3: url: bad url http://alice:***@host/fleet.git"
    assert "S3cret-pw" not in exc.message


def test_temporary_errors_keep_their_delay() -> None:
    exc = GitConflict(f"push to {URL} rejected", delay=2.5)
    assert isinstance(exc, TemporaryError) and exc.delay == 2.5
    assert "S3cret-pw" not in str(exc)


def test_errors_without_a_url_are_unchanged() -> None:
    assert str(errors.GitError("push failed: remote hook said no")) == (
        "push failed: remote hook said no"
    )
    assert errors.GitError().args == ()
