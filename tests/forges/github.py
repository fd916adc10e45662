"""Fake GitHub (REST under ``/api/v3`` as on Enterprise Server, GraphQL at ``/api/graphql``).

Beyond the shared rules it plays what GitHub documents for clients that care about cost:
every reply carries ``x-ratelimit-*`` headers; each authorised request uses one unit of the
primary limit except a ``304 Not Modified``, which GitHub does not count ("Best practices for
using the REST API: use conditional requests"); GETs carry an ``ETag`` and answer 304 to a
matching ``If-None-Match`` where the description lists a 304 for the operation (pulls/list,
pulls/get — elsewhere a 200 with the ETag). ``set_rate_limit(remaining=0)`` makes the next
requests fail as an exhausted primary limit does (403, ``x-ratelimit-remaining: 0``).
GitHub App: ``fake.app`` holds an app id, an installation id and a private key; a JWT signed
with it buys installation tokens (1 hour, ``expire_installation_tokens()`` ends them early).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.forges.github_graphql import GraphQLEndpoint
from tests.forges.github_ops import GitHubOps
from tests.forges.github_render import GitHubRender
from tests.forges.hooks import Fault
from tests.forges.server import Answer, Call, FakeForge, Reply
from tests.forges.state import PullRequest
from tests.integration.fixture_base import SECRETS

DOCS = "https://docs.github.com/rest"
_R = "/repos/{owner}/{repo}"


@dataclass
class GitHubApp:
    app_id: int
    installation_id: int
    private_key_pem: str
    tokens: dict[str, float] = field(default_factory=dict)  # installation token -> expiry


def _make_app() -> GitHubApp:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return GitHubApp(app_id=31337, installation_id=7100, private_key_pem=pem)


class GitHubFake(GraphQLEndpoint, GitHubOps, GitHubRender, FakeForge):
    provider = "github"
    spec_name = "github"
    api_prefix = "/api/v3"
    supports_check_runs = True
    routes: ClassVar[dict[str, str]] = {
        f"GET {_R}": "get_repo",
        f"GET {_R}/pulls": "list_pulls",
        f"POST {_R}/pulls": "create_pull",
        f"GET {_R}/pulls/{{pull_number}}": "get_pull",
        f"PATCH {_R}/pulls/{{pull_number}}": "update_pull",
        f"PUT {_R}/pulls/{{pull_number}}/merge": "merge_api",
        f"POST {_R}/pulls/{{pull_number}}/requested_reviewers": "request_reviewers",
        f"GET {_R}/issues/{{issue_number}}/comments": "list_comments",
        f"POST {_R}/issues/{{issue_number}}/comments": "create_comment",
        f"PATCH {_R}/issues/comments/{{comment_id}}": "update_comment",
        f"POST {_R}/issues/{{issue_number}}/labels": "add_labels",
        f"PUT {_R}/issues/{{issue_number}}/labels": "set_labels",
        f"POST {_R}/issues/{{issue_number}}/assignees": "add_assignees",
        f"GET {_R}/commits/{{ref}}/status": "combined_status",
        f"GET {_R}/commits/{{ref}}/statuses": "list_statuses",
        f"GET {_R}/commits/{{ref}}/check-runs": "list_check_runs",
        f"GET {_R}/branches/{{branch}}": "get_branch",
        f"GET {_R}/git/ref/{{ref}}": "get_ref",
        f"DELETE {_R}/git/refs/{{ref}}": "delete_ref",
        "POST /app/installations/{installation_id}/access_tokens": "installation_token",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.labels_catalog: dict[str, int] = {}
        self.users = {self.bot_user, "a-human", "alice", "bob", "carol"}
        self.app = _make_app()
        self.rate_limit, self.rate_remaining = 5000, 5000
        self.rate_reset = int(time.time()) + 3600

    # -- hooks ------------------------------------------------------------------------------

    def set_rate_limit(self, *, remaining: int, reset_in: int = 60) -> None:
        with self.lock:
            self.rate_remaining, self.rate_reset = remaining, int(time.time()) + reset_in

    def expire_installation_tokens(self) -> None:
        with self.lock:
            self.app.tokens = dict.fromkeys(self.app.tokens, 0.0)

    # -- plumbing ---------------------------------------------------------------------------

    def error_body(self, status: int, message: str) -> Any:
        return {"message": message, "documentation_url": DOCS}

    def authenticate(self, headers: Any) -> str | None:
        scheme, _, value = headers.get("Authorization", "").partition(" ")
        if scheme.lower() in ("bearer", "token") and self.app.tokens.get(value, 0) > time.time():
            return self.bot_user
        if scheme.lower() == "bearer" and value.count(".") == 2:
            return self._app_from_jwt(value)
        return super().authenticate(headers)

    def _app_from_jwt(self, token: str) -> str | None:
        public = serialization.load_pem_private_key(
            self.app.private_key_pem.encode(), None
        ).public_key()
        try:
            claims = jwt.decode(
                token,
                public,
                algorithms=["RS256"],  # type: ignore[arg-type]
                options={"require": ["iat", "exp", "iss"]},
            )
        except jwt.PyJWTError:
            return None
        if str(claims["iss"]) != str(self.app.app_id) or claims["exp"] - claims["iat"] > 600:
            return None
        return f"app:{self.app.app_id}"

    def fault_reply(self, fault: Fault) -> Reply:
        if fault.kind == "secondary_rate_limit":
            message = (
                "You have exceeded a secondary rate limit. Please wait a few minutes before "
                "you try again."
            )
            headers = {"retry-after": str(fault.retry_after), **self._rate_headers()}
            return Reply(403, self.error_body(403, message), headers, checked=False)
        return super().fault_reply(fault)

    def _rate_headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": str(max(self.rate_remaining, 0)),
            "x-ratelimit-used": str(self.rate_limit - max(self.rate_remaining, 0)),
            "x-ratelimit-reset": str(self.rate_reset),
            "x-ratelimit-resource": "core",
        }

    def dispatch(self, call: Call) -> Reply:
        is_app_op = call.op.key.startswith("POST /app/")
        if call.user.startswith("app:") != is_app_op:
            return Reply(401, self.error_body(401, "Bad credentials"), checked=False)
        with self.lock:
            if self.rate_remaining <= 0 and time.time() < self.rate_reset:
                message = "API rate limit exceeded for installation."
                return Reply(403, self.error_body(403, message), self._rate_headers(), False)
        return super().dispatch(call)

    def finish(self, call: Call, reply: Reply) -> Reply:
        if call.method == "GET" and reply.status == 200:
            digest = hashlib.sha256(json.dumps(reply.body, sort_keys=True).encode()).hexdigest()
            etag = f'W/"{digest[:32]}"'
            reply.headers["ETag"] = etag
            sent = [t.strip() for t in call.headers.get("If-None-Match", "").split(",")]
            if etag in sent and "304" in call.op.spec.get("responses", {}):
                reply = Reply(304, None, {"ETag": etag})
        if reply.status != 304:
            self.rate_remaining -= 1
        reply.headers.update(self._rate_headers())
        return reply

    # -- helpers ----------------------------------------------------------------------------

    def _repo_or_404(self, call: Call) -> None:
        if f"{call.params.get('owner')}/{call.params.get('repo')}" != self.repository:
            raise self.fail(404, "Not Found")

    def _pr(self, call: Call, key: str = "pull_number") -> PullRequest:
        self._repo_or_404(call)
        pr = self.pulls.get(int(call.params[key]))
        if pr is None:
            raise self.fail(404, "Not Found")
        return pr

    def _pr_reply(self, pr: PullRequest, *, status: int = 200, simple: bool = False) -> Reply:
        sha = self.head_sha(pr)
        mergeable = self.repo.mergeable(pr.base, pr.head) if pr.state == "open" else None
        return Reply(status, self.pr_json(pr, sha=sha, mergeable=mergeable, simple=simple))

    def base_sha(self, pr: PullRequest) -> str:
        return self.repo.sha(pr.base) or ""

    def mergeable_state(self, pr: PullRequest, mergeable: bool | None) -> str:
        if pr.state != "open" or mergeable is None:
            return "unknown"
        if not mergeable:
            return "dirty"
        if pr.draft:
            return "draft"
        checks = self.checks_state(self.head_sha(pr))
        return {"failure": "unstable", "pending": "blocked"}.get(checks, "clean")

    def validation_failed(self, message: str, field_name: str = "") -> Answer:
        error = {"resource": "PullRequest", "code": "custom", "message": message}
        if field_name:
            error["field"] = field_name
        body = {"message": "Validation Failed", "errors": [error], "documentation_url": DOCS}
        return Answer(Reply(422, body))

    def refusal_reply(self, call: Call, refusal: Any) -> Reply:
        if refusal.kind in ("conflict", "not-open"):
            return Reply(405, self.error_body(405, "Pull Request is not mergeable"))
        if refusal.kind == "sha":
            message = "Head branch was modified. Review and try the merge again."
            return Reply(409, self.error_body(409, message))
        return self.validation_failed(refusal.message).reply

    def installation_token(self, call: Call) -> Reply:
        if int(call.params["installation_id"]) != self.app.installation_id:
            raise self.fail(404, "Not Found")
        token = "ghs_" + secrets.token_hex(18)
        SECRETS.add(token)
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        self.app.tokens[token] = expires.timestamp()
        value = {"token": token, "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}
        return Reply(
            201,
            self.filler.fill(
                {"$ref": "#/components/schemas/installation-token"},
                value
                | {"permissions": {"pull_requests": "write"}, "repository_selection": "selected"},
            ),
        )
