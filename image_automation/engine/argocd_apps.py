"""The Argo CD Applications a repository declares: plain ``Application`` files and what
``ApplicationSet`` list and git-directory generators produce, evaluated from the checkout.

Nothing is guessed: a generator that needs a cluster or an API (clusters, pull requests,
SCM providers, matrix/merge of those) or names another repository is reported with the
reason, and its Applications are left out. Templates are rendered as Argo CD renders them:
``{{ key }}`` substitution, or Go templates with ``goTemplate: true``. Which repository a
source means is decided by :func:`home_urls`: ``--repo`` and the ``repoURL`` of every
Application whose path holds Application or ImageUpdater files read from this checkout
(app-of-apps: the parent deploys these files from that URL, so that URL is this repository).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from image_automation.config.argocd_images import glob_to_re2
from image_automation.config.argocd_models import Application, ApplicationSet, ApplicationSource
from image_automation.config.loading import Loaded, LoadResult
from image_automation.git.flux_messages import parse_template
from image_automation.git.messages import MessageTemplateError

_FAST = re.compile(r"\{\{\s*([A-Za-z0-9_.\[\]-]+)\s*\}\}")
MAX_GENERATED = 1000
"""Applications one ApplicationSet may produce here (a guard against a runaway glob)."""


@dataclass(frozen=True, slots=True)
class App:
    """One Application: from a file, or generated (``doc`` is then the ApplicationSet)."""

    name: str
    namespace: str
    labels: Mapping[str, str]
    annotations: Mapping[str, Any]
    sources: tuple[ApplicationSource, ...]
    doc: Loaded
    generated: bool = False


@dataclass(slots=True)
class Apps:
    apps: list[App] = field(default_factory=list)
    problems: list[tuple[Loaded, tuple[str | int, ...], str]] = field(default_factory=list)
    """(document, field path, why) for ApplicationSets that cannot be evaluated."""


def normalise_url(url: str) -> str:
    """``https://Host/org/repo.git/`` and ``https://host/org/repo`` are the same repository."""
    text = url.strip().rstrip("/")
    text = text[:-4] if text.endswith(".git") else text
    scheme, sep, rest = text.partition("://")
    if not sep:
        return text
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}{slash}{path}"


def home_urls(loaded: LoadResult, repo: str | None, root: Path | None) -> frozenset[str]:
    """The URLs that mean the repository these documents were read from."""
    urls = {normalise_url(repo)} if repo else set()
    files = {id(d): _in_repo(d.file, root) for d in loaded.documents if _argo_doc(d)}
    for doc in loaded.documents:
        if not isinstance(doc.obj, Application):
            continue
        for source in _sources(doc.obj):
            if source.path is None or source.chart:
                continue
            base = PurePosixPath(source.path.strip("/") or ".")
            if any(_under(f, base) for i, f in files.items() if i != id(doc)):
                urls.add(normalise_url(source.repo_url))
    return frozenset(urls)


def _in_repo(file: str, root: Path | None) -> PurePosixPath:
    """``file`` relative to the repository root (``validate`` names files from the cwd)."""
    if root is None or (root / file).exists():
        return PurePosixPath(file)
    try:
        return PurePosixPath(Path(file).resolve().relative_to(root.resolve()).as_posix())
    except ValueError:
        return PurePosixPath(file)


def _argo_doc(doc: Loaded) -> bool:
    return type(doc.obj).__name__ in ("Application", "ApplicationSet", "ImageUpdater")


def _under(file: PurePosixPath, base: PurePosixPath) -> bool:
    return str(base) == "." or file.is_relative_to(base)


def _sources(app: Application) -> tuple[ApplicationSource, ...]:
    if app.spec.sources:
        return tuple(app.spec.sources)
    return (app.spec.source,) if app.spec.source is not None else ()


def applications(loaded: LoadResult, *, root: Path | None, home: frozenset[str]) -> Apps:
    """Every Application of ``loaded``, generated ones included; see the module docstring."""
    out = Apps()
    for doc in loaded.documents:
        obj = doc.obj
        if isinstance(obj, Application):
            meta = obj.metadata
            out.apps.append(App(meta.name, meta.namespace, meta.labels, _annotations(meta),
                                _sources(obj), doc))  # fmt: skip
        elif isinstance(obj, ApplicationSet):
            _generate(doc, obj, root=root, home=home, out=out)
    return out


def _annotations(meta: Any) -> Mapping[str, Any]:
    found = (meta.model_extra or {}).get("annotations")
    return found if isinstance(found, Mapping) else {}


def _generate(
    doc: Loaded, obj: ApplicationSet, *, root: Path | None, home: frozenset[str], out: Apps
) -> None:
    spec = obj.spec
    generators = spec.get("generators")
    template = spec.get("template")
    if not isinstance(generators, list) or not isinstance(template, Mapping):
        out.problems.append((doc, ("spec",), "needs spec.generators and spec.template"))
        return
    go = spec.get("goTemplate") is True
    made = 0
    for index, generator in enumerate(generators):
        params = _params(generator, root=root, home=home)
        if isinstance(params, str):
            out.problems.append((doc, ("spec", "generators", index), params))
            continue
        for values in params:
            if made >= MAX_GENERATED:
                out.problems.append((doc, ("spec",), f"more than {MAX_GENERATED} Applications"))
                return
            rendered = _render(template, values, go=go)
            if isinstance(rendered, str):
                out.problems.append((doc, ("spec", "template"), rendered))
                return
            app = _app_from(rendered, doc=doc, namespace=obj.metadata.namespace)
            if isinstance(app, str):
                out.problems.append((doc, ("spec", "template"), app))
                return
            out.apps.append(app)
            made += 1


def _params(
    generator: object, *, root: Path | None, home: frozenset[str]
) -> list[dict[str, Any]] | str:
    """The parameter sets of one generator, or why it cannot be evaluated from Git."""
    if not isinstance(generator, Mapping) or len(generator) != 1:
        return "a generator must name exactly one kind"
    kind, body = next(iter(generator.items()))
    if kind == "list" and isinstance(body, Mapping):
        elements = body.get("elements", [])
        if not isinstance(elements, list) or not all(isinstance(e, Mapping) for e in elements):
            return "list.elements must be a list of mappings"
        return [dict(e) for e in elements]
    if kind == "git" and isinstance(body, Mapping) and "directories" in body:
        return _directories(body, root=root, home=home)
    if kind == "git":
        return "a git files generator is not evaluated here (only directories)"
    return f"a {kind} generator needs a cluster or an API; its Applications are not resolved"


def _directories(
    body: Mapping[str, Any], *, root: Path | None, home: frozenset[str]
) -> list[dict[str, Any]] | str:
    url = body.get("repoURL")
    if not isinstance(url, str) or normalise_url(url) not in home:
        return f"the git generator reads {url!r}, not this repository"
    if root is None:
        return "the git generator needs the repository checkout"
    include: list[re.Pattern[str]] = []
    exclude: list[re.Pattern[str]] = []
    for entry in body.get("directories") or []:
        pattern = entry.get("path") if isinstance(entry, Mapping) else None
        regex = glob_to_re2(pattern) if isinstance(pattern, str) else None
        if regex is None:
            return f"directories: {pattern!r} is not a valid path pattern"
        (exclude if entry.get("exclude") is True else include).append(re.compile(regex))
    found = []
    for directory in _all_directories(root):
        if any(r.match(directory) for r in include) and not any(
            r.match(directory) for r in exclude
        ):
            found.append(_path_params(directory))
    return found


def _all_directories(root: Path) -> Iterable[str]:
    for directory, subdirs, _ in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        rel = Path(directory).relative_to(root).as_posix()
        if rel != ".":
            yield rel


def _path_params(directory: str) -> dict[str, Any]:
    segments = directory.split("/")
    base = segments[-1]
    normalized = re.sub(r"[^a-zA-Z0-9-]", "-", base).lower()
    flat: dict[str, Any] = {"path": directory, "path.basename": base,
                            "path.basenameNormalized": normalized}  # fmt: skip
    flat.update({f"path[{i}]": s for i, s in enumerate(segments)})
    flat[".go"] = {"path": {"path": directory, "basename": base,
                            "basenameNormalized": normalized, "segments": segments}}  # fmt: skip
    return flat


def _render(template: Any, values: Mapping[str, Any], *, go: bool) -> Any:
    """``template`` with every string rendered; a message (str) when a Go template fails."""
    data: dict[str, Any] = {}
    if go:
        data = {k: v for k, v in values.items() if k != ".go" and "." not in k and "[" not in k}
        data.update(values.get(".go") or {})

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            if go:
                return parse_template(node).render_data(data)[0] if "{{" in node else node
            return _FAST.sub(lambda m: str(values.get(m.group(1), m.group(0))), node)
        if isinstance(node, Mapping):
            return {walk(k): walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    try:
        return walk(template)
    except MessageTemplateError as exc:
        return f"template: {exc}"


def _app_from(rendered: Mapping[str, Any], *, doc: Loaded, namespace: str) -> App | str:
    meta = rendered.get("metadata") or {}
    name = meta.get("name") if isinstance(meta, Mapping) else None
    if not isinstance(name, str) or not name:
        return "the template gives no metadata.name"
    body = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {**meta, "namespace": meta.get("namespace") or namespace},
            "spec": rendered.get("spec") or {}}  # fmt: skip
    try:
        app = Application.model_validate(body)
    except ValueError as exc:
        return f"the generated Application {name!r} is not valid: {str(exc).splitlines()[0]}"
    m = app.metadata
    return App(m.name, m.namespace, m.labels, _annotations(m), _sources(app), doc, True)


__all__ = ["App", "Apps", "applications", "home_urls", "normalise_url"]
