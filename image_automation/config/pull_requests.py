"""Pull-request settings as users write them: ``spec.pullRequest`` and Flux annotations.

Both ways end in one model, :class:`NativePullRequest`, so a value is checked by one set of
rules wherever it was written. The Flux kind keeps Flux's schema: its settings live in
``metadata.annotations`` (plain strings, so ``kubectl apply`` and Flux accept the file), and
:func:`pull_request_from_annotations` turns them into the model's shape, reporting each bad
value under its own annotation key.

Every value is bounded: a branch must be a ref git accepts (and a plain branch name, not
``refs/heads/...``), lists and strings have caps, templates a size limit. Messages quote a
value only shortened, never a megabyte of it. Pure: no I/O. A leaf like ``config.models``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic.alias_generators import to_camel

PROVIDERS = ("github", "gitlab", "gitea", "forgejo", "bitbucket", "azuredevops")
"""Forge names (as ``image_automation.forges.PROVIDERS``; a test keeps the two equal)."""
MAX_BRANCH_BYTES = 200
"""Longest head branch a user may configure; grouping suffixes add at most 51 bytes."""
MAX_TITLE_CHARS = 1024
MAX_BODY_CHARS = 16384
MAX_LIST_ITEMS = 20
MAX_LABEL_CHARS = 100
MAX_USER_CHARS = 100
MAX_LIMIT = 1000
MAX_URL_CHARS = 2048
MAX_ANNOTATION_CHARS = 4096
DEFAULT_PER_HOUR = 10
DEFAULT_OPEN = 10

_REF_FORBIDDEN = set(" ~^:?*[\\")
_SECRET_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?")
_USER_FORBIDDEN = re.compile(r"[\s,]")


def shown(value: str, limit: int = 60) -> str:
    """``value`` quoted for a message, cut when long."""
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}... ({len(value)} chars)"


def branch_problem(name: str) -> str | None:
    """Why ``name`` cannot be a head branch, or None when it can.

    git's ``check-ref-format`` rules for ``refs/heads/<name>`` plus ours: ASCII only (no
    look-alike or bidi characters in a branch a human reviews), no leading ``-`` (it reads
    as an option), not ``HEAD``, not a full ref (``refs/heads/x``), at most 200 bytes.
    """
    if not name:
        return "must not be empty"
    if len(name.encode()) > MAX_BRANCH_BYTES:
        return f"is {len(name.encode())} bytes, over the {MAX_BRANCH_BYTES} byte limit"
    bad = sorted({c for c in name if not c.isascii() or ord(c) < 0x20 or ord(c) == 0x7F})
    if bad:
        return "holds control or non-ASCII characters (" + ", ".join(map(repr, bad[:5])) + ")"
    forbidden = sorted(set(name) & _REF_FORBIDDEN)
    if forbidden:
        return f"holds {', '.join(map(repr, forbidden))}, which git refuses in a branch name"
    if name.startswith("refs/"):
        return "is a full ref; give the branch name without 'refs/heads/'"
    return _ref_shape_problem(name)


def _ref_shape_problem(name: str) -> str | None:
    if name.startswith("-"):
        return "must not start with '-'"
    if name in ("HEAD", "@"):
        return f"{name!r} is reserved by git"
    if ".." in name:
        return "must not contain '..'"
    if "@{" in name:
        return "must not contain '@{'"
    if name.startswith("/") or name.endswith("/") or "//" in name:
        return "must not start or end with '/' or contain '//'"
    if name.endswith("."):
        return "must not end with '.'"
    for part in name.split("/"):
        if part.startswith(".") or part.endswith(".lock"):
            return "no '/'-separated part may start with '.' or end with '.lock'"
    return None


def _branch(value: str) -> str:
    problem = branch_problem(value)
    if problem:
        raise ValueError(f"branch {shown(value)} {problem}")
    return value


def _text(limit: int) -> AfterValidator:
    """A template: at most ``limit`` characters, no control characters but tab and newline."""

    def check(value: str) -> str:
        if len(value) > limit:
            raise ValueError(f"is {len(value)} characters, over the {limit} character limit")
        if any(_is_control(c) and c not in "\t\n\r" for c in value):
            raise ValueError("holds a control character")
        return value

    return AfterValidator(check)


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")


def _label(value: str) -> str:
    if not value.strip():
        raise ValueError("a label must not be blank")
    if len(value) > MAX_LABEL_CHARS:
        raise ValueError(f"label {shown(value)} is over {MAX_LABEL_CHARS} characters")
    if "," in value or any(_is_control(c) for c in value):
        raise ValueError(f"label {shown(value)} holds a comma or a control character")
    return value


def _user(value: str) -> str:
    if not value or len(value) > MAX_USER_CHARS:
        raise ValueError(f"user {shown(value)} must be 1 to {MAX_USER_CHARS} characters")
    if _USER_FORBIDDEN.search(value) or not value.isascii() or not value.isprintable():
        raise ValueError(f"user {shown(value)} holds a space, comma or non-printable character")
    return value


def _unique(values: list[str]) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{shown(value)} is listed twice")
        seen.add(value)
    return values


def _api_url(value: str) -> str:
    if len(value) > MAX_URL_CHARS:
        raise ValueError(f"is {len(value)} characters, over {MAX_URL_CHARS}")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in value) or not value.isascii():
        raise ValueError("holds spaces, control or non-ASCII characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ValueError("is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an https:// (or http://) URL with a host")
    if "@" in parts.netloc:
        raise ValueError("must not carry credentials; the token comes from the secret")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or fragment")
    return value.rstrip("/")


def _secret_name(value: str) -> str:
    if not _SECRET_NAME_RE.fullmatch(value):
        raise ValueError(
            f"secret name {shown(value)} must be 1-253 letters, digits, '.', '_' or '-' "
            "(a directory in the secrets dir), starting and ending with a letter or digit"
        )
    return value


def _auto_merge(value: object) -> object:
    """``false`` (YAML bool or string) means off; anything else must name a merge method."""
    if value is False or value == "false":
        return None
    if value is True:
        raise ValueError("must be false, merge, squash or rebase (true names no method)")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


Label = Annotated[str, AfterValidator(_label)]
User = Annotated[str, AfterValidator(_user)]
ApiUrl = Annotated[str, AfterValidator(_api_url)]
Branch = Annotated[str, AfterValidator(_branch)]
"""A plain branch name git accepts (:func:`branch_problem`)."""
unique = _unique
"""``AfterValidator`` for lists: no value twice (promotions use it too)."""
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT, strict=True)]


class ForgeSecretRef(_Strict):
    name: Annotated[str, AfterValidator(_secret_name)]


class PullRequestLimits(_Strict):
    """Caps per automation; an update of a pull request that is open is never held back."""

    per_hour: Limit = Field(
        default=DEFAULT_PER_HOUR, description="pull requests opened per hour (rolling)"
    )
    open: Limit = Field(default=DEFAULT_OPEN, description="pull requests open at once")


class NativePullRequest(_Strict):
    """``spec.pullRequest`` of an ``ImageAutomation``: deliver through a pull request.

    Only the block's presence is needed; every field has a default.
    """

    enabled: bool = Field(default=True, strict=True)
    provider: Literal["github", "gitlab", "gitea", "forgejo", "bitbucket", "azuredevops"] | None = (
        Field(default=None, description="default: detected from the git URL's host")
    )
    api_url: Annotated[str, AfterValidator(_api_url)] | None = Field(
        default=None, alias="apiURL", description="default: the provider's usual API root"
    )
    secret_ref: ForgeSecretRef | None = Field(
        default=None,
        description="forge token secret (bearerToken, else password); default: the git secret",
    )
    branch: Annotated[str, AfterValidator(_branch)] | None = Field(
        default=None,
        description="head branch; default spec.git.push.branch, else image-automation/<name>",
    )
    grouping: Literal["automation", "policy", "image"] = "automation"
    title: Annotated[str, _text(MAX_TITLE_CHARS)] | None = None
    body: Annotated[str, _text(MAX_BODY_CHARS)] | None = None
    labels: Annotated[list[Label], Field(max_length=MAX_LIST_ITEMS), AfterValidator(_unique)] = (
        Field(default_factory=list)
    )
    reviewers: Annotated[list[User], Field(max_length=MAX_LIST_ITEMS), AfterValidator(_unique)] = (
        Field(default_factory=list)
    )
    assignees: Annotated[list[User], Field(max_length=MAX_LIST_ITEMS), AfterValidator(_unique)] = (
        Field(default_factory=list)
    )
    draft: bool = Field(default=False, strict=True)
    auto_merge: Annotated[
        Literal["merge", "squash", "rebase"] | None, BeforeValidator(_auto_merge)
    ] = None
    limits: PullRequestLimits = Field(default_factory=PullRequestLimits)


def _block(value: object) -> object:
    """``pullRequest:`` with nothing after it switches pull requests on, as ``{}`` does."""
    return {} if value is None else value


PullRequestBlock = Annotated[NativePullRequest | None, BeforeValidator(_block)]
"""The type of ``ImageAutomationSpec.pull_request``: absent is None, present (even empty
or null) is a :class:`NativePullRequest`."""


# --- Flux ImageUpdateAutomation annotations -------------------------------------------------

ANNOTATION_PREFIX = "image-automation.io/"
PULL_REQUEST_ANNOTATION = ANNOTATION_PREFIX + "pull-request"
ANNOTATION_FIELDS: Mapping[str, str] = {
    ANNOTATION_PREFIX + "forge": "provider",
    ANNOTATION_PREFIX + "forge-api-url": "apiURL",
    ANNOTATION_PREFIX + "forge-secret": "secretRef",
    ANNOTATION_PREFIX + "pr-grouping": "grouping",
    ANNOTATION_PREFIX + "pr-labels": "labels",
    ANNOTATION_PREFIX + "pr-reviewers": "reviewers",
    ANNOTATION_PREFIX + "pr-assignees": "assignees",
    ANNOTATION_PREFIX + "pr-draft": "draft",
    ANNOTATION_PREFIX + "pr-auto-merge": "autoMerge",
    ANNOTATION_PREFIX + "pr-title": "title",
}
"""Annotation → the ``spec.pullRequest`` field (alias) it sets."""
_LISTS = frozenset({"labels", "reviewers", "assignees"})
_OURS = tuple(ANNOTATION_PREFIX + p for p in ("pr-", "pull-request", "forge"))
"""Prefixes of the pull-request annotations: an unknown key under them is a typo."""


@dataclass(frozen=True, slots=True)
class AnnotatedPullRequest:
    """What a Flux object's annotations say: ``settings`` is None when it did not opt in
    or a value is bad; ``opted_in``: ``pull-request`` is ``"true"`` (bad values or not);
    ``errors`` are ``(annotation key, message)``."""

    settings: NativePullRequest | None
    errors: tuple[tuple[str, str], ...] = ()
    opted_in: bool = False


def pull_request_from_annotations(annotations: object) -> AnnotatedPullRequest:
    """The pull-request settings in ``metadata.annotations`` (any value: it is user input)."""
    if not isinstance(annotations, Mapping):
        return AnnotatedPullRequest(None)
    ours = {k: v for k, v in annotations.items() if isinstance(k, str) and k.startswith(_OURS)}
    errors: list[tuple[str, str]] = []
    for key in ours:
        if key != PULL_REQUEST_ANNOTATION and key not in ANNOTATION_FIELDS:
            known = ", ".join(k.removeprefix(ANNOTATION_PREFIX) for k in ANNOTATION_FIELDS)
            errors.append((key, f"unknown annotation; known: pull-request, {known}"))
    if PULL_REQUEST_ANNOTATION not in ours:
        errors += [
            (key, f'has no effect without {PULL_REQUEST_ANNOTATION}: "true"')
            for key in ours
            if key in ANNOTATION_FIELDS
        ]
        return AnnotatedPullRequest(None, tuple(errors))
    data: dict[str, Any] = {}
    for key, value in ours.items():
        field = "enabled" if key == PULL_REQUEST_ANNOTATION else ANNOTATION_FIELDS.get(key)
        if field is None:
            continue
        problem = _annotation_value(field, value, into=data)
        if problem:
            errors.append((key, problem))
    opted_in = data.get("enabled") is True
    try:
        settings = NativePullRequest.model_validate(data)
    except ValidationError as exc:
        by_field = {field: key for key, field in ANNOTATION_FIELDS.items()}
        errors += [(by_field.get(str(e["loc"][0]), PULL_REQUEST_ANNOTATION), _message(e))
                   for e in exc.errors()]  # fmt: skip
        settings = None
    if errors or settings is None or not settings.enabled:
        return AnnotatedPullRequest(None, tuple(errors), opted_in)
    return AnnotatedPullRequest(settings, (), opted_in)


def _annotation_value(field: str, value: object, *, into: dict[str, Any]) -> str | None:
    """Put the annotation's ``value`` into ``into[field]`` in the model's shape."""
    if not isinstance(value, str):
        return "must be a string (quote it: annotation values are strings)"
    if len(value) > MAX_ANNOTATION_CHARS:
        return f"is {len(value)} characters, over the {MAX_ANNOTATION_CHARS} character limit"
    if field in ("enabled", "draft"):
        if value not in ("true", "false"):
            return f'must be "true" or "false", not {shown(value)}'
        into[field] = value == "true"
    elif field in _LISTS:
        into[field] = [item.strip() for item in value.split(",") if item.strip()]
    elif field == "secretRef":
        into[field] = {"name": value}
    else:
        into[field] = value
    return None


def _message(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    message = message.replace("Input should be", "must be")
    index = next((p for p in error["loc"][1:] if isinstance(p, int)), None)
    return f"entry {index + 1}: {message}" if index is not None else message


__all__ = [
    "ANNOTATION_FIELDS",
    "ANNOTATION_PREFIX",
    "DEFAULT_OPEN",
    "DEFAULT_PER_HOUR",
    "MAX_BRANCH_BYTES",
    "PROVIDERS",
    "PULL_REQUEST_ANNOTATION",
    "AnnotatedPullRequest",
    "ApiUrl",
    "Branch",
    "ForgeSecretRef",
    "Label",
    "NativePullRequest",
    "PullRequestBlock",
    "PullRequestLimits",
    "User",
    "branch_problem",
    "pull_request_from_annotations",
    "shown",
    "unique",
]
