"""Pull-request settings → :class:`PullRequestPlan`; head branch names; the forge token.

Both kinds end in the same plan: a native ``spec.pullRequest`` block, or a Flux
``ImageUpdateAutomation``'s annotations (whose head is its push branch and whose base is its
checkout branch). Everything that can be known before any git or forge work is checked
here, so ``validate`` reports it at ``file:line`` and ``reconcile`` refuses the automation
before cloning: bad values, a head that is the base, a template that does not parse, a
repository whose forge nobody named. Names are re-exported by
:mod:`image_automation.engine.automations`, which is where callers import them from.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from image_automation.config.loading import Loaded
from image_automation.config.models import ImageAutomation, ImageUpdateAutomation
from image_automation.config.pull_requests import (
    ANNOTATION_PREFIX,
    MAX_BRANCH_BYTES,
    PULL_REQUEST_ANNOTATION,
    NativePullRequest,
    branch_problem,
    pull_request_from_annotations,
    shown,
)
from image_automation.domain import ImageRef
from image_automation.errors import ConfigError, ForgeError, Location
from image_automation.forges import PROVIDERS, detect_forge

if TYPE_CHECKING:
    from image_automation.engine.automations import AutomationPlan

DEFAULT_BRANCH_PREFIX = "image-automation/"
SUFFIX_CHARS = 50
"""Longest grouping suffix (after its ``-``); a longer slug is cut and gets a hash."""
MAX_TOKEN_BYTES = 64 * 1024
_HASH_CHARS = 8


@dataclass(frozen=True, slots=True)
class PullRequestPlan:
    """How one automation delivers through pull requests (resolved, validated settings).

    ``branch`` is the head before grouping suffixes (:func:`head_branch` adds them); the base
    is the plan's ``repo.branch``. ``provider``/``api_url`` None: detected from the git URL
    (``forges.detect_forge``). ``secret`` None: the token is in the git secret.
    ``per_hour``: pull requests opened per rolling hour; ``max_open``: open at once.
    """

    provider: str | None
    api_url: str | None
    secret: str | None
    branch: str
    grouping: Literal["automation", "policy", "image"] = "automation"
    title_template: str | None = None
    body_template: str | None = None
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    draft: bool = False
    auto_merge: Literal["merge", "squash", "rebase"] | None = None
    per_hour: int = 10
    max_open: int = 10


class PlanProblems(ConfigError):
    """Every problem of one automation; ``str()`` is the first (and how many more)."""

    def __init__(self, problems: Sequence[ConfigError]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more; see validate)" if len(problems) > 1 else ""
        super().__init__(first.message + more, location=first.location)
        self.problems = tuple(problems)


def native_pull_request(
    doc: Loaded, obj: ImageAutomation, *, url: str, base: str, check_forge: bool
) -> PullRequestPlan | None:
    """The plan of ``spec.pullRequest`` (None: absent or ``enabled: false``)."""
    settings = obj.spec.pull_request
    if settings is None or not settings.enabled:
        return None
    branch, problems = _native_branch(doc, obj, settings, base=base)
    for name in ("title", "body"):
        problems += _template_problems(doc, getattr(settings, name), ("spec", "pullRequest", name))
    if check_forge:
        hint = "spec.pullRequest.provider (and apiURL if the API is elsewhere)"
        problem = _forge_problem(url, settings, hint=hint)
        if problem:
            where = "provider" if settings.provider else "apiURL" if settings.api_url else ""
            path = ("spec", "pullRequest", where) if where else ("spec", "pullRequest")
            problems.append(ConfigError(problem, location=at(doc, path)))
    if problems:
        raise PlanProblems(problems)
    return _plan(settings, branch)


def _native_branch(
    doc: Loaded, obj: ImageAutomation, settings: NativePullRequest, *, base: str
) -> tuple[str, list[ConfigError]]:
    """The head: ``pullRequest.branch``, else ``git.push.branch``, else the default."""
    push = obj.spec.git.push.branch if obj.spec.git.push else None
    field: tuple[str, ...]
    if settings.branch:
        branch, field = settings.branch, ("spec", "pullRequest", "branch")
    elif push:
        branch, field = push, ("spec", "git", "push", "branch")
    else:
        branch, field = default_branch(obj.metadata.name), ("metadata", "name")
    problem = branch_problem(branch)
    if problem:
        message = f"head branch {shown(branch)} {problem}"
    elif branch == base:
        message = (
            f"head branch {branch!r} is the checkout branch: a pull request needs a branch "
            "of its own (set spec.pullRequest.branch, or drop spec.git.push.branch for the "
            f"default {DEFAULT_BRANCH_PREFIX}<name>)"
        )
    else:
        return branch, []
    return branch, [ConfigError(message, location=at(doc, field))]


def flux_pull_request(
    doc: Loaded,
    obj: ImageUpdateAutomation,
    *,
    url: str,
    base: str,
    push: str | None,
    check_forge: bool,
) -> PullRequestPlan | None:
    """The plan of a Flux automation's annotations (None: it did not opt in)."""
    annotations = (obj.metadata.model_extra or {}).get("annotations")
    annotated = pull_request_from_annotations(annotations)
    problems = [ConfigError(m, location=_annotation(doc, k)) for k, m in annotated.errors]
    settings = annotated.settings
    if annotated.opted_in:
        problems += _flux_branch_problems(doc, base=base, push=push)
        title = annotations.get(ANNOTATION_PREFIX + "pr-title") if annotations else None
        if isinstance(title, str):
            problems += _template_problems(doc, title, _annotation_path("pr-title"))
    if settings is not None and check_forge:
        hint = f"the annotation {ANNOTATION_PREFIX}forge (and {ANNOTATION_PREFIX}forge-api-url)"
        problem = _forge_problem(url, settings, hint=hint)
        if problem:
            key = "forge" if settings.provider else "forge-api-url" if settings.api_url else ""
            where = _annotation(doc, ANNOTATION_PREFIX + key if key else PULL_REQUEST_ANNOTATION)
            problems.append(ConfigError(problem, location=where))
    if problems:
        raise PlanProblems(problems)
    return _plan(settings, push or "") if settings is not None else None


def _flux_branch_problems(doc: Loaded, *, base: str, push: str | None) -> list[ConfigError]:
    """The head is the push branch: it must be set, differ from the base, and be ref-safe."""
    opt_in = _annotation(doc, PULL_REQUEST_ANNOTATION)
    if not push:
        message = (
            f"needs spec.git.push.branch: the pull request's head (its base is the checkout "
            f"branch {base!r})"
        )
        return [ConfigError(message, location=opt_in)]
    if push == base:
        message = (
            f"spec.git.push.branch {push!r} is the checkout branch: a pull request needs a "
            "push branch of its own (its head)"
        )
        return [ConfigError(message, location=opt_in)]
    problem = branch_problem(push)
    if problem:
        where = at(doc, ("spec", "git", "push", "branch"))
        return [ConfigError(f"head branch {shown(push)} {problem}", location=where)]
    return []


def pull_request_location(doc: Loaded) -> Location:
    """Where a document's pull-request settings start (for problems across automations)."""
    if isinstance(doc.obj, ImageUpdateAutomation):
        return _annotation(doc, PULL_REQUEST_ANNOTATION)
    return doc.location("spec", "pullRequest")


def shared_heads(planned: Iterable[tuple[AutomationPlan, Loaded]]) -> list[ConfigError]:
    """Two automations pushing one head branch of one repository would undo each other."""
    owners: dict[tuple[str, str], str] = {}
    errors = []
    for plan, doc in planned:
        if plan.pull_request is None:
            continue
        head = (plan.repo.url, plan.pull_request.branch)
        if head in owners:
            message = f"head branch {head[1]!r} is already the head branch of {owners[head]}"
            errors.append(ConfigError(message, location=pull_request_location(doc)))
        owners.setdefault(head, plan.key)
    return errors


def _plan(settings: NativePullRequest, branch: str) -> PullRequestPlan:
    return PullRequestPlan(
        provider=settings.provider,
        api_url=settings.api_url,
        secret=settings.secret_ref.name if settings.secret_ref else None,
        branch=branch,
        grouping=settings.grouping,
        title_template=settings.title,
        body_template=settings.body,
        labels=tuple(settings.labels),
        reviewers=tuple(settings.reviewers),
        assignees=tuple(settings.assignees),
        draft=settings.draft,
        auto_merge=settings.auto_merge,
        per_hour=settings.limits.per_hour,
        max_open=settings.limits.open,
    )


def at(doc: Loaded, path: Sequence[str]) -> Location:
    return doc.location(*path)


def _annotation_path(name: str) -> tuple[str, ...]:
    return ("metadata", "annotations", ANNOTATION_PREFIX + name)


def _annotation(doc: Loaded, key: str) -> Location:
    return doc.location("metadata", "annotations", key)


def _template_problems(doc: Loaded, source: str | None, path: Sequence[str]) -> list[ConfigError]:
    """A template that does not parse, at its own line (block scalars start a line below)."""
    if source is None:
        return []
    try:
        SandboxedEnvironment().parse(source)
    except jinja2.TemplateSyntaxError as exc:
        key = at(doc, path)
        line = key.line + (exc.lineno if "\n" in source and key.line else 0)
        where = Location(key.file, line, key.field)
        return [ConfigError(f"template line {exc.lineno}: {exc.message}", location=where)]
    except RecursionError:
        return [ConfigError("template is nested too deeply", location=at(doc, path))]
    return []


def _forge_problem(url: str, settings: NativePullRequest, *, hint: str) -> str | None:
    """Why no forge can be found for ``url`` with these settings (None: one can)."""
    try:
        found = detect_forge(url, provider=settings.provider, api_url=settings.api_url)
    except ForgeError as exc:
        return str(exc)
    if found is not None:
        return None
    if settings.provider is not None:
        return (
            "the repository URL is a local path or file:// URL; a pull request needs the "
            "forge's https:// or ssh URL"
        )
    host = _host(url)
    return (
        f"cannot tell the forge from the repository URL{f' (host {host})' if host else ''}: "
        f"set {hint}; providers: {', '.join(PROVIDERS)}"
    )


def _host(url: str) -> str:
    try:
        host = urlsplit(url).hostname if "://" in url else url.partition(":")[0].rpartition("@")[2]
    except ValueError:
        return ""
    return shown(host, 80) if host and "/" not in host else ""


# --- head branches --------------------------------------------------------------------------


def default_branch(name: str) -> str:
    """``image-automation/<name>``, the name made ref-safe and cut to fit the branch limit."""
    room = MAX_BRANCH_BYTES - len(DEFAULT_BRANCH_PREFIX)
    return DEFAULT_BRANCH_PREFIX + _slug(name, limit=room, exact=True)


def head_branch(plan: PullRequestPlan, *, policy: str | None, image: str | None) -> str:
    """The head branch of one group: ``branch``, ``branch-<policy>`` or ``branch-<image>``.

    Deterministic and ref-safe. ``policy`` is a policy's name or its ``namespace/name`` /
    ``namespace:name`` key (only the name is used: an automation's policies share its
    namespace). ``image`` is a reference; its tag and digest are dropped so one head carries
    every version, and Docker Hub's ``docker.io/library/`` is left out. A slug cut to fit
    (or, for a policy, one that had to change the name) ends in a hash of the whole text,
    so two long names with a common start never share a branch.
    """
    if plan.grouping == "automation":
        return plan.branch
    if plan.grouping == "policy":
        if not policy:
            raise ValueError("grouping by policy needs the policy")
        return f"{plan.branch}-{_slug(re.split(r'[/:]', policy)[-1], exact=True)}"
    if not image:
        raise ValueError("grouping by image needs the image")
    return f"{plan.branch}-{_image_slug(image)}"


def _image_slug(image: str) -> str:
    try:
        ref = ImageRef.parse(image)
    except ValueError:
        return _slug(image, exact=True)
    name = ref.name.removeprefix("docker.io/").removeprefix("library/")
    return _slug(name, exact=False)


def _slug(text: str, *, limit: int = SUFFIX_CHARS, exact: bool) -> str:
    """``text`` as one ref-safe component of ``[a-z0-9._-]``; ``exact``: any change hashes."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower())
    slug = re.sub(r"\.{2,}", ".", slug)
    slug = re.sub(r"-{2,}", "-", slug).strip("-._")
    if slug.endswith(".lock"):
        slug = slug[: -len(".lock")] + "-lock"
    if slug and len(slug) <= limit and not (exact and slug != text):
        return slug
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
    head = slug[: limit - _HASH_CHARS - 1].rstrip("-._")
    return f"{head}-{digest}" if head else digest


# --- the forge token ------------------------------------------------------------------------


def forge_token(plan: AutomationPlan, secrets_dir: Path | None) -> str:
    """The API token of ``plan``'s forge: the file ``bearerToken``, else ``password``, of
    the forge secret (``pull_request.secret``), else of the git secret, in ``secrets_dir``.

    Raises :class:`ConfigError` naming the secret and the files looked for; the token itself
    is never in a message.
    """
    pr = plan.pull_request
    name = (pr.secret if pr else None) or plan.repo.secret
    if name is None:
        raise ConfigError(
            f"{plan.key}: no forge token: the automation names no git secret; name one with "
            f"spec.pullRequest.secretRef or the annotation {ANNOTATION_PREFIX}forge-secret"
        )
    if not name or "/" in name or "\\" in name or "\0" in name or name in (".", ".."):
        raise ConfigError(f"{plan.key}: forge secret name {shown(name)} is not a directory name")
    if secrets_dir is None:
        raise ConfigError(f"{plan.key}: forge secret {name!r} needs --secrets-dir")
    folder = secrets_dir / name
    if not folder.is_dir():
        raise ConfigError(f"{plan.key}: forge secret {name!r}: no directory {folder}")
    for key in ("bearerToken", "password"):
        token = _read_token(folder / key, what=f"{plan.key}: forge secret {name!r}: {key}")
        if token:
            return token
    raise ConfigError(
        f"{plan.key}: forge secret {name!r} has neither a bearerToken nor a password file "
        f"(in {folder})"
    )


def _read_token(path: Path, *, what: str) -> str | None:
    """The token in ``path`` (None: no file, or an empty one); ``what`` names it in errors."""
    try:
        if not path.is_file():
            return None
        size = path.stat().st_size
        if size > MAX_TOKEN_BYTES:
            raise ConfigError(f"{what} is {size} bytes, over the {MAX_TOKEN_BYTES} byte limit")
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read: {exc.strerror or type(exc).__name__}") from None
    try:
        token = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"{what} is not UTF-8 text") from None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in token):
        raise ConfigError(f"{what} holds a line break or control character inside the token")
    return token or None


__all__ = [
    "DEFAULT_BRANCH_PREFIX",
    "PlanProblems",
    "PullRequestPlan",
    "default_branch",
    "flux_pull_request",
    "forge_token",
    "head_branch",
    "native_pull_request",
    "pull_request_location",
    "shared_heads",
]
