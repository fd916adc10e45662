"""Which remote URLs are local paths that must be made absolute before git runs elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from image_automation.git._checkout import absolute_local_url, absolute_path


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("fleet.git", True),
        ("./fleet.git", True),
        ("../up/fleet.git", True),
        ("sub/dir:with-colon/fleet.git", True),  # the first "/" comes before the ":"
        ("/abs/fleet.git", False),  # already absolute
        ("file:///abs/fleet.git", False),
        ("https://git.example.test/org/fleet.git", False),
        ("ssh://git@git.example.test/org/fleet.git", False),
        ("git@git.example.test:org/fleet.git", False),  # scp-like
        ("host:fleet.git", False),  # scp-like without a user
    ],
)
def test_only_relative_local_paths_are_made_absolute(
    url: str, local: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    expected = os.path.normpath(os.path.join(tmp_path, url)) if local else url
    assert absolute_local_url(url) == expected


def test_absolute_path_is_lexical_and_keeps_symlinks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path)
    assert absolute_path(Path("link/./x/../y")) == tmp_path / "link" / "y"
