"""Credential scrubbing of error text before it is stored or shown."""

from __future__ import annotations

import pytest

from image_automation.domain import mask_secrets, redact

CASES = [
    ("https://user:pw123@reg.io/v2/", "https://user:***@reg.io/v2/"),
    ("https://tok_only@reg.io/v2/", "https://***@reg.io/v2/"),
    ("http://alice:S3cret@host/fleet.git (main)", "http://alice:***@host/fleet.git (main)"),
    # an unencoded "@" in the password: userinfo runs to the last "@" of the authority
    ("http://alice:p@ss@host/a.git", "http://alice:***@host/a.git"),
    ("HTTPS://Alice:pw@HOST/a.git", "HTTPS://Alice:***@HOST/a.git"),
    (
        "'https://bot:pw@h/a.git/' and https://bob:pw2@h/b",
        "'https://bot:***@h/a.git/' and https://bob:***@h/b",
    ),
    # a user part shaped like a token is no name: masked as well
    ("https://ghp_abcdefghijklmnop:x-oauth-basic@github.com/o/r", "https://***@github.com/o/r"),
    ("https://" + "a1" * 20 + ":x@github.com/o/r", "https://***@github.com/o/r"),
    ("https://oauth2:glpat-abcdef@gitlab.com/o/r.git", "https://oauth2:***@gitlab.com/o/r.git"),
    ("https://alice:@host/a.git", "https://alice:***@host/a.git"),
    # ssh carries no secret in its user name; a password there is still one
    ("ssh://git@example.test:22/a.git", "ssh://git@example.test:22/a.git"),
    ("ssh://git:pw-x@example.test/a.git", "ssh://git:***@example.test/a.git"),
    ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
    ("https://host/path?mail=a@b.example", "https://host/path?mail=a@b.example"),
    ("Authorization: Basic dXNlcjpwdw==", "Authorization: ***"),
    ("{'authorization': 'Bearer abc.def'}", "{'authorization': '***'}"),
    ("got Bearer abcdefgh back", "got Bearer *** back"),
    ("password=hunter2&x=1", "password=***&x=1"),
    ('{"identitytoken": "zzz"}', '{"identitytoken": "***"}'),
    ("jwt eyJhbGci.eyJzdWIi.sig-part here", "jwt *** here"),
    ("ghcr.io/o/app: 404 NAME_UNKNOWN", "ghcr.io/o/app: 404 NAME_UNKNOWN"),
    (
        "registry.io:5000/team/app: tag list over 10 MiB",
        "registry.io:5000/team/app: tag list over 10 MiB",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_known_secrets_are_masked_wherever_they_appear() -> None:
    assert redact("failed for s3cr3t-value at host", secrets=("s3cr3t-value", "")) == (
        "failed for *** at host"
    )


def test_a_secret_containing_another_is_masked_whole() -> None:
    assert mask_secrets("token abcdef-123 and abc", ["abc", "abcdef-123", ""]) == (
        "token *** and ***"
    )


def test_mask_secrets_leaves_credential_shapes_to_redact() -> None:
    assert mask_secrets("https://u:p@host/", []) == "https://u:p@host/"
    assert redact("https://u:p@host/") == "https://u:***@host/"
