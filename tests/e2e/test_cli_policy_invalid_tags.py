"""`policy select --tags-from` applies the OCI tag rule `scan` and `update --set` apply."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from image_automation.cli import root

POLICY = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: app}
spec:
  image: registry.example.com/app
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: app}
spec:
  imageRepositoryRef: {name: app}
  policy:
    ORDERING
"""


def _select(tmp_path: Path, ordering: str, tags: str, *extra: str) -> tuple[int, str, str]:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY.replace("ORDERING", ordering))
    args = ["policy", "select", "--policy", str(path), "--tags-from", "-", *extra]
    result = CliRunner().invoke(root, args, input=tags)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("ordering", "hostile"),
    [
        ("alphabetical: {order: asc}", "zz;reboot"),
        ("alphabetical: {order: asc}", "zz$(id)"),
        ("alphabetical: {order: asc}", "z" * 100_000),
        ("numerical: {order: asc}", "9" * 100_000),
        ("numerical: {order: asc}", "9" * 129),
    ],
)
def test_an_invalid_tag_is_never_selected_and_json_says_why(
    tmp_path: Path, ordering: str, hostile: str
) -> None:
    code, out, err = _select(tmp_path, ordering, f"1\n2\n{hostile}\n", "--output", "json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["tag"] == "2"
    assert payload["skipped"][hostile] == "not a valid OCI tag"
    assert hostile not in payload["considered"]


def test_text_output_prints_only_a_valid_winner(tmp_path: Path) -> None:
    code, out, _ = _select(tmp_path, "alphabetical: {order: asc}", "1.0.0\nz;id\n$(id)\n")
    assert (code, out) == (0, "1.0.0\n")


def test_only_invalid_tags_exit_3_naming_the_skips(tmp_path: Path) -> None:
    code, out, err = _select(tmp_path, "alphabetical: {order: asc}", "a;b\n$(id)\n")
    assert (code, out) == (3, "")
    assert "nothing qualifies: 2 tags, 2 skipped" in err


def test_invalid_tags_with_build_times_are_skipped_too(tmp_path: Path) -> None:
    tags = "1.0.0 2026-01-01T00:00:00Z\nz;id 2026-01-02T00:00:00Z\n"
    code, out, _ = _select(tmp_path, "alphabetical: {order: asc}", tags, "--output", "json")
    assert code == 0
    assert json.loads(out)["skipped"] == {"z;id": "not a valid OCI tag"}
