"""Automation documents → runnable plans: which repository, how to commit and push, what to edit.

Both kinds end up the same :class:`AutomationPlan`: Flux ``ImageUpdateAutomation`` (its
``sourceRef`` names a Flux ``GitRepository``; with ``--repo`` that always means the
``--repo`` repository) and our native ``ImageAutomation`` (git settings inline). Flux message
templates are Go templates and are parsed here, once, so a bad one fails before any git
work, at the line of the YAML file that holds it. Policy selection by ``policySelector``
(Kubernetes label selectors) lives here too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from image_automation.config.gates import (
    AnnotationProblem,
    update_windows,
    windows_from_annotations,
)
from image_automation.config.loading import Loaded, LoadResult
from image_automation.config.models import (
    CommitUser,
    GitRepository,
    ImageAutomation,
    ImageUpdateAutomation,
    LabelSelector,
    NativePush,
    PushSpec,
)
from image_automation.config.resolving import ResolvedPolicy
from image_automation.domain import Change, UpdateResult
from image_automation.engine._argocd_target import ArgoWriteBack
from image_automation.engine._pr_settings import (
    PlanProblems,
    PullRequestPlan,
    flux_pull_request,
    forge_token,
    head_branch,
    native_pull_request,
    shared_heads,
)
from image_automation.errors import ConfigError, Location
from image_automation.git import (
    CommitSettings,
    GitAuth,
    MessageTemplateError,
    PushSettings,
    SigningKey,
    check_url,
    render_message,
)
from image_automation.git.flux_messages import FluxTemplate, parse_template
from image_automation.policy import UpdateWindows


@dataclass(frozen=True, slots=True)
class RepoTarget:
    """The repository an automation writes to and the name of its git secret (if any)."""

    url: str
    branch: str
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class AutomationPlan:
    """Everything needed to run one automation. ``key`` is ``Kind/namespace/name``."""

    kind: str
    namespace: str
    name: str
    repo: RepoTarget
    commit: CommitSettings
    push: PushSettings
    path: str = "./"
    selector: LabelSelector | None = None
    values: Mapping[str, str] = field(default_factory=dict)
    suspended: bool = False
    interval: float = 1800.0
    """Seconds between runs (the daemon's reconcile schedule)."""
    line_include: tuple[str, ...] = ()
    """Globs of line-oriented files (Dockerfile, .env, HCL) to update too; native kind only."""
    pull_request: PullRequestPlan | None = None
    """Deliver through a pull request (head ``pull_request.branch``, base ``repo.branch``);
    None: push, as without it."""
    policies: tuple[ResolvedPolicy, ...] | None = None
    """The plan's own policies (an Image Updater plan's images); None: by ``selector``."""
    argocd: ArgoWriteBack | None = None
    """An Argo CD write-back target instead of markers under ``path``."""
    windows: UpdateWindows = field(default_factory=UpdateWindows)
    """When commits may be made or pull requests opened (empty: always)."""

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"

    @property
    def object_name(self) -> str:
        """``namespace/name``, Flux's ``.AutomationObject``."""
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class PlanContext:
    """What plans may need from outside the documents.

    ``repo``: the ``--repo`` repository (url, branch, secret); every GitRepository reference
    and every native automation without a URL means it. ``secrets_dir``: mounted Secrets.
    """

    repo: RepoTarget | None = None
    secrets_dir: Path | None = None
    check_secret_files: bool = True
    """False (``validate`` without ``--secrets-dir``): trust that signing key files exist."""
    root: Path | None = None
    """The checkout the documents were read from (Argo CD Applications are resolved in it)."""


@dataclass(slots=True)
class Plans:
    plans: list[AutomationPlan] = field(default_factory=list)
    errors: list[tuple[str, ConfigError]] = field(default_factory=list)
    """(automation key, error) for automations that cannot run."""
    documents: list[Loaded] = field(default_factory=list)
    """The document of each plan, in the same order (keys may repeat)."""
    warnings: list[str] = field(default_factory=list)


def plan_automations(loaded: LoadResult, context: PlanContext) -> Plans:
    """A plan for every automation document in ``loaded``; broken ones become errors."""
    out = Plans()
    sources = {doc.obj.key: doc for doc in loaded.git_repositories}
    first: dict[str, Loaded] = {}
    for doc in loaded.automations:
        key = f"{doc.obj.kind}/{doc.obj.key}"
        if key in first:  # Flux would see one object; ours would run twice
            where = f"{first[key].file}:{first[key].line}"
            message = f"duplicate {key}, first declared at {where}"
            out.errors.append((key, ConfigError(message, location=doc.location())))
            continue
        first[key] = doc
        try:
            if isinstance(doc.obj, ImageUpdateAutomation):
                plan = _flux_plan(doc, doc.obj, sources, context)
            else:
                assert isinstance(doc.obj, ImageAutomation)
                plan = _native_plan(doc, doc.obj, context)
        except ConfigError as exc:
            out.errors.append((key, exc))
            continue
        out.plans.append(plan)
        out.documents.append(doc)
    from image_automation.engine.argocd_plans import plan_argocd  # it builds on this module

    argo = plan_argocd(loaded, context)
    out.plans += argo.plans
    out.documents += argo.documents
    out.errors += argo.errors
    out.warnings += argo.warnings
    return out


_EXAMPLE = UpdateResult(
    changes=(
        Change(
            file="deploy/app.yaml",
            line=1,
            api_version="apps/v1",
            kind="Deployment",
            namespace="default",
            name="app",
            setter='{"$imagepolicy": "default:app"}',
            old="registry.example.com/app:1.0.0",
            new="registry.example.com/app:1.0.1",
        ),
    ),
    files_written=("deploy/app.yaml",),
)
"""The change ``check_automations`` renders every commit message template with."""

_NEEDS_REPO = frozenset({"spec.sourceRef.name", "spec.git"})
"""Error fields that only mean "this automation's repository comes from ``--repo``"."""
_STAND_IN = RepoTarget(url="file:///--repo", branch="main")
"""What ``validate`` without ``--repo`` plans against: no forge can be told from it."""


def check_automations(
    loaded: LoadResult, context: PlanContext
) -> tuple[list[ConfigError], list[str]]:
    """What ``validate`` says about automation documents: (errors, warnings).

    Every automation is planned as ``reconcile`` would plan it, then its commit message is
    rendered once with an example change, so a template typo (an unknown field, a syntax
    error) shows here rather than at the first commit. Without ``context.repo`` a repository
    that only ``--repo`` can supply is a warning, and the rest is still checked.
    """
    plans, warnings = _plan_to_check(loaded, context)
    warnings += plans.warnings
    errors = [e for _, exc in plans.errors for e in getattr(exc, "problems", (exc,))]
    errors += shared_heads(zip(plans.plans, plans.documents, strict=True))
    if context.repo is not None:  # then no plan read a GitRepository: check them here
        try:
            check_url(context.repo.url)
        except ConfigError as exc:
            errors.insert(0, ConfigError(f"--repo: {exc.message}"))
        for git_doc in loaded.git_repositories:
            assert isinstance(git_doc.obj, GitRepository)
            try:
                _check_url(git_doc, git_doc.obj.spec.url, ("spec", "url"))
            except ConfigError as exc:
                errors.append(exc)
    for plan, doc in zip(plans.plans, plans.documents, strict=True):
        try:
            warnings.extend(_check_template(plan, doc))
        except MessageTemplateError as exc:
            template = plan.commit.message_template
            source = template if isinstance(template, str) else getattr(template, "source", "")
            where = _template_location(doc, plan.kind, source, exc.line)
            errors.append(ConfigError(exc.message, location=where))
    return errors, warnings


def _plan_to_check(loaded: LoadResult, context: PlanContext) -> tuple[Plans, list[str]]:
    """Plans as ``reconcile`` makes them; without ``--repo``, an automation that needs it is
    a warning and is planned against a stand-in, the others against their own repository
    (whose host tells the forge of a pull request)."""
    plans = plan_automations(loaded, context)
    if context.repo is not None:
        return plans, []
    planned = {id(doc) for doc in plans.documents}
    failed = [doc for doc in loaded.automations if id(doc) not in planned]
    redo, kept = [], Plans(plans=plans.plans, documents=plans.documents, warnings=plans.warnings)
    ours = len(failed)  # Image Updater problems follow the automations' own
    redo_errors, kept.errors = plans.errors[:ours], plans.errors[ours:]
    for doc, (key, exc) in zip(failed, redo_errors, strict=True):
        if exc.location is not None and exc.location.field in _NEEDS_REPO:
            redo.append((doc, exc))
        else:
            kept.errors.append((key, exc))
    again = plan_automations(
        LoadResult(documents=[d for d, _ in redo]), replace(context, repo=_STAND_IN)
    )
    kept.plans += again.plans
    kept.documents += again.documents
    kept.errors += again.errors
    return kept, [str(exc) for _, exc in redo]


def _check_template(plan: AutomationPlan, doc: Loaded) -> list[str]:
    """Render ``plan``'s message for the example change; warn about fields Flux removed."""
    template = plan.commit.message_template
    render_message(_EXAMPLE, template, automation=plan.object_name, values=plan.values)
    if not isinstance(template, FluxTemplate):
        return []
    _, notes = template.render(_EXAMPLE, automation=plan.object_name, values=plan.values)
    where = _template_location(doc, plan.kind, template.source)
    return [f"{where}: {note}" for note in notes]


_TEMPLATE_FIELD = {
    "ImageUpdater": ("spec",),
    "ImageUpdateAutomation": ("spec", "git", "commit", "messageTemplate"),
    "ImageAutomation": ("spec", "commit", "messageTemplate"),
}


def _template_location(doc: Loaded, kind: str, source: str, line: int = 0) -> Location:
    """Where line ``line`` (1-based; 0: the start) of ``kind``'s template is in its file.

    A template holding a newline is a YAML block scalar (``messageTemplate: |``), whose text
    starts on the line after the key; a one-line template sits on the key's line. (A folded
    ``>`` scalar joins lines, so its later lines cannot be placed exactly.)
    """
    key = doc.location(*_TEMPLATE_FIELD[kind])
    if not line or not key.line:
        return key
    return Location(key.file, key.line + (line if "\n" in source else 0), key.field)


def _flux_plan(
    doc: Loaded,
    obj: ImageUpdateAutomation,
    sources: Mapping[str, Loaded],
    context: PlanContext,
) -> AutomationPlan:
    spec = obj.spec
    if spec.git is None:
        raise ConfigError("spec.git is required to commit", location=doc.location("spec"))
    ref = spec.source_ref
    source_key = f"{ref.namespace or obj.metadata.namespace}/{ref.name}"
    checkout = spec.git.checkout.ref if spec.git.checkout else None
    if checkout and (checkout.tag or checkout.semver or checkout.commit or checkout.name):
        raise ConfigError(
            "only git.checkout.ref.branch is supported (tag/semver/commit/name cannot be "
            "pushed to)",
            location=doc.location("spec", "git", "checkout", "ref"),
        )
    if context.repo is not None:
        base = context.repo
    else:
        source = sources.get(source_key)
        if source is None:
            raise ConfigError(
                f"GitRepository {source_key} not found in the loaded files (or run with --repo)",
                location=doc.location("spec", "sourceRef", "name"),
            )
        assert isinstance(source.obj, GitRepository)
        src = source.obj.spec
        branch = src.ref.branch if src.ref and src.ref.branch else "main"
        secret = src.secret_ref.name if src.secret_ref else None
        _check_url(source, src.url, ("spec", "url"))
        base = RepoTarget(url=src.url, branch=branch, secret=secret)
    branch = checkout.branch if checkout and checkout.branch else base.branch
    commit_spec = spec.git.commit
    template = None
    if commit_spec.message_template is not None:
        text = commit_spec.message_template
        try:
            template = parse_template(text)
        except MessageTemplateError as exc:
            where = _template_location(doc, obj.kind, text, exc.line)
            raise ConfigError(exc.message, location=where) from exc
    signing = None
    if commit_spec.signing_key is not None:
        signing = _signing_key(doc, commit_spec.signing_key.secret_ref.name, "gpg", context)
    push = spec.git.push
    try:
        windows = windows_from_annotations((obj.metadata.model_extra or {}).get("annotations"))
    except AnnotationProblem as exc:
        where = doc.location("metadata", "annotations", exc.key)
        raise ConfigError(str(exc), location=where) from None
    pull_request = flux_pull_request(
        doc,
        obj,
        url=base.url,
        base=branch,
        push=push.branch if push else None,
        check_forge=base.url != _STAND_IN.url,
    )
    return AutomationPlan(
        kind=obj.kind,
        namespace=obj.metadata.namespace,
        name=obj.metadata.name,
        repo=RepoTarget(url=base.url, branch=branch, secret=base.secret),
        commit=_commit_settings(commit_spec.author, template, signing),
        push=_push_settings(push),
        path=_update_path(doc, spec.update.path),
        selector=spec.policy_selector,
        values=dict(commit_spec.message_template_values or {}),
        suspended=spec.suspend,
        interval=spec.interval.total_seconds(),
        pull_request=pull_request,
        windows=windows,
    )


def _native_plan(doc: Loaded, obj: ImageAutomation, context: PlanContext) -> AutomationPlan:
    spec = obj.spec
    git = spec.git
    if git.url is None:
        if context.repo is None:
            raise ConfigError(
                "spec.git.url is not set and no --repo was given",
                location=doc.location("spec", "git"),
            )
        url, secret = context.repo.url, context.repo.secret
        branch = git.branch if "branch" in git.model_fields_set else context.repo.branch
    else:
        url, branch = git.url, git.branch
        _check_url(doc, url, ("spec", "git", "url"))
        secret = git.secret_ref.name if git.secret_ref else None
    signing = None
    if spec.commit.signing_key is not None:
        key = spec.commit.signing_key
        signing = _signing_key(doc, key.secret_ref.name, key.format, context)
    push = git.push
    pull_request = native_pull_request(
        doc, obj, url=url, base=branch, check_forge=url != _STAND_IN.url
    )
    return AutomationPlan(
        kind=obj.kind,
        namespace=obj.metadata.namespace,
        name=obj.metadata.name,
        repo=RepoTarget(url=url, branch=branch, secret=secret),
        commit=_commit_settings(spec.commit.author, spec.commit.message_template, signing),
        push=_push_settings(push, force=push.force if push else False),
        path=_update_path(doc, spec.update.path),
        selector=spec.policy_selector,
        values=dict(spec.commit.message_template_values or {}),
        suspended=spec.suspend,
        interval=spec.interval.total_seconds(),
        line_include=tuple(spec.update.line_include),
        pull_request=pull_request,
        windows=update_windows(spec.windows, spec.freeze),
    )


def _commit_settings(
    author: CommitUser, template: str | FluxTemplate | None, signing: SigningKey | None
) -> CommitSettings:
    return CommitSettings(
        author_name=author.name or author.email,
        author_email=author.email,
        message_template=template,
        signing=signing,
    )


def _push_settings(push: PushSpec | NativePush | None, *, force: bool = False) -> PushSettings:
    return PushSettings(
        branch=push.branch if push else None,
        refspec=push.refspec if push else None,
        force=force,
        options=PushSettings.options_from(push.options if push else None),
    )


def _signing_key(doc: Loaded, secret: str, fmt: str, context: PlanContext) -> SigningKey:
    key_name = "git.asc" if fmt == "gpg" else "identity"
    secrets_dir = context.secrets_dir
    if secrets_dir is None and not context.check_secret_files:
        return SigningKey(format="gpg" if fmt == "gpg" else "ssh", key_file=Path(secret, key_name))
    if secrets_dir is None:
        raise ConfigError(
            f"signing key secret {secret!r} needs --secrets-dir", location=doc.location("spec")
        )
    path = secrets_dir / secret / key_name
    if not path.is_file():
        raise ConfigError(f"signing key: no file {path}", location=doc.location("spec"))
    passphrase = secrets_dir / secret / "passphrase"
    return SigningKey(
        format="gpg" if fmt == "gpg" else "ssh",
        key_file=path,
        passphrase_file=passphrase if passphrase.is_file() else None,
    )


def _check_url(doc: Loaded, url: str, field_path: tuple[str | int, ...]) -> None:
    """A URL with a credential in it is refused here, at its line, as the clone would."""
    try:
        check_url(url)
    except ConfigError as exc:
        raise ConfigError(exc.message, location=doc.location(*field_path)) from None


def _update_path(doc: Loaded, path: str) -> str:
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts:
        raise ConfigError(
            f"update.path {path!r} must stay inside the repository",
            location=doc.location("spec", "update", "path"),
        )
    return str(pure)


def auth_for(target: RepoTarget, secrets_dir: Path | None) -> GitAuth | None:
    """The git credentials of ``target`` from ``secrets_dir`` (None when it names none)."""
    if target.secret is None:
        return None
    if secrets_dir is None:
        raise ConfigError(f"git secret {target.secret!r} needs --secrets-dir")
    return GitAuth.from_secrets_dir(secrets_dir, target.secret)


STAND_IN = _STAND_IN
"""The repository ``validate`` plans against without ``--repo`` (promotions too)."""
commit_settings = _commit_settings
signing_key = _signing_key
check_document_url = _check_url
"""Public for the other kinds that commit as automations do (``Promotion``)."""


def selects(selector: LabelSelector | None, labels: Mapping[str, str]) -> bool:
    """Kubernetes label selector semantics; no selector (or an empty one) selects all."""
    if selector is None:
        return True
    for key, value in (selector.match_labels or {}).items():
        if labels.get(key) != value:
            return False
    for req in selector.match_expressions or []:
        values: Sequence[str] = req.values or []
        present = req.key in labels
        if req.operator == "In" and not (present and labels[req.key] in values):
            return False
        if req.operator == "NotIn" and present and labels[req.key] in values:
            return False
        if req.operator == "Exists" and not present:
            return False
        if req.operator == "DoesNotExist" and present:
            return False
    return True


__all__ = [
    "STAND_IN",
    "AutomationPlan",
    "PlanContext",
    "PlanProblems",
    "Plans",
    "PullRequestPlan",
    "RepoTarget",
    "auth_for",
    "check_automations",
    "check_document_url",
    "commit_settings",
    "forge_token",
    "head_branch",
    "plan_automations",
    "selects",
    "signing_key",
]
