"""``ImageUpdater`` objects + the Applications they select → one plan per Application.

AIU updates each selected Application on its own (one commit per Application, its message
rendered with ``.AppName``); so does this: the plan ``ImageUpdater/<ns>/<updater>/<app>``
carries the Application's images as its own policies (``TrackedImage``s built by
:mod:`~image_automation.config.argocd_images`) and its write-back target. Plans that share a
repository share its clone. What is checked here, each at ``file:line``:

* an ``applicationRef`` that selects no Application, and an Application configured by
  legacy annotations that no ``useAnnotations`` reference selects;
* a selected Application that cannot be resolved from Git (no source in a Git repository,
  a plain-directory app, a target of the wrong kind, a path leaving the repository);
* method ``argocd`` (the live Application, not Git: nothing is written; a warning).

The first ``applicationRef`` of an ``ImageUpdater`` that selects an Application wins.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import ValidationError

from image_automation.config.argocd_annotations import read_annotations
from image_automation.config.argocd_images import ImageSpec, map_image, merge, plain_http_hosts
from image_automation.config.argocd_models import (
    ApplicationRef,
    ApplicationSource,
    GitConfig,
    ImageUpdater,
    ImageUpdaterConfig,
    ManifestTargets,
    WriteBackConfig,
)
from image_automation.config.loading import Loaded, LoadResult
from image_automation.config.pull_requests import NativePullRequest, branch_problem
from image_automation.config.resolving import ResolvedPolicy, resolve
from image_automation.engine._argocd_target import ArgoWriteBack, ImageTarget, Target
from image_automation.engine._pr_settings import PullRequestPlan
from image_automation.engine.argocd_apps import App, applications, home_urls, normalise_url
from image_automation.engine.automations import (
    AutomationPlan,
    PlanContext,
    RepoTarget,
    _signing_key,
    selects,
)
from image_automation.errors import ConfigError
from image_automation.git import CommitSettings, PushSettings
from image_automation.git.argocd_messages import commit_template, target_key
from image_automation.git.flux_messages import FluxTemplate, FluxTemplateError, parse_template

KIND = "ImageUpdater"
INTERVAL = 120.0
"""AIU's default check interval (``--interval 2m``)."""
DEFAULT_AUTHOR = ("argocd-image-updater", "noreply@argoproj.io")
SIGNING_ANNOTATION = "image-automation.io/signing-secret"
FORGE_API_URL = "image-automation.io/forge-api-url"
FORGE_SECRET = "image-automation.io/forge-secret"
_KUSTOMIZATIONS = ("kustomization.yaml", "kustomization.yml", "Kustomization")


_Spec = tuple[ImageSpec, ManifestTargets | None]


@dataclass(slots=True)
class ArgoPlans:
    plans: list[AutomationPlan] = field(default_factory=list)
    documents: list[Loaded] = field(default_factory=list)
    errors: list[tuple[str, ConfigError]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Run:
    """What every Application of one run shares."""

    context: PlanContext
    home: frozenset[str]
    config: Loaded | None
    out: ArgoPlans
    plain_http: frozenset[str] = frozenset()

    def problem(self, key: str, doc: Loaded, path: Sequence[str | int], message: str,
                error: bool = True) -> None:  # fmt: skip
        where = doc.location(*path)
        if error:
            self.out.errors.append((key, ConfigError(message, location=where)))
        else:
            self.out.warnings.append(f"{where}: {message}")


def plan_argocd(loaded: LoadResult, context: PlanContext) -> ArgoPlans:
    """A plan per (ImageUpdater, selected Application) in ``loaded``; see the module docstring."""
    updaters = [d for d in loaded.documents if isinstance(d.obj, ImageUpdater)]
    out = ArgoPlans()
    if not updaters and not any(type(d.obj).__name__ == "Application" for d in loaded.documents):
        return out
    home = home_urls(loaded, context.repo.url if context.repo else None, context.root)
    found = applications(loaded, root=context.root, home=home)
    configs = [d for d in loaded.documents if isinstance(d.obj, ImageUpdaterConfig)]
    config = configs[0] if configs else None
    plain, broken = frozenset[str](), ""
    if config is not None and isinstance(config.obj, ImageUpdaterConfig):
        plain, broken = plain_http_hosts(config.obj.data.get("registries.conf"), file=config.file)
    run = _Run(context, home, config, out, plain)
    if broken and config is not None:
        run.problem(f"ConfigMap/{config.obj.key}", config, ("data", "registries.conf"), broken)
    for doc, path, why in found.problems:
        run.problem(f"ApplicationSet/{doc.obj.key}", doc, path, why, error=False)
    claimed: set[int] = set()
    for doc in updaters:
        assert isinstance(doc.obj, ImageUpdater)
        claimed |= _plan_updater(doc, doc.obj, found.apps, run)
    for app in found.apps:
        if id(app) not in claimed and read_annotations(app.annotations).images:
            key = f"Application/{app.namespace}/{app.name}"
            path = (*_annotation_base(app), "argocd-image-updater.argoproj.io/image-list")
            run.problem(key, app.doc, path, f"Application {app.name} has Image Updater "
                        "annotations but no ImageUpdater applicationRef with useAnnotations "
                        "selects it")  # fmt: skip
    return out


def _annotation_base(app: App) -> tuple[str, ...]:
    base = ("metadata", "annotations")
    return ("spec", "template", *base) if app.generated else base


def _plan_updater(doc: Loaded, obj: ImageUpdater, apps: Sequence[App], run: _Run) -> set[int]:
    namespace = obj.metadata.namespace
    taken: set[int] = set()
    for index, ref in enumerate(obj.spec.application_refs):
        path = ("spec", "applicationRefs", index)
        chosen = [a for a in apps if a.namespace == namespace and _selected(ref, a)]
        if not chosen:
            run.problem(f"{KIND}/{obj.key}", doc, (*path, "namePattern"),
                        f"selects no Application in namespace {namespace} "
                        f"({ref.name_pattern!r})")  # fmt: skip
        for app in chosen:
            if id(app) in taken:
                continue
            taken.add(id(app))
            _plan_app(doc, obj, index, app, run)
    return taken


def _selected(ref: ApplicationRef, app: App) -> bool:
    return fnmatch.fnmatchcase(app.name, ref.name_pattern) and selects(
        ref.label_selectors, app.labels
    )


def _plan_app(doc: Loaded, obj: ImageUpdater, index: int, app: App, run: _Run) -> None:
    ref = obj.spec.application_refs[index]
    key = f"{KIND}/{obj.metadata.namespace}/{obj.metadata.name}/{app.name}"
    ref_path: tuple[str | int, ...] = ("spec", "applicationRefs", index)
    specs, write_back, image_doc = _images(doc, obj, ref, ref_path, app, key, run)
    if write_back is None:
        return
    method = write_back.method or "argocd"
    if method == "argocd":
        run.problem(key, doc, (*ref_path, "namePattern"), f"{app.name}: write-back method "
                    "argocd changes the live Application, not Git: nothing is written (set "
                    "writeBackConfig.method: git)", error=False)  # fmt: skip
        return
    plan = _write_plan(doc, obj, app, write_back, specs, key=key, image_doc=image_doc, run=run)
    if plan is not None:
        run.out.plans.append(plan)
        run.out.documents.append(doc)


def _merged_write_back(*levels: WriteBackConfig | None) -> WriteBackConfig:
    method, git = None, {}
    for level in levels:
        if level is None:
            continue
        method = level.method or method
        if level.git_config is not None:
            for name in level.git_config.model_fields_set:
                git[name] = getattr(level.git_config, name)
    return WriteBackConfig(method=method, git_config=GitConfig(**git))


def _images(
    doc: Loaded, obj: ImageUpdater, ref: ApplicationRef, ref_path: tuple[str | int, ...],
    app: App, key: str, run: _Run,
) -> tuple[list[_Spec], WriteBackConfig | None, Loaded]:  # fmt: skip
    if not ref.use_annotations:
        specs = []
        for j, image in enumerate(ref.images):
            path = (*ref_path, "images", j)
            levels = (obj.spec.common_update_settings, ref.common_update_settings,
                      image.common_update_settings)  # fmt: skip
            at = (path if image.common_update_settings else ref_path if ref.common_update_settings
                  else ("spec",))  # fmt: skip
            spec = ImageSpec(image.alias, image.image_name, merge(*levels), path,
                             (*at, "commonUpdateSettings"))  # fmt: skip
            specs.append((spec, image.manifest_targets))
        if not specs:
            run.problem(key, doc, ref_path, "needs images (or useAnnotations: true)")
            return [], None, doc
        return specs, _merged_write_back(obj.spec.write_back_config, ref.write_back_config), doc
    legacy = read_annotations(app.annotations)
    base = _annotation_base(app)
    for problem in legacy.problems:
        run.problem(key, app.doc, (*base, *problem.path[2:]), problem.message, problem.error)
    if any(p.error for p in legacy.problems):  # never run on half of what the owner wrote
        return [], None, app.doc
    if not legacy.images:
        run.problem(key, app.doc, base, f"{app.name}: useAnnotations is set but the "
                    "Application has no argocd-image-updater.argoproj.io/image-list")  # fmt: skip
        return [], None, app.doc
    fixed = [
        (ImageSpec(i.spec.alias, i.spec.image_name, i.spec.settings,
                   (*base, *i.spec.path[2:]), (*base, *i.spec.settings_path[2:])), i.targets)
        for i in legacy.images
    ]  # fmt: skip
    return fixed, _merged_write_back(legacy.write_back), app.doc


def _write_plan(
    doc: Loaded, obj: ImageUpdater, app: App, write_back: WriteBackConfig,
    specs: list[_Spec], *, key: str, image_doc: Loaded,
    run: _Run,
) -> AutomationPlan | None:  # fmt: skip
    git = write_back.git_config or GitConfig()
    target, target_path = _target(git.write_back_target)
    # validate without --repo: the checkout stands for every source's repository
    source = _source(app, target, run.context.root, run.home if run.context.repo else None)
    if isinstance(source, str):
        run.problem(key, app.doc, ("spec",), f"Application {app.name} cannot be resolved from "
                    f"Git: {source}")  # fmt: skip
        return None
    src, app_type = source
    file = _target_file(target, target_path, src, app.name, run.context.root)
    if file.startswith("!"):
        run.problem(key, doc, ("spec",), f"{app.name}: writeBackTarget: {file[1:]}")
        return None
    repo, base, push_branch, template = _branches(
        git, src, run, key=key, doc=doc, method=write_back.method or "git",
        namespace=obj.metadata.namespace,
    )  # fmt: skip
    if repo is None:
        return None
    policies, images = _policies(specs, obj, app, image_doc, run, key=key)
    if policies is None:
        return None
    tk = target_key(repo.url, base, file)
    argo = ArgoWriteBack(app.name, app.namespace, target, file, app_type, images,
                         _inside(PurePosixPath((src.path or ".").strip("/") or ".")), tk,
                         template)  # fmt: skip
    pull_request = _pull_request(git, tk, push_branch, run, key=key, doc=doc)
    commit = _commit(doc, obj, app.name, run, key=key)
    if commit is None:
        return None
    push = PushSettings(branch=None if pull_request or template else push_branch)
    return AutomationPlan(
        kind=KIND, namespace=obj.metadata.namespace, name=f"{obj.metadata.name}/{app.name}",
        repo=RepoTarget(repo.url, base, repo.secret), commit=commit, push=push, path=".",
        interval=INTERVAL, pull_request=pull_request, policies=policies, argocd=argo,
    )  # fmt: skip


def _target(text: str | None) -> tuple[Target, str | None]:
    if not text:
        return "override", None
    kind, _, path = text.partition(":")
    if kind == "kustomization":
        return "kustomization", path or None
    if kind == "helmvalues":
        return "helmvalues", path or None
    return "override", f"!unknown target {text[:60]!r} (kustomization[:path], helmvalues:path)"


def _is_dir_kind(src: ApplicationSource, root: Path | None, names: Sequence[str]) -> bool:
    if root is None or src.path is None:
        return False
    return any((root / src.path.strip("/") / name).is_file() for name in names)


AppType = Literal["helm", "kustomize"]


def _kind_of(src: ApplicationSource, root: Path | None) -> AppType | None:
    if src.helm is not None or src.chart or _is_dir_kind(src, root, ("Chart.yaml",)):
        return "helm"
    if src.kustomize is not None or _is_dir_kind(src, root, _KUSTOMIZATIONS):
        return "kustomize"
    return None


def _source(app: App, target: Target, root: Path | None, home: frozenset[str] | None
            ) -> tuple[ApplicationSource, AppType] | str:  # fmt: skip
    """The source written to, picked by target type as AIU does, and the app's type. Only a
    source in this repository is typed by its files; another's by its helm:/kustomize: block."""
    if not app.sources:
        return "it has no source"
    git_sources = [s for s in app.sources if s.path is not None and not s.chart]
    for src in git_sources:  # before any file is looked at: nothing outside is probed
        if _inside(PurePosixPath((src.path or ".").strip("/") or ".")).startswith("!"):
            return f"source path {(src.path or '')[:60]!r} leaves the repository"
    want = {"kustomization": "kustomize", "helmvalues": "helm"}.get(target)
    for src in git_sources:
        here = home is None or normalise_url(src.repo_url) in home
        kind = _kind_of(src, root if here else None)
        if kind is not None and (want is None or kind == want):
            return src, kind
    if want == "helm" and git_sources:
        return git_sources[0], "helm"  # a values file named by path: any Git source holds it
    if not git_sources:
        return "no source is a path in a Git repository (a Helm repository chart only)"
    if want:
        return f"no source is a {want} source for writeBackTarget {target}"
    away = [s.repo_url for s in git_sources if home and normalise_url(s.repo_url) not in home]
    if away:
        return (f"its source is in another repository ({away[0][:80]}), whose files are not "
                "read here: give the source a helm: or kustomize: block")  # fmt: skip
    return "a plain-directory Application has no parameters to write (use markers instead)"


def _target_file(target: Target, given: str | None, src: ApplicationSource, app: str,
                 root: Path | None) -> str:  # fmt: skip
    """The repository-relative path written; ``!why`` when it cannot be."""
    if given is not None and given.startswith("!"):
        return given
    base = PurePosixPath((src.path or ".").strip("/") or ".")
    if target == "override":
        return _inside(base / f".argocd-source-{app}.yaml")
    if target == "helmvalues" and not given:
        return "!helmvalues needs the values file: helmvalues:<path>"
    path = PurePosixPath(given or ".")
    joined = PurePosixPath(str(path).lstrip("/")) if path.is_absolute() else base / path
    return _inside(joined)


def _inside(path: PurePosixPath) -> str:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if not parts:
                return f"!{path} leaves the repository"
            parts.pop()
        elif part not in (".", ""):
            parts.append(part)
    return "/".join(parts) or "."


def _branches(
    git: GitConfig,
    src: ApplicationSource,
    run: _Run,
    *,
    key: str,
    doc: Loaded,
    method: str,
    namespace: str,
) -> tuple[RepoTarget | None, str, str | None, FluxTemplate | None]:
    url = git.repository or src.repo_url
    here = run.context.repo
    is_home = normalise_url(url) in run.home
    base, write = (git.branch or ""), None
    if ":" in base:
        base, write = base.split(":", 1)
    base = base or (src.target_revision or "")
    if base in ("", "HEAD"):
        if not (is_home and here):
            run.problem(key, doc, ("spec",), f"{url}: targetRevision {base or '(none)'} is not "
                        "a branch; set writeBackConfig.gitConfig.branch")  # fmt: skip
            return None, "", None, None
        base = here.branch
    template = None
    if write and "{{" in write:
        try:
            template = parse_template(write)
        except FluxTemplateError as exc:
            run.problem(key, doc, ("spec",), f"write branch: {exc.message}")
            return None, "", None, None
    bad = _bad_branch(base, None if template else write)
    if bad:
        run.problem(key, doc, ("spec",), bad)
        return None, "", None, None
    if is_home and here:
        return RepoTarget(here.url, base, here.secret), base, write, template
    try:
        secret = credentials(method, namespace)
    except ValueError as exc:
        run.problem(key, doc, ("spec",), str(exc))
        return None, "", None, None
    return RepoTarget(url, base, secret), base, write, template


def _bad_branch(base: str, write: str | None) -> str | None:
    """Why the base or (untemplated) write branch cannot be used, before git sees it: a
    name such as ``-x`` or ``a/../b`` would read as an option or is no ref at all."""
    for name, what in ((base, "base branch"), (write, "write branch")):
        problem = branch_problem(name) if name is not None else None
        if problem and name is not None:
            return f"gitConfig.branch: {what} {name[:60]!r} is not a valid branch name: {problem}"
    return None


def credentials(method: str, namespace: str) -> str | None:
    """The secret named by ``git:secret:[ns/]name`` (None for ``git``, ``git:repocreds``);
    ``ValueError`` for another namespace's secret, which AIU refuses too."""
    ref = method.removeprefix("git:secret:") if method.startswith("git:secret:") else None
    if ref is None:
        return None
    ns, _, name = ref.rpartition("/")
    if ns and ns != namespace:
        raise ValueError(f"secret {ref!r} is in namespace {ns}, not the ImageUpdater's "
                         f"{namespace} (refused, as AIU refuses it)")  # fmt: skip
    return name


def _policies(
    specs: list[_Spec], obj: ImageUpdater, app: App,
    image_doc: Loaded, run: _Run, *, key: str,
) -> tuple[tuple[ResolvedPolicy, ...] | None, tuple[ImageTarget, ...]]:  # fmt: skip
    namespace = obj.metadata.namespace
    docs, images = [], []
    for spec, targets in specs:
        name = f"{obj.metadata.name}/{app.name}/{spec.alias}"
        mapped = map_image(spec, namespace=namespace, name=name, plain_http=run.plain_http)
        for problem in mapped.problems:
            run.problem(key, image_doc, problem.path, problem.message, problem.error)
        if mapped.tracked is None:
            return None, ()
        line = image_doc.location(*spec.path).line or image_doc.line
        docs.append(Loaded(obj=mapped.tracked, file=image_doc.file, line=line, lines={}))
        helm = targets.helm if targets else None
        kustomize = targets.kustomize.name if targets and targets.kustomize else None
        images.append(ImageTarget(name, spec.alias, mapped.name, f"{namespace}:{name}", kustomize,
                                  helm.name if helm else None, helm.tag if helm else None,
                                  helm.spec if helm else None,
                                  force=spec.settings.force_update is True))  # fmt: skip
    resolved = resolve(LoadResult(documents=docs))
    for error in resolved.errors:
        run.out.errors.append((key, error))
    if resolved.errors:
        return None, ()
    return tuple(resolved.policies), tuple(images)


def _pull_request(git: GitConfig, key_hash: str, write: str | None, run: _Run, *, key: str,
                  doc: Loaded) -> PullRequestPlan | None:  # fmt: skip
    pr = git.pull_request
    if pr is None:
        return None
    chosen = pr.chosen
    if len(chosen) != 1 or write is not None:
        why = (
            "pullRequest names one forge (github, gitlab, ...)"
            if len(chosen) != 1
            else "the base:target branch form is not supported with pullRequest (as AIU)"
        )
        run.problem(key, doc, ("spec",), why)  # fmt: skip
        return None
    annotations = (doc.obj.metadata.model_extra or {}).get("annotations") or {}
    extra = {"provider": chosen[0]}
    for annotation, name in ((FORGE_API_URL, "apiURL"), (FORGE_SECRET, "secretRef")):
        value = annotations.get(annotation) if isinstance(annotations, Mapping) else None
        if isinstance(value, str):
            extra[name] = {"name": value} if name == "secretRef" else value  # type: ignore[assignment]
    try:
        settings = NativePullRequest.model_validate(extra)
    except ValidationError as exc:
        path = ("metadata", "annotations", FORGE_API_URL)
        run.problem(key, doc, path, str(exc.errors()[0]["msg"]))
        return None
    secret = settings.secret_ref.name if settings.secret_ref else None
    return PullRequestPlan(provider=settings.provider, api_url=settings.api_url, secret=secret,
                           branch=f"image-updater-{key_hash}")  # fmt: skip


def _commit(doc: Loaded, obj: ImageUpdater, app: str, run: _Run, *, key: str
            ) -> CommitSettings | None:  # fmt: skip
    data: Mapping[str, str] = {}
    config = run.config
    if config is not None and isinstance(config.obj, ImageUpdaterConfig):
        data = config.obj.data
    try:
        template = commit_template(data.get("git.commit-message-template"), app_name=app)
    except FluxTemplateError as exc:
        assert config is not None
        where = config.location("data", "git.commit-message-template")
        run.out.errors.append((key, ConfigError(exc.message, location=where)))
        return None
    annotations = (obj.metadata.model_extra or {}).get("annotations") or {}
    secret = annotations.get(SIGNING_ANNOTATION) if isinstance(annotations, Mapping) else None
    signing = None
    if isinstance(secret, str) and secret:
        fmt = "ssh" if data.get("git.commit-signing-method") == "ssh" else "gpg"
        try:
            signing = _signing_key(doc, secret, fmt, run.context)
        except ConfigError as exc:
            run.out.errors.append((key, exc))
            return None
    name = data.get("git.user") or DEFAULT_AUTHOR[0]
    email = data.get("git.email") or DEFAULT_AUTHOR[1]
    return CommitSettings(author_name=name, author_email=email, message_template=template,
                          signing=signing)  # fmt: skip


__all__ = ["INTERVAL", "KIND", "SIGNING_ANNOTATION", "ArgoPlans", "credentials", "plan_argocd"]
