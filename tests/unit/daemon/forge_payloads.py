"""Minimal pull-request webhook deliveries per forge, built from each forge's webhook docs.

Only the fields the receiver reads, in the shapes the forges document; headers carry the
forge's own proof (HMAC signature, token, basic auth) of exactly these body bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

SECRET = "forge-Secr3t-value"
Delivery = tuple[dict[str, str], bytes]


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def dump(payload: object) -> bytes:
    return json.dumps(payload).encode()


def github_payload(
    action: str = "closed",
    *,
    merged: bool = False,
    number: int = 7,
    head: str = "image-updates",
    base: str = "main",
    repository: str = "org/fleet",
    changes: dict[str, object] | None = None,
) -> dict[str, object]:
    """GitHub's ``pull_request`` event; Gitea and Forgejo send the same shape."""
    payload: dict[str, object] = {
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "state": "closed" if action == "closed" else "open",
            "merged": merged,
            "body": "- [ ] rebase now",
            "head": {"ref": head, "sha": "1" * 40},
            "base": {"ref": base, "sha": "2" * 40},
        },
        "repository": {"full_name": repository, "name": repository.split("/")[-1]},
    }
    if changes is not None:
        payload["changes"] = changes
    return payload


def github(payload: object, *, event: str = "pull_request", secret: str = SECRET) -> Delivery:
    body = dump(payload)
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-Hub-Signature-256": f"sha256={sign(body, secret)}",
        "Content-Type": "application/json",
    }
    return headers, body


def gitea(
    payload: object, *, event: str = "pull_request", secret: str = SECRET, forge: str = "Gitea"
) -> Delivery:
    """Gitea signs with ``X-Gitea-*``; ``forge="Forgejo"`` sends Forgejo's own headers too."""
    body = dump(payload)
    headers = {
        f"X-{forge}-Event": event,
        f"X-{forge}-Signature": sign(body, secret),
        "Content-Type": "application/json",
    }
    if forge == "Forgejo":
        headers |= {"X-Gitea-Event": event, "X-Gitea-Signature": sign(body, secret)}
    return headers, body


def gitlab_payload(
    action: str = "merge",
    *,
    iid: int = 7,
    source: str = "image-updates",
    target: str = "main",
    project: str = "group/sub/fleet",
    oldrev: str | None = None,
    changes: dict[str, object] | None = None,
) -> dict[str, object]:
    attributes: dict[str, object] = {
        "id": 99,
        "iid": iid,
        "action": action,
        "state": "merged" if action == "merge" else "opened",
        "source_branch": source,
        "target_branch": target,
        "description": "- [ ] rebase now",
    }
    if oldrev is not None:
        attributes["oldrev"] = oldrev
    return {
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "project": {"path_with_namespace": project},
        "object_attributes": attributes,
        "changes": changes or {},
    }


def gitlab(payload: object, *, event: str = "Merge Request Hook", token: str = SECRET) -> Delivery:
    return {"X-Gitlab-Event": event, "X-Gitlab-Token": token}, dump(payload)


def bitbucket_payload(
    *,
    number: int = 7,
    source: str = "image-updates",
    destination: str = "main",
    repository: str = "workspace/fleet",
    state: str = "MERGED",
) -> dict[str, object]:
    return {
        "repository": {"full_name": repository, "type": "repository"},
        "pullrequest": {
            "id": number,
            "state": state,
            "source": {"branch": {"name": source}},
            "destination": {"branch": {"name": destination}},
        },
    }


def bitbucket(
    payload: object, *, key: str = "pullrequest:fulfilled", secret: str = SECRET
) -> Delivery:
    body = dump(payload)
    headers = {
        "X-Event-Key": key,
        "X-Hub-Signature": f"sha256={sign(body, secret)}",
        "X-Request-UUID": "d3f4c1b2-0000-0000-0000-000000000000",
    }
    return headers, body


def azure_payload(
    event_type: str = "git.pullrequest.merged",
    *,
    status: str = "completed",
    number: int = 7,
    source: str = "refs/heads/image-updates",
    target: str = "refs/heads/main",
    remote_url: str = "https://org@dev.azure.com/org/Fleet%20Project/_git/fleet",
    api_url: str = "https://dev.azure.com/org/_apis/git/repositories/c2c2c2c2",
) -> dict[str, object]:
    return {
        "id": "a0a0a0a0-bbbb-cccc-dddd-e1e1e1e1e1e1",
        "eventType": event_type,
        "publisherId": "tfs",
        "resource": {
            "repository": {
                "id": "c2c2c2c2-dddd-eeee-ffff-a3a3a3a3a3a3",
                "name": "fleet",
                "url": api_url,
                "project": {"id": "d3d3d3d3", "name": "Fleet Project"},
                "remoteUrl": remote_url,
            },
            "pullRequestId": number,
            "status": status,
            "sourceRefName": source,
            "targetRefName": target,
            "mergeStatus": "succeeded",
        },
    }


def azure(payload: object, *, user: str = "image-automation", password: str = SECRET) -> Delivery:
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}, dump(payload)
