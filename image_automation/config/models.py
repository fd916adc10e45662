"""Pydantic models for policy files: Flux ``image.toolkit.fluxcd.io`` kinds and our native kind.

A leaf: imports nothing of ours, so any layer may use it. Field names follow the files
(camelCase aliases); unknown fields are errors, except under ``metadata`` and ``status`` which
Kubernetes tooling fills freely. Semantic checks that need the policy engine (ranges, regexes)
happen in :mod:`image_automation.config.loading`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from image_automation.config.gates import Freezes, RollbackSpec, VerifySpec, Windows
from image_automation.config.pull_requests import NativePullRequest as NativePullRequest
from image_automation.config.pull_requests import PullRequestBlock
from image_automation.domain import is_valid_tag
from image_automation.policy._spec import DEFAULT_EXCLUSION

FLUX_GROUP = "image.toolkit.fluxcd.io"
FLUX_V1 = f"{FLUX_GROUP}/v1"
FLUX_V1BETA2 = f"{FLUX_GROUP}/v1beta2"
FLUX_API_VERSIONS = (FLUX_V1, FLUX_V1BETA2)
SOURCE_API_PREFIX = "source.toolkit.fluxcd.io/"
NATIVE_API_VERSION = "image-automation.io/v1alpha1"
NATIVE_KIND = "TrackedImage"

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}


_MAX_SECONDS = timedelta.max.total_seconds() - 86400  # below timedelta's own limit


def parse_duration(value: object) -> timedelta:
    """Parse a Go duration (``1h30m``, ``5m``, ``90s``) plus ``d`` for days; ``0`` is zero."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("must be a duration string such as '5m' or '1h30m'")
    text = str(value).strip()
    if text in ("0", ""):
        if text == "":
            raise ValueError("must be a duration string such as '5m' or '1h30m'")
        return timedelta(0)
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"invalid duration {text[:60]!r}: use units ns, us, ms, s, m, h or d")
    if not total <= _MAX_SECONDS:  # also NaN: a number too large for a float is inf
        raise ValueError(f"duration {text[:60]!r} is too long")
    return timedelta(seconds=total)


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s"]
    return "".join(p for p in parts if p) if seconds else "0s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]


class _Model(BaseModel):
    """Strict by default: an unknown field is an error naming it."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
    )


class ObjectMeta(BaseModel):
    """Kubernetes object metadata; extra keys (uid, annotations, ...) are kept and ignored."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=253)]
    namespace: str = "default"
    labels: dict[str, str] = Field(default_factory=dict)


class LocalObjectReference(_Model):
    name: Annotated[str, Field(min_length=1)]


class NamespacedObjectReference(_Model):
    name: Annotated[str, Field(min_length=1)]
    namespace: str | None = None


class _Object(_Model):
    """Fields every Kubernetes-style document has."""

    api_version: str
    kind: str
    metadata: ObjectMeta
    status: dict[str, Any] | None = None

    @property
    def key(self) -> str:
        """``namespace/name``: how objects refer to one another."""
        return f"{self.metadata.namespace}/{self.metadata.name}"


# --- Flux ImageRepository -------------------------------------------------------------------

Provider = Literal["generic", "aws", "azure", "gcp"]
PROVIDER_DOC = (
    "registry login: aws (ECR), gcp (Artifact Registry/GCR), azure (ACR) use the cloud "
    "identity (secretRef is not read, as in Flux); generic uses secretRef and the docker "
    "config only; unset: the same as generic, plus the cloud identity for a cloud host"
)


class ImageRepositorySpec(_Model):
    image: Annotated[str, Field(min_length=1)]
    interval: Duration = timedelta(minutes=5)
    timeout: Duration | None = None
    secret_ref: LocalObjectReference | None = None
    cert_secret_ref: LocalObjectReference | None = None
    proxy_secret_ref: LocalObjectReference | None = None
    service_account_name: str | None = None
    access_from: dict[str, Any] | None = None
    suspend: bool = False
    exclusion_list: Annotated[list[str], Field(max_length=25)] | None = None
    insecure: bool = False
    provider: Provider | None = Field(default=None, description=PROVIDER_DOC)

    @property
    def exclusions(self) -> tuple[str, ...]:
        """A user list *replaces* the default ``^.*\\.sig$``; it does not extend it (Flux)."""
        return DEFAULT_EXCLUSION if self.exclusion_list is None else tuple(self.exclusion_list)


class ImageRepository(_Object):
    kind: Literal["ImageRepository"]
    spec: ImageRepositorySpec


# --- Flux ImagePolicy -----------------------------------------------------------------------


class SemVerPolicy(_Model):
    range: Annotated[str, Field(min_length=1)]


class OrderPolicy(_Model):
    order: Literal["asc", "desc"] = "asc"


class ImagePolicyChoice(_Model):
    """At least one of semver, alphabetical, numerical.

    Flux accepts several and uses the first of semver, alphabetical, numerical (its policy
    factory's order); :attr:`chosen` lists them in that order, the resolver warns.
    """

    semver: SemVerPolicy | None = None
    alphabetical: OrderPolicy | None = None
    numerical: OrderPolicy | None = None

    @property
    def chosen(self) -> list[str]:
        return [n for n in ("semver", "alphabetical", "numerical") if getattr(self, n) is not None]

    @model_validator(mode="after")
    def _at_least_one(self) -> ImagePolicyChoice:
        if not self.chosen:
            raise ValueError("one of semver, alphabetical, numerical must be set")
        return self


class TagFilter(_Model):
    pattern: str = ""
    extract: str = ""


class ImagePolicySpec(_Model):
    image_repository_ref: NamespacedObjectReference
    policy: ImagePolicyChoice
    filter_tags: TagFilter | None = None
    digest_reflection_policy: Literal["Never", "IfNotPresent", "Always"] = "Never"
    interval: Duration | None = None

    @model_validator(mode="after")
    def _interval_only_with_always(self) -> ImagePolicySpec:
        if self.digest_reflection_policy == "Always" and self.interval is None:
            raise ValueError("interval is required when digestReflectionPolicy is Always")
        if self.digest_reflection_policy != "Always" and self.interval is not None:
            raise ValueError("interval may only be set when digestReflectionPolicy is Always")
        return self


class ImagePolicy(_Object):
    kind: Literal["ImagePolicy"]
    spec: ImagePolicySpec


# --- Flux ImageUpdateAutomation -------------------------------------------------------------


class CrossNamespaceSourceReference(_Model):
    api_version: str | None = None
    kind: Literal["GitRepository"] = "GitRepository"
    name: Annotated[str, Field(min_length=1)]
    namespace: str | None = None


class GitCheckoutRef(_Model):
    branch: str | None = None
    tag: str | None = None
    semver: str | None = None
    name: str | None = None
    commit: str | None = None


class GitCheckout(_Model):
    ref: GitCheckoutRef


class CommitUser(_Model):
    name: str | None = None
    email: Annotated[str, Field(min_length=1)]


class SigningKey(_Model):
    secret_ref: LocalObjectReference


class CommitSpec(_Model):
    author: CommitUser
    signing_key: SigningKey | None = None
    message_template: str | None = None
    message_template_values: dict[str, str] | None = None


class PushSpec(_Model):
    branch: str | None = None
    refspec: str | None = None
    options: dict[str, str] | None = None

    @model_validator(mode="after")
    def _branch_or_refspec(self) -> PushSpec:
        if not self.branch and not self.refspec:
            raise ValueError("push needs branch or refspec")
        return self


class GitSpec(_Model):
    checkout: GitCheckout | None = None
    commit: CommitSpec
    push: PushSpec | None = None


class LabelSelectorRequirement(_Model):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] | None = None


class LabelSelector(_Model):
    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


class UpdateStrategy(_Model):
    path: str = "./"
    strategy: Literal["Setters"] = "Setters"


class ImageUpdateAutomationSpec(_Model):
    source_ref: CrossNamespaceSourceReference
    git: GitSpec | None = None
    interval: Duration
    policy_selector: LabelSelector | None = None
    update: UpdateStrategy = Field(default_factory=UpdateStrategy)
    suspend: bool = False


class ImageUpdateAutomation(_Object):
    kind: Literal["ImageUpdateAutomation"]
    spec: ImageUpdateAutomationSpec


class GitRepositorySpec(BaseModel):
    """Only what we read of a Flux ``GitRepository``; other fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    url: Annotated[str, Field(min_length=1)]
    ref: GitCheckoutRef | None = None
    secret_ref: LocalObjectReference | None = Field(default=None, alias="secretRef")


class GitRepository(_Object):
    kind: Literal["GitRepository"]
    spec: GitRepositorySpec


# --- Native kind: TrackedImage --------------------------------------------------------------


class ScanSettings(_Model):
    """How to scan the image's repository (the ImageRepository part of a TrackedImage)."""

    interval: Duration = timedelta(minutes=5)
    timeout: Duration | None = None
    secret_ref: LocalObjectReference | None = None
    cert_secret_ref: LocalObjectReference | None = None
    insecure: bool = False
    provider: Provider | None = Field(default=None, description=PROVIDER_DOC)
    exclusion_list: list[str] | None = None
    platform: str | None = Field(
        default=None,
        description="os/arch[/variant] of a multi-arch image, e.g. linux/arm64",
        pattern=r"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$",
    )

    @property
    def exclusions(self) -> tuple[str, ...]:
        return DEFAULT_EXCLUSION if self.exclusion_list is None else tuple(self.exclusion_list)


class NativeSemver(_Model):
    range: Annotated[str, Field(min_length=1)]
    prereleases: bool = Field(default=False, description="consider prereleases in any range")
    strict: bool = Field(default=True, description="require exactly three dot parts (Flux)")


class FollowTag(_Model):
    tag: Annotated[str, Field(min_length=1)]

    @field_validator("tag")
    @classmethod
    def _oci_tag(cls, value: str) -> str:
        if not is_valid_tag(value):
            raise ValueError(f"{value!r} is not a valid OCI tag")
        return value


class NewestBuild(_Model):
    """Order by image build time (config ``created``), else push time, else first seen."""


class NativeSelect(_Model):
    """Exactly one ordering."""

    semver: NativeSemver | None = None
    alphabetical: OrderPolicy | None = None
    numerical: OrderPolicy | None = None
    newest_build: NewestBuild | None = None
    follow: FollowTag | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> NativeSelect:
        names = ("semver", "alphabetical", "numerical", "newest_build", "follow")
        chosen = [n for n in names if getattr(self, n) is not None]
        if len(chosen) != 1:
            raise ValueError(
                "exactly one of semver, alphabetical, numerical, newestBuild, follow must be set"
                + (f" (found {', '.join(chosen)})" if chosen else "")
            )
        return self


class TrackedImageSpec(_Model):
    image: Annotated[str, Field(min_length=1)]
    scan: ScanSettings = Field(default_factory=ScanSettings)
    select: NativeSelect
    filter_tags: TagFilter | None = None
    suffix: str | None = Field(default=None, min_length=1)
    allow: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)
    pin: str | None = Field(default=None, min_length=1)
    min_age: Duration | None = None
    digest_reflection_policy: Literal["Never", "IfNotPresent", "Always"] = "Never"
    windows: Windows = Field(default_factory=list, description="when this image may be written")
    freeze: Freezes = Field(default_factory=list, description="spans nothing is written in")
    rollback: RollbackSpec = Field(default_factory=RollbackSpec)
    verify: VerifySpec | None = Field(default=None, description="only signed tags qualify")


class TrackedImage(_Object):
    kind: Literal["TrackedImage"]
    spec: TrackedImageSpec


# --- Native kind: ImageAutomation -----------------------------------------------------------

NATIVE_AUTOMATION_KIND = "ImageAutomation"


class NativeSigningKey(_Model):
    """A key file in a mounted Secret: ``git.asc`` (armored GPG key) or ``identity`` (SSH)."""

    secret_ref: LocalObjectReference
    format: Literal["gpg", "ssh"] = "gpg"


class NativeCommit(_Model):
    author: CommitUser = Field(
        default_factory=lambda: CommitUser(
            name="image-automation", email="image-automation@localhost"
        )
    )
    signing_key: NativeSigningKey | None = None
    message_template: str | None = Field(
        default=None, description="Jinja2 (sandboxed); see docs/git.md for the variables"
    )
    message_template_values: dict[str, str] | None = None


class NativePush(_Model):
    branch: str | None = None
    refspec: str | None = None
    force: bool = False
    options: dict[str, str] | None = None
    """Git push options (``git push -o``), as Flux's ``push.options``."""


class NativeGit(_Model):
    """Where to commit. ``url`` omitted: the repository the automation file lives in."""

    url: str | None = Field(default=None, min_length=1)
    branch: str = "main"
    secret_ref: LocalObjectReference | None = None
    push: NativePush | None = None


class NativeUpdate(UpdateStrategy):
    """Flux's ``update`` plus the opt-in for line-oriented files (Flux's own kind has none)."""

    line_include: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list,
        description="globs of Dockerfiles, .env, HCL... whose marked lines are updated "
        "(default none: YAML only, as Flux)",
    )


class ImageAutomationSpec(_Model):
    git: NativeGit = Field(default_factory=NativeGit)
    commit: NativeCommit = Field(default_factory=NativeCommit)
    update: NativeUpdate = Field(default_factory=NativeUpdate)
    policy_selector: LabelSelector | None = None
    interval: Duration = timedelta(minutes=30)
    suspend: bool = False
    pull_request: PullRequestBlock = Field(
        default=None, description="deliver through a pull request (docs/pull-requests.md)"
    )
    windows: Windows = Field(default_factory=list, description="when commits may be made")
    freeze: Freezes = Field(default_factory=list, description="spans nothing is committed in")


class ImageAutomation(_Object):
    """Native equivalent of ``ImageUpdateAutomation``: the git source is inline."""

    kind: Literal["ImageAutomation"]
    spec: ImageAutomationSpec


PolicyObject = (
    ImageRepository
    | ImagePolicy
    | ImageUpdateAutomation
    | GitRepository
    | TrackedImage
    | ImageAutomation
)

KINDS: dict[tuple[str, str], type[_Object]] = {
    **{(v, "ImageRepository"): ImageRepository for v in FLUX_API_VERSIONS},
    **{(v, "ImagePolicy"): ImagePolicy for v in FLUX_API_VERSIONS},
    **{(v, "ImageUpdateAutomation"): ImageUpdateAutomation for v in FLUX_API_VERSIONS},
    (NATIVE_API_VERSION, NATIVE_KIND): TrackedImage,
    (NATIVE_API_VERSION, NATIVE_AUTOMATION_KIND): ImageAutomation,
}
"""(apiVersion, kind) → model. GitRepository is matched by kind for any source.toolkit version."""
