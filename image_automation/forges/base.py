"""What the engine sees of a forge: one protocol and the values it passes.

Five forges call a pull request five names (merge request, pull request id, index) and keep
its state in five shapes (GitHub ``merged_at``, GitLab ``state: merged``, Gitea ``merged``,
Bitbucket ``MERGED``, Azure ``completed``). The engine never sees those: every
implementation answers with the frozen values here, so the pull-request lifecycle is written
once. What a forge cannot do is said by :class:`Capabilities` up front and by
``ForgeUnsupported`` if asked anyway, never by silently doing less.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

PullState = Literal["open", "closed", "merged"]
CheckState = Literal["success", "pending", "failure"]
MergeMethod = Literal["merge", "squash", "rebase"]


@dataclass(frozen=True, slots=True)
class PullRequest:
    """A pull request as every forge reports it.

    ``number`` is what the forge's web UI shows (GitHub number, GitLab iid, Gitea index,
    Bitbucket id, Azure pullRequestId). ``title`` never carries a draft prefix (GitLab's
    ``Draft:``, Gitea's ``WIP:``): ``draft`` says it. ``node_id`` is GitHub's GraphQL id.
    """

    number: int
    url: str
    state: PullState
    head_branch: str
    base_branch: str
    head_sha: str
    title: str
    body: str
    labels: tuple[str, ...]
    draft: bool
    node_id: str = ""


@dataclass(frozen=True, slots=True)
class NewPullRequest:
    """What to open: ``head`` is merged into ``base``; ``labels`` must exist on forges that
    know labels only by id (Gitea, Forgejo)."""

    head: str
    base: str
    title: str
    body: str
    labels: tuple[str, ...] = ()
    draft: bool = False


@dataclass(frozen=True, slots=True)
class CheckRun:
    """One commit status or check run, reduced to what gates a merge."""

    name: str
    state: CheckState
    url: str = ""


@dataclass(frozen=True, slots=True)
class Checks:
    """All statuses and check runs of a commit. ``state`` is ``failure`` if any failed,
    else ``pending`` if any is unfinished, else ``success``; ``none`` when there are none."""

    state: Literal["success", "pending", "failure", "none"]
    runs: tuple[CheckRun, ...] = ()


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a forge's API can do; the engine asks before it asks the forge."""

    labels: bool
    assignees: bool
    auto_merge: bool
    draft: bool
    conditional: bool
    """Conditional requests (``If-None-Match`` → 304) that cost no rate limit."""


@dataclass(frozen=True, slots=True)
class GitHubApp:
    """A GitHub App installation: a JWT signed with ``private_key_pem`` buys an
    installation token, cached until shortly before it expires."""

    app_id: str
    installation_id: int
    private_key_pem: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """A GET's answer kept for a conditional request: its ``ETag`` and body."""

    etag: str
    body: bytes


class ResponseCache(Protocol):
    """Where a forge client keeps conditional GETs' answers beyond its own life (the state
    store, through the engine), so a new process sends ``If-None-Match`` too.

    ``key`` is the request's path and query below the client's API root; it never holds a
    credential (those travel in headers). Either method may fail only by logging: a cache
    that cannot answer costs a 200, never the request.
    """

    async def load(self, key: str) -> CachedResponse | None: ...

    async def save(self, key: str, response: CachedResponse) -> None: ...


@dataclass(frozen=True, slots=True)
class ForgeSettings:
    """How to reach one repository's forge.

    ``repository`` is the path as in the git URL: ``org/fleet`` (GitHub, Gitea, Forgejo),
    ``group/sub/project`` (GitLab), ``workspace/slug`` (Bitbucket),
    ``org/project/_git/repo`` (Azure DevOps). ``api_url`` is the API root
    (``https://api.github.com``, ``https://HOST/api/v3``, ``https://HOST/api/v4``,
    ``https://HOST/api/v1``, ``https://api.bitbucket.org/2.0``,
    ``https://dev.azure.com/ORG``). ``token`` and the App key never appear in ``repr``,
    messages or logs. ``username`` switches to Basic auth (Bitbucket app passwords);
    Azure DevOps always sends its token as a Basic password, as its API asks.
    """

    provider: str
    api_url: str
    repository: str
    token: str = field(default="", repr=False)
    username: str = ""
    app: GitHubApp | None = None
    timeout: float = 30.0
    """Seconds for each HTTP request (connect, read, write)."""
    user_agent: str = "image-automation"
    max_pages: int = 20
    """Longest listing we follow; a forge that pages on past it is an error."""
    retries: int = 3
    """Attempts for an idempotent request that meets a 5xx or a connection error."""
    max_rate_wait: float = 0.0
    """Seconds we sit out a rate limit ourselves before retrying an idempotent request;
    a longer (or any, at 0) limit raises ``ForgeRateLimited(delay)`` for the caller."""
    cache: ResponseCache | None = field(default=None, repr=False, compare=False)
    """Conditional GETs' answers kept beyond the client (forges with conditional requests
    only); the client's own memory is asked first."""


class Forge(Protocol):
    """One repository on one forge. Every method may raise the ``Forge*`` errors of
    :mod:`image_automation.errors`; none retries a create blindly."""

    @property
    def capabilities(self) -> Capabilities: ...

    async def default_branch(self) -> str: ...

    async def find_pull_request(
        self, head: str, *, base: str | None = None, state: Literal["open", "all"] = "open"
    ) -> PullRequest | None:
        """The newest pull request from ``head`` (into ``base`` when given), else None."""
        ...

    async def get_pull_request(self, number: int) -> PullRequest: ...

    async def open_pull_request(self, new: NewPullRequest) -> PullRequest: ...

    async def update_pull_request(
        self,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        labels: tuple[str, ...] | None = None,
        base: str | None = None,
        draft: bool | None = None,
    ) -> PullRequest:
        """Change what is given; ``labels`` replaces the set (an empty tuple leaves it).

        ``draft``: whether it is a draft, as the caller just read it; forges that keep that
        in the title (GitLab's ``Draft:``, Gitea's ``WIP:``) then need no read of their own
        to keep the prefix on a new title. ``None``: they read it first.
        """
        ...

    async def close_pull_request(self, number: int, *, comment: str | None = None) -> PullRequest:
        """Close without merging, after posting ``comment`` if given."""
        ...

    async def comment(self, number: int, body: str) -> None: ...

    async def request_review(
        self, number: int, *, reviewers: tuple[str, ...] = (), assignees: tuple[str, ...] = ()
    ) -> None: ...

    async def enable_auto_merge(self, number: int, *, method: MergeMethod = "merge") -> bool:
        """Merge once checks pass; False where the forge has no auto-merge."""
        ...

    async def checks(self, sha: str) -> Checks: ...

    async def aclose(self) -> None: ...


def combine(runs: tuple[CheckRun, ...]) -> Checks:
    """The overall state of ``runs``: any failure fails, any pending waits."""
    if not runs:
        return Checks("none", ())
    states = {run.state for run in runs}
    if "failure" in states:
        return Checks("failure", runs)
    if "pending" in states:
        return Checks("pending", runs)
    return Checks("success", runs)


def strip_prefix(title: str, prefixes: tuple[str, ...]) -> tuple[str, bool]:
    """``title`` without a leading draft marker (case-insensitive), and whether it had one."""
    lowered = title.lower()
    for prefix in prefixes:
        if lowered.startswith(prefix.lower()):
            return title[len(prefix) :].lstrip(), True
    return title, False


__all__ = [
    "Capabilities",
    "CheckRun",
    "CheckState",
    "Checks",
    "Forge",
    "ForgeSettings",
    "GitHubApp",
    "MergeMethod",
    "NewPullRequest",
    "PullRequest",
    "PullState",
    "combine",
    "strip_prefix",
]
