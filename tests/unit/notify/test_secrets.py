"""A provider's secret from the secrets dir: Flux's keys, and hostile values refused without
quoting them."""

from __future__ import annotations

from pathlib import Path

import pytest

from image_automation.errors import NotifyError
from image_automation.notify import read_provider_secrets
from image_automation.notify.secrets import MAX_SECRET_BYTES, parse_headers


def make(tmp_path: Path, **keys: str | bytes) -> Path:
    root = tmp_path / "secrets"
    (root / "s").mkdir(parents=True)
    for key, value in keys.items():
        path = root / "s" / key
        path.write_bytes(value if isinstance(value, bytes) else value.encode())
    return root


def test_flux_keys_are_read_with_the_trailing_newline_removed(tmp_path: Path) -> None:
    root = make(tmp_path, address="https://h.example/x\n", token="t0k\n", username="bot",
                headers="X-Team: a\nAuthorization: Bearer q\n")  # fmt: skip
    got = read_provider_secrets(root, "s")
    assert (got.address, got.token, got.username) == ("https://h.example/x", "t0k", "bot")
    assert got.headers == {"X-Team": "a", "Authorization": "Bearer q"}
    assert "t0k" not in repr(got) and "h.example" not in repr(got)


def test_relative_secrets_dir_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make(tmp_path, token="t")
    monkeypatch.chdir(tmp_path)
    assert read_provider_secrets(Path("secrets"), "s").token == "t"


@pytest.mark.parametrize(
    ("name", "keys", "match"),
    [
        ("../etc", {}, "not a plain directory name"),
        ("a/b", {}, "not a plain directory name"),
        ("missing", {}, "not found"),
        ("s", {"token": b"\xff\xfe"}, "not UTF-8"),
        ("s", {"token": "x" * (MAX_SECRET_BYTES + 1)}, "over"),
        ("s", {"address": "https://a.example/\nX-Evil: 1"}, "line break"),
        ("s", {"headers": "Host: evil.example"}, "not a usable header"),
        ("s", {"headers": "Bad Name: v"}, "not a usable header"),
        ("s", {"headers": "no colon here"}, "not a usable header"),
        ("s", {"headers": "".join(f"X-{i}: v\n" for i in range(60))}, "more than"),
    ],
)
def test_unusable_secrets_are_refused_without_their_value(
    tmp_path: Path, name: str, keys: dict[str, str | bytes], match: str
) -> None:
    root = make(tmp_path, **keys)
    with pytest.raises(NotifyError, match=match) as caught:
        read_provider_secrets(root, name)
    assert "evil" not in str(caught.value) and "xxxx" not in str(caught.value)


def test_no_secrets_dir_is_refused() -> None:
    with pytest.raises(NotifyError, match="no --secrets-dir"):
        read_provider_secrets(None, "s")


def test_header_lines_allow_comments_and_quotes() -> None:
    assert parse_headers('# a comment\n\nX-A: "quoted"\n', name="s") == {"X-A": "quoted"}
