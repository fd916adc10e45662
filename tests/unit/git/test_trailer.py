"""Every commit of ours carries the ``Image-Automation`` trailer, added once, git-style."""

import pytest

from image_automation.git.messages import has_trailer, with_trailer


@pytest.mark.parametrize(
    ("message", "automation", "expected"),
    [
        ("Update 1 image\n", "apps/auto", "Update 1 image\n\nImage-Automation: apps/auto\n"),
        ("Subject\n\nBody text.", "a/b", "Subject\n\nBody text.\n\nImage-Automation: a/b\n"),
        ("S\n\nSigned-off-by: A <a@x>", "a/b",
         "S\n\nSigned-off-by: A <a@x>\nImage-Automation: a/b\n"),
        ("S\n\nImage-Automation: a/b\n", "a/b", "S\n\nImage-Automation: a/b\n"),
        ("S", "", "S\n\nImage-Automation: image-automation\n"),
        ("S", "a/b\nInjected: yes", "S\n\nImage-Automation: a/b Injected: yes\n"),
    ],
)  # fmt: skip
def test_trailer_is_appended_once(message: str, automation: str, expected: str) -> None:
    assert with_trailer(message, automation) == expected
    assert has_trailer(expected)


def test_a_message_without_our_trailer_is_not_ours() -> None:
    assert not has_trailer('Revert "Update 1 image"\n\nThis reverts commit abc.\n')
    assert not has_trailer("x\n\nNot-Image-Automation: a/b\n")
