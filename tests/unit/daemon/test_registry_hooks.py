"""Receivers for the clouds' push events: verification, the repositories an event names, and
hostile bodies (table-driven; Google's signature checked with a key pair made here)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from multidict import CIMultiDict

from image_automation.daemon.google_jwt import key_id
from image_automation.daemon.hooks import Check, Verdict, verify
from image_automation.daemon.registry_events import Subject

TOKEN = "hook-Secr3t-token"
ACCEPTED, IGNORED = Verdict.ACCEPTED, Verdict.IGNORED
UNAUTHORIZED, MALFORMED = Verdict.UNAUTHORIZED, Verdict.MALFORMED
ECR_HOST = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"

# --- bodies in each vendor's documented shape ----------------------------------------------


def ecr_event(repo: str = "team/app", action: str = "PUSH", result: str = "SUCCESS",
              kind: str = "ECR Image Action") -> dict[str, Any]:  # fmt: skip
    return {
        "version": "0", "id": "e1", "detail-type": kind, "source": "aws.ecr",
        "account": "123456789012", "time": "2024-01-02T03:04:05Z", "region": "eu-west-1",
        "resources": [],
        "detail": {"result": result, "repository-name": repo, "action-type": action,
                   "image-digest": "sha256:" + "ab" * 32, "image-tag": "1.2.3"},
    }  # fmt: skip


def cloud_event(data: dict[str, Any]) -> dict[str, Any]:
    return {"specversion": "1.0", "id": "c1", "source": "aws.ecr",
            "type": "ECR Image Action", "data": data}  # fmt: skip


def pubsub(event: dict[str, Any] | bytes) -> bytes:
    raw = event if isinstance(event, bytes) else json.dumps(event).encode()
    return json.dumps({
        "message": {"data": base64.b64encode(raw).decode(), "messageId": "1",
                    "publishTime": "2024-01-02T03:04:05Z", "attributes": {}},
        "subscription": "projects/p/subscriptions/s",
    }).encode()  # fmt: skip


AR_PUSH = {"action": "INSERT", "digest": "europe-west1-docker.pkg.dev/p/r/app@sha256:" + "cd" * 32,
           "tag": "europe-west1-docker.pkg.dev/p/r/app:1.2.3"}  # fmt: skip


def notification(*events: dict[str, Any]) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def manifest_push(repo: str = "team/app", tag: str | None = "1.2.3") -> dict[str, Any]:
    target: dict[str, Any] = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                              "digest": "sha256:" + "ef" * 32, "repository": repo}  # fmt: skip
    if tag:
        target["tag"] = tag
    return {"id": "n1", "action": "push", "target": target,
            "request": {"host": "registry.example", "method": "PUT"}}  # fmt: skip


BLOB = {"action": "push", "target": {"mediaType": "application/octet-stream", "repository": "x"}}
PULL = {"action": "pull", "target": {"repository": "team/app", "tag": "1.2.3"}}


def package(name: str = "App", namespace: str = "Org", kind: str = "CONTAINER",
            key: str = "package") -> bytes:  # fmt: skip
    return json.dumps({"action": "published", key: {
        "name": name, "namespace": namespace, "package_type": kind,
        "package_version": {"container_metadata": {"tag": {"name": "1.2.3"}}},
        "registry": {"url": "https://ghcr.io", "vendor": "github"}}}).encode()  # fmt: skip


def signed(body: bytes, event: str = "package") -> dict[str, str]:
    digest = hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": event}


# --- table: (id, type, headers, body, verdict, subjects) -----------------------------------

KEY = {"X-Api-Key": TOKEN}
AUTH = {"Authorization": TOKEN}
J = json.dumps
CASES: list[tuple[str, str, dict[str, str], bytes, Verdict, tuple[Subject, ...] | None]] = [
    ("ecr raw event", "ecr-eventbridge", KEY, J(ecr_event()).encode(), ACCEPTED,
     (Subject("team/app", account="123456789012", region="eu-west-1"),)),
    ("ecr cloudevent, whole event", "ecr-eventbridge", KEY, J(cloud_event(ecr_event())).encode(),
     ACCEPTED, (Subject("team/app", account="123456789012", region="eu-west-1"),)),
    ("ecr cloudevent, detail only", "ecr-eventbridge", KEY,
     J(cloud_event(ecr_event()["detail"])).encode(), ACCEPTED, (Subject("team/app"),)),
    ("ecr cloudevent binary", "ecr-eventbridge", {**KEY, "ce-specversion": "1.0"},
     J(ecr_event()["detail"]).encode(), ACCEPTED, (Subject("team/app"),)),
    ("ecr wrong key", "ecr-eventbridge", {"X-Api-Key": "guess"}, J(ecr_event()).encode(),
     UNAUTHORIZED, None),
    ("ecr key in Authorization", "ecr-eventbridge", AUTH, J(ecr_event()).encode(),
     UNAUTHORIZED, None),
    ("ecr delete", "ecr-eventbridge", KEY, J(ecr_event(action="DELETE")).encode(), IGNORED, None),
    ("ecr failed push", "ecr-eventbridge", KEY, J(ecr_event(result="FAILURE")).encode(), IGNORED,
     None),
    ("ecr scan event", "ecr-eventbridge", KEY, J(ecr_event(kind="ECR Image Scan")).encode(),
     IGNORED, None),
    ("ecr no repository", "ecr-eventbridge", KEY, J(ecr_event(repo="")).encode(), MALFORMED,
     None),
    ("ecr not json", "ecr-eventbridge", KEY, b"PUSH team/app", MALFORMED, None),
    ("ecr detail a list", "ecr-eventbridge", KEY, b'{"detail": []}', MALFORMED, None),
    ("distribution push", "distribution", AUTH, notification(manifest_push()), ACCEPTED,
     (Subject("team/app"),)),
    ("distribution blobs, pull, then two pushes", "distribution", AUTH,
     notification(BLOB, PULL, manifest_push("a/b"), manifest_push("c", tag=None)), ACCEPTED,
     (Subject("a/b"), Subject("c"))),
    ("distribution only pulls", "distribution", AUTH, notification(PULL, BLOB), IGNORED, None),
    ("distribution wrong token", "distribution", {"Authorization": "Bearer x"},
     notification(manifest_push()), UNAUTHORIZED, None),
    ("distribution events not a list", "distribution", AUTH, b'{"events": {}}', MALFORMED, None),
    ("distribution target missing", "distribution", AUTH, b'{"events": [{"action": "push"}]}',
     MALFORMED, None),
    ("distribution control chars", "distribution", AUTH,
     notification(manifest_push("team/app\nevil")), MALFORMED, None),
    ("github package", "github", signed(package()), package(), ACCEPTED,
     (Subject("org/app", host="ghcr.io"),)),
    ("github registry_package", "github", signed(package(key="registry_package"),
     "registry_package"), package(key="registry_package"), ACCEPTED,
     (Subject("org/app", host="ghcr.io"),)),
    ("github npm package", "github", signed(package(kind="npm")), package(kind="npm"), IGNORED,
     None),
    ("github package without package", "github", signed(b"{}"), b"{}", MALFORMED, None),
    ("github package unsigned", "github", {"X-GitHub-Event": "package"}, package(),
     UNAUTHORIZED, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "headers", "body", "verdict", "subjects"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_rule(
    kind: str,
    headers: dict[str, str],
    body: bytes,
    verdict: Verdict,
    subjects: tuple[Subject, ...] | None,
) -> None:
    check = verify(kind, token=TOKEN, events=(), headers=CIMultiDict(headers), body=body)
    assert (check.verdict, check.subjects) == (verdict, subjects), check.reason
    assert TOKEN not in check.reason


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,  # deep: refused before json.loads recurses
        b'{"events": [' + b"{}," * 5000 + b"{}]}",  # more events than any envelope
        b"\xff\xfe{}",  # not UTF-8
        b'{"events": [{"action": "push", "target": {"tag": "1", "repository": "'
        + b"a" * 5000
        + b'"}}]}',
    ],
    ids=["deep", "many events", "not utf-8", "huge repository"],
)
def test_hostile_notification_bodies_are_malformed_not_crashes(body: bytes) -> None:
    check = verify("distribution", token=TOKEN, events=(), headers=AUTH, body=body)
    assert check.verdict is MALFORMED


# --- Subject matching: only what the receiver names, narrowed by the event -----------------


@pytest.mark.parametrize(
    ("subject", "image", "matches"),
    [
        (Subject("team/app", account="123456789012", region="eu-west-1"), f"{ECR_HOST}/team/app",
         True),
        (Subject("team/app", account="123456789012", region="us-east-1"), f"{ECR_HOST}/team/app",
         False),  # another region's repository of the same name
        (Subject("team/app", account="999999999999"), f"{ECR_HOST}/team/app", False),
        (Subject("team/app", account="123456789012"), "registry.example/team/app", False),
        (Subject("team/app"), f"{ECR_HOST}/team/app", True),
        (Subject("team/app"), f"{ECR_HOST}/team/app2", False),
        (Subject("org/app", host="ghcr.io"), "ghcr.io/org/app", True),
        (Subject("org/app", host="ghcr.io"), "docker.io/org/app", False),
        (Subject("team/app"), "registry.example:5000/team/app", True),
    ],
)  # fmt: skip
def test_a_subject_matches_only_its_repository(subject: Subject, image: str, matches: bool) -> None:
    assert subject.matches(image) is matches


# --- gcr: Pub/Sub push with Google's OIDC token ---------------------------------------------

PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KID = "google-key-1"
JWK = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(PRIVATE.public_key())), "kid": KID,
       "alg": "RS256", "use": "sig"}  # fmt: skip
KEYS: Mapping[str, Mapping[str, Any]] = {KID: JWK}
NOW = 1_800_000_000.0
AUDIENCE = "https://hooks.example/hook/abc"
EMAIL = "pusher@proj.iam.gserviceaccount.com"
SECRET = {"audience": AUDIENCE, "email": EMAIL}


def id_token(key: Any = PRIVATE, kid: str = KID, alg: str = "RS256", **claims: Any) -> str:
    body = {"iss": "https://accounts.google.com", "aud": AUDIENCE, "email": EMAIL,
            "email_verified": True, "iat": int(NOW) - 10, "exp": int(NOW) + 3590,
            "sub": "1234", "azp": "1234"}  # fmt: skip
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    if alg == "HS256":
        return jwt.encode(body, "x" * 32, algorithm="HS256", headers={"kid": kid})
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


def gcr(authorization: str, *, body: bytes = pubsub(AR_PUSH), now: float = NOW,
        secret: Mapping[str, str] = SECRET) -> Check:  # fmt: skip
    return verify("gcr", token=TOKEN, events=(), headers={"Authorization": authorization},
                  body=body, secret=secret, google_keys=KEYS, now=now)  # fmt: skip


AR_SUBJECT = (Subject("p/r/app", host="europe-west1-docker.pkg.dev"),)
GCR_CASES: list[tuple[str, str, float, Verdict]] = [
    ("good", f"Bearer {id_token()}", NOW, ACCEPTED),
    ("google issuer without scheme", f"Bearer {id_token(iss='accounts.google.com')}", NOW,
     ACCEPTED),
    ("within the clock skew", f"Bearer {id_token()}", NOW + 3590 + 30, ACCEPTED),
    ("expired", f"Bearer {id_token()}", NOW + 3590 + 120, UNAUTHORIZED),
    ("issued in the future", f"Bearer {id_token(iat=int(NOW) + 600)}", NOW, UNAUTHORIZED),
    ("another audience", f"Bearer {id_token(aud='https://elsewhere')}", NOW, UNAUTHORIZED),
    ("another service account", f"Bearer {id_token(email='x@evil.example')}", NOW, UNAUTHORIZED),
    ("email not verified", f"Bearer {id_token(email_verified=False)}", NOW, UNAUTHORIZED),
    ("another issuer", f"Bearer {id_token(iss='https://evil.example')}", NOW, UNAUTHORIZED),
    ("no exp", f"Bearer {id_token(exp=None)}", NOW, UNAUTHORIZED),
    ("signed by another key", f"Bearer {id_token(OTHER)}", NOW, UNAUTHORIZED),
    ("unknown key id", f"Bearer {id_token(kid='nope')}", NOW, UNAUTHORIZED),
    ("hmac with a guessed secret", f"Bearer {id_token(alg='HS256')}", NOW, UNAUTHORIZED),
    ("alg none", "Bearer " + ".".join(
        base64.urlsafe_b64encode(json.dumps(p).encode()).decode().rstrip("=")
        for p in ({"alg": "none", "kid": KID}, {"aud": AUDIENCE, "email": EMAIL})) + ".",
     NOW, UNAUTHORIZED),
    ("tampered claims", f"Bearer {id_token()[:-4]}AAAA", NOW, UNAUTHORIZED),
    ("not bearer", id_token(), NOW, UNAUTHORIZED),
    ("missing", "", NOW, UNAUTHORIZED),
    ("garbage", "Bearer a.b.c", NOW, UNAUTHORIZED),
    ("huge", "Bearer " + "a" * 100_000 + ".b.c", NOW, UNAUTHORIZED),
]  # fmt: skip


@pytest.mark.parametrize(
    ("authorization", "now", "verdict"),
    [case[1:] for case in GCR_CASES],
    ids=[case[0] for case in GCR_CASES],
)
def test_gcr_checks_the_google_id_token(authorization: str, now: float, verdict: Verdict) -> None:
    check = gcr(authorization, now=now)
    assert check.verdict is verdict, check.reason
    assert check.subjects == (AR_SUBJECT if verdict is ACCEPTED else None)
    assert authorization.removeprefix("Bearer ")[:40] not in check.reason or not authorization


@pytest.mark.parametrize(
    ("body", "verdict", "subjects"),
    [
        (pubsub(AR_PUSH), ACCEPTED, AR_SUBJECT),
        (pubsub({"action": "INSERT", "digest": "gcr.io/proj/app@sha256:" + "cd" * 32}), ACCEPTED,
         (Subject("proj/app", host="gcr.io"),)),
        (pubsub({**AR_PUSH, "action": "DELETE"}), IGNORED, None),
        (pubsub({"action": "INSERT"}), MALFORMED, None),
        (pubsub({"action": "INSERT", "tag": "not an image!"}), MALFORMED, None),
        (pubsub(b"[" * 50_000), MALFORMED, None),
        (b'{"message": {"data": "***not base64***"}}', MALFORMED, None),
        (b'{"message": {}}', MALFORMED, None),
        (b"[]", MALFORMED, None),
    ],
    ids=["pkg.dev tag", "gcr.io digest", "delete", "no image", "bad image", "deep data",
         "not base64", "no data", "not an object"],
)  # fmt: skip
def test_gcr_reads_only_the_image_from_a_verified_push(
    body: bytes, verdict: Verdict, subjects: tuple[Subject, ...] | None
) -> None:
    check = gcr(f"Bearer {id_token()}", body=body)
    assert (check.verdict, check.subjects) == (verdict, subjects), check.reason


@pytest.mark.parametrize("secret", [{}, {"email": EMAIL}, {"audience": AUDIENCE}])
def test_gcr_without_email_and_audience_refuses_everything(secret: dict[str, str]) -> None:
    assert gcr(f"Bearer {id_token()}", secret=secret).verdict is UNAUTHORIZED


def test_the_key_id_is_read_without_trusting_the_token() -> None:
    assert key_id(f"Bearer {id_token(kid='k-7')}") == "k-7"
    assert key_id("Bearer not.a.jwt") is None
    assert key_id(None) is None


def test_a_real_token_is_not_accepted_long_after_it_was_issued() -> None:
    token = id_token(iat=int(time.time()) - 10, exp=int(time.time()) + 3590)
    assert gcr(f"Bearer {token}", now=time.time() + 7200).verdict is UNAUTHORIZED
