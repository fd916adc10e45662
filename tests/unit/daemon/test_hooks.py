"""Each receiver type's verification rule, table-driven (facts from Flux's receiver docs)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from multidict import CIMultiDict

from image_automation.daemon.hooks import Verdict, hmac_hex, verify

TOKEN = "hook-Secr3t-token"
BODY = b'{"push_data": {"tag": "1.2.3"}, "repository": {"repo_name": "team/app"}}'
PACKAGE = (b'{"action": "published", "package": {"name": "app", "namespace": "org", '
           b'"package_type": "CONTAINER", "registry": {"url": "https://ghcr.io"}}}')  # fmt: skip


def sig(algorithm: str, token: str = TOKEN, body: bytes = BODY) -> str:
    return hmac.new(token.encode(), body, getattr(hashlib, algorithm)).hexdigest()


ACCEPTED, IGNORED = Verdict.ACCEPTED, Verdict.IGNORED
UNAUTHORIZED, MALFORMED = Verdict.UNAUTHORIZED, Verdict.MALFORMED

CASES: list[tuple[str, str, dict[str, str], bytes, tuple[str, ...], Verdict]] = [
    # (case id, type, headers, body, events, verdict)
    ("generic takes anything", "generic", {}, b"", (), ACCEPTED),
    ("hmac sha256", "generic-hmac", {"X-Signature": f"sha256={sig('sha256')}"}, BODY, (), ACCEPTED),
    ("hmac sha1", "generic-hmac", {"X-Signature": f"sha1={sig('sha1')}"}, BODY, (), ACCEPTED),
    ("hmac sha512", "generic-hmac", {"X-Signature": f"sha512={sig('sha512')}"}, BODY, (), ACCEPTED),
    ("hmac upper hex", "generic-hmac", {"x-signature": f"sha256={sig('sha256').upper()}"}, BODY, (),
     ACCEPTED),
    ("hmac missing", "generic-hmac", {}, BODY, (), UNAUTHORIZED),
    ("hmac wrong key", "generic-hmac", {"X-Signature": f"sha256={sig('sha256', 'other')}"}, BODY,
     (), UNAUTHORIZED),
    ("hmac body changed", "generic-hmac", {"X-Signature": f"sha256={sig('sha256')}"}, BODY + b" ",
     (), UNAUTHORIZED),
    ("hmac unknown algorithm", "generic-hmac", {"X-Signature": f"md5={sig('md5')}"}, BODY, (),
     UNAUTHORIZED),
    ("hmac no algorithm", "generic-hmac", {"X-Signature": sig("sha256")}, BODY, (), UNAUTHORIZED),
    ("github sha256", "github", {"X-Hub-Signature-256": f"sha256={sig('sha256', body=PACKAGE)}",
     "X-GitHub-Event": "package"}, PACKAGE, ("package",), ACCEPTED),
    ("github push reads no body", "github", {"X-Hub-Signature-256": f"sha256={sig('sha256')}",
     "X-GitHub-Event": "push"}, BODY, (), ACCEPTED),
    ("github sha1 fallback", "github", {"X-Hub-Signature": f"sha1={sig('sha1')}"}, BODY, (),
     ACCEPTED),
    ("github 256 header wins over a good sha1", "github", {"X-Hub-Signature-256": "sha256=00",
     "X-Hub-Signature": f"sha1={sig('sha1')}"}, BODY, (), UNAUTHORIZED),
    ("github sha1 in the 256 header", "github", {"X-Hub-Signature-256": f"sha1={sig('sha1')}"},
     BODY, (), UNAUTHORIZED),
    ("github unsigned", "github", {"X-GitHub-Event": "package"}, BODY, (), UNAUTHORIZED),
    ("github event filtered", "github", {"X-Hub-Signature-256": f"sha256={sig('sha256')}",
     "X-GitHub-Event": "push"}, BODY, ("package",), IGNORED),
    ("github ping", "github", {"X-Hub-Signature-256": f"sha256={sig('sha256')}",
     "X-GitHub-Event": "ping"}, BODY, (), IGNORED),
    ("gitlab token", "gitlab", {"X-Gitlab-Token": TOKEN, "X-Gitlab-Event": "Push Hook"}, BODY,
     ("Push Hook",), ACCEPTED),
    ("gitlab wrong token", "gitlab", {"X-Gitlab-Token": "nope"}, BODY, (), UNAUTHORIZED),
    ("gitlab missing token", "gitlab", {}, BODY, (), UNAUTHORIZED),
    ("gitlab event filtered", "gitlab", {"X-Gitlab-Token": TOKEN, "X-Gitlab-Event": "Issue Hook"},
     BODY, ("Push Hook",), IGNORED),
    ("harbor auth", "harbor", {"Authorization": TOKEN}, BODY, (), ACCEPTED),
    ("harbor wrong auth", "harbor", {"Authorization": f"Bearer {TOKEN}"}, BODY, (), UNAUTHORIZED),
    ("dockerhub json", "dockerhub", {}, BODY, (), ACCEPTED),
    ("dockerhub not json", "dockerhub", {}, b"tag=1.2.3", (), MALFORMED),
    ("dockerhub json list", "dockerhub", {}, b"[1, 2]", (), MALFORMED),
    ("quay json", "quay", {}, b'{"docker_url": "quay.io/team/app"}', (), ACCEPTED),
    ("quay empty", "quay", {}, b"", (), MALFORMED),
    ("acr json", "acr", {}, b'{"action": "push"}', (), ACCEPTED),
    ("acr not json", "acr", {}, b"{", (), MALFORMED),
    ("unknown type", "bitbucket", {}, BODY, (), UNAUTHORIZED),
    # aiohttp hands non-ASCII header bytes through as text; refused, never a crash (500).
    ("hmac non-ascii signature", "generic-hmac", {"X-Signature": "sha256=\u00e9\udcff"}, BODY, (),
     UNAUTHORIZED),
    ("github non-ascii signature", "github", {"X-Hub-Signature-256": "sha256=\u00e9"}, BODY, (),
     UNAUTHORIZED),
    ("gitlab non-ascii token", "gitlab", {"X-Gitlab-Token": "\u00e9\udcff"}, BODY, (),
     UNAUTHORIZED),
    ("harbor non-ascii auth", "harbor", {"Authorization": "\udcff"}, BODY, (), UNAUTHORIZED),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "headers", "body", "events", "verdict"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_rule(
    kind: str, headers: dict[str, str], body: bytes, events: tuple[str, ...], verdict: Verdict
) -> None:
    check = verify(kind, token=TOKEN, events=events, headers=CIMultiDict(headers), body=body)
    assert check.verdict is verdict, check.reason
    assert TOKEN not in check.reason


def test_hmac_hex_matches_openssl_style_digest() -> None:
    assert hmac_hex(TOKEN, BODY) == sig("sha256")
    assert hmac_hex(TOKEN, BODY, "sha512") == sig("sha512")
