"""Webhook senders: a fake forge's PR closed/merged/edited event, POSTed the way that forge does.

Each forge's own documentation decides the shape and the proof of origin:

- GitHub: ``X-GitHub-Event: pull_request``, ``X-GitHub-Delivery``, ``X-Hub-Signature-256:
  sha256=<hex HMAC-SHA256 of the body>``; merged = ``action: closed`` + ``pull_request.merged``.
- GitLab: ``X-Gitlab-Event: Merge Request Hook``, the secret as plain ``X-Gitlab-Token``;
  ``object_attributes.action`` ``merge``/``close``/``update``.
- Gitea: ``X-Gitea-Event: pull_request``, ``X-Gitea-Signature: <hex HMAC-SHA256>`` (no
  prefix), GitHub-like payload; Forgejo sends the same plus ``X-Forgejo-*`` twins.
- Bitbucket Cloud: ``X-Event-Key: pullrequest:fulfilled|rejected|updated``, ``X-Hub-Signature:
  sha256=<hex>``, ``X-Request-UUID``, ``X-Hook-UUID``.
- Azure DevOps service hooks: no signature; the subscription's HTTP Basic credentials;
  ``eventType`` ``git.pullrequest.merged`` / ``git.pullrequest.updated``.

``await send_event(fake, url, action="merged", number=1, secret="s")`` builds and POSTs it and
returns the receiver's response; ``build_event`` gives (headers, body) for tests that sign by
hand or tamper with them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from typing import Any, Literal

import httpx

from tests.forges.state import PullRequest

Action = Literal["closed", "merged", "edited"]


def _hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _changes(pr: PullRequest, previous: dict[str, str] | None) -> dict[str, Any]:
    return {field: {"from": old} for field, old in (previous or {}).items()}


def _github_like(fake: Any, pr: PullRequest, action: Action, previous: Any) -> dict[str, Any]:
    owner, name = fake.repository.split("/")[:2]
    payload: dict[str, Any] = {
        "action": "edited" if action == "edited" else "closed",
        "number": pr.number,
        "pull_request": {
            "number": pr.number,
            "node_id": pr.node_id,
            "title": pr.title,
            "body": pr.body,
            "state": "open" if pr.state == "open" else "closed",
            "merged": pr.state == "merged",
            "merged_at": pr.merged_at,
            "merge_commit_sha": pr.merge_commit_sha,
            "head": {"ref": pr.head, "sha": fake.head_sha(pr)},
            "base": {"ref": pr.base},
            "html_url": fake.web_url(f"/pull/{pr.number}"),
            "labels": [{"name": n} for n in pr.labels],
        },
        "repository": {
            "full_name": fake.repository,
            "name": name,
            "owner": {"login": owner},
            "clone_url": fake.git_url,
            "html_url": fake.web_url(),
        },
        "sender": {"login": "a-human"},
    }
    if action == "edited":
        payload["changes"] = _changes(pr, previous)
    return payload


def _github(fake: Any, pr: PullRequest, action: Action, secret: str, previous: Any) -> Any:
    body = json.dumps(_github_like(fake, pr, action, previous)).encode()
    headers = {
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": "sha256=" + _hmac_hex(secret, body),
        "User-Agent": "GitHub-Hookshot/fake",
    }
    return headers, body


def _gitea(fake: Any, pr: PullRequest, action: Action, secret: str, previous: Any) -> Any:
    body = json.dumps(_github_like(fake, pr, action, previous)).encode()
    delivery, signature = str(uuid.uuid4()), _hmac_hex(secret, body)
    headers = {
        "X-Gitea-Event": "pull_request",
        "X-Gitea-Event-Type": "pull_request",
        "X-Gitea-Delivery": delivery,
        "X-Gitea-Signature": signature,
        "X-GitHub-Event": "pull_request",
        "X-Hub-Signature-256": "sha256=" + signature,
    }
    if fake.provider == "forgejo":
        headers |= {
            "X-Forgejo-Event": "pull_request",
            "X-Forgejo-Event-Type": "pull_request",
            "X-Forgejo-Delivery": delivery,
            "X-Forgejo-Signature": signature,
        }
    return headers, body


def _gitlab(fake: Any, pr: PullRequest, action: Action, secret: str, previous: Any) -> Any:
    verb = {"merged": "merge", "closed": "close", "edited": "update"}[action]
    state = {"open": "opened", "closed": "closed", "merged": "merged"}[pr.state]
    changes = {
        {"body": "description"}.get(k, k): {"previous": v["from"], "current": getattr(pr, k)}
        for k, v in _changes(pr, previous).items()
    }
    payload = {
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "user": {"username": "a-human", "name": "a-human"},
        "project": {
            "id": 4242,
            "path_with_namespace": fake.repository,
            "web_url": fake.web_url(),
            "git_http_url": fake.git_url,
            "default_branch": "main",
        },
        "object_attributes": {
            "iid": pr.number,
            "id": 70000 + pr.number,
            "title": pr.title,
            "description": pr.body,
            "state": state,
            "action": verb,
            "source_branch": pr.head,
            "target_branch": pr.base,
            "last_commit": {"id": fake.head_sha(pr)},
            "merge_commit_sha": pr.merge_commit_sha,
            "url": fake.web_url(f"/-/merge_requests/{pr.number}"),
        },
        "labels": [{"title": n} for n in pr.labels],
        "changes": changes,
    }
    headers = {
        "X-Gitlab-Event": "Merge Request Hook",
        "X-Gitlab-Token": secret,
        "X-Gitlab-Event-UUID": str(uuid.uuid4()),
        "X-Gitlab-Instance": fake.base_url,
    }
    return headers, json.dumps(payload).encode()


def _bitbucket(fake: Any, pr: PullRequest, action: Action, secret: str, previous: Any) -> Any:
    key = {
        "merged": "pullrequest:fulfilled",
        "closed": "pullrequest:rejected",
        "edited": "pullrequest:updated",
    }[action]
    payload = {
        "actor": {"type": "user", "display_name": "a-human"},
        "pullrequest": {
            "type": "pullrequest",
            "id": pr.number,
            "title": pr.title,
            "description": pr.body,
            "state": {"open": "OPEN", "closed": "DECLINED", "merged": "MERGED"}[pr.state],
            "source": {"branch": {"name": pr.head}, "commit": {"hash": fake.head_sha(pr)}},
            "destination": {"branch": {"name": pr.base}},
            "merge_commit": {"hash": pr.merge_commit_sha} if pr.merge_commit_sha else None,
            "links": {"html": {"href": fake.web_url(f"/pull-requests/{pr.number}")}},
        },
        "repository": {
            "type": "repository",
            "full_name": fake.repository,
            "name": fake.repository.split("/")[1],
        },
    }
    body = json.dumps(payload).encode()
    headers = {
        "X-Event-Key": key,
        "X-Hub-Signature": "sha256=" + _hmac_hex(secret, body),
        "X-Request-UUID": str(uuid.uuid4()),
        "X-Hook-UUID": str(uuid.uuid4()),
        "X-Attempt-Number": "1",
    }
    return headers, body


def _azure(fake: Any, pr: PullRequest, action: Action, secret: str, previous: Any) -> Any:
    event = "git.pullrequest.merged" if action == "merged" else "git.pullrequest.updated"
    status = {"open": "active", "closed": "abandoned", "merged": "completed"}[pr.state]
    payload = {
        "subscriptionId": str(uuid.uuid4()),
        "notificationId": 1,
        "id": str(uuid.uuid4()),
        "eventType": event,
        "publisherId": "tfs",
        "message": {"text": f"pull request {pr.number} {status}"},
        "resource": {
            "repository": {
                "name": fake.repo_name,
                "remoteUrl": fake.git_url,
                "project": {"name": fake.project},
            },
            "pullRequestId": pr.number,
            "status": status,
            "title": pr.title,
            "description": pr.body,
            "sourceRefName": f"refs/heads/{pr.head}",
            "targetRefName": f"refs/heads/{pr.base}",
            "mergeStatus": "succeeded",
            "lastMergeSourceCommit": {"commitId": fake.head_sha(pr)},
            "lastMergeCommit": {"commitId": pr.merge_commit_sha} if pr.merge_commit_sha else None,
        },
        "resourceVersion": "1.0",
        "resourceContainers": {"project": {"id": fake.project}, "account": {"id": fake.org}},
    }
    credentials = base64.b64encode(f"azure-hooks:{secret}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}, json.dumps(payload).encode()


_BUILDERS: dict[str, Callable[..., Any]] = {
    "github": _github,
    "gitlab": _gitlab,
    "gitea": _gitea,
    "forgejo": _gitea,
    "bitbucket": _bitbucket,
    "azuredevops": _azure,
}


def build_event(
    fake: Any,
    *,
    action: Action,
    number: int,
    secret: str,
    previous: dict[str, str] | None = None,
) -> tuple[dict[str, str], bytes]:
    """Headers and body of ``fake``'s webhook for PR ``number`` (``previous`` title/body for
    ``edited``). The PR is read as it is now: close or merge it first for those events."""
    with fake.lock:
        pr = fake.pulls[number]
        headers, body = _BUILDERS[fake.provider](fake, pr, action, secret, previous)
    return {"Content-Type": "application/json", **headers}, body


async def send_event(
    fake: Any,
    url: str,
    *,
    action: Action,
    number: int,
    secret: str,
    previous: dict[str, str] | None = None,
) -> httpx.Response:
    """POST the event to ``url`` (the daemon's hook endpoint) and return its answer."""
    headers, body = build_event(
        fake, action=action, number=number, secret=secret, previous=previous
    )
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(url, content=body, headers=headers)
