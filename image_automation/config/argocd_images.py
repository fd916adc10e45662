"""What one Image Updater image asks for, as our native ``TrackedImage``.

Each image of an ``ImageUpdater`` (or of an Application's legacy annotations) becomes a
``TrackedImage`` document, built here and checked by the same resolver as every native
policy, so scanning, selection, decisions and the daemon need nothing new. The mapping keeps
AIU's documented semantics:

* ``imageName`` carries the constraint in its tag part (``nginx:~1.26``, ``some/image:1.x``);
  ``semver`` reads tags loosely (``v1.2``, ``1.2``), considers prereleases only when the
  constraint has one (``2.x-0``) and, without a constraint, every version, prereleases too;
* ``newest-build`` orders by build time (ties: the greater tag), ``alphabetical`` by name,
  ``digest`` follows the one tag named by the constraint and writes its digest;
  the deprecated names ``latest`` and ``name`` are accepted with a warning;
* ``allowTags``: ``regexp:<RE2>`` searched in the tag, or ``any``; anything else, or a
  regexp that does not compile, matches no tag (a warning says so);
* ``ignoreTags``: Go ``filepath.Match`` globs, each tag that matches one is skipped;
* ``pullSecret: pullsecret:<ns>/<name>``: the docker config in ``--secrets-dir/<name>``;
  ``<ns>`` must be the ImageUpdater's namespace (the folder is that namespace's).

Settings are merged per field, the innermost level (image, then applicationRef, then spec)
winning. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from image_automation.config.argocd_models import CommonUpdateSettings
from image_automation.config.models import TrackedImage
from image_automation.config.safe_yaml import load_one
from image_automation.domain import ImageRef, InvalidReference
from image_automation.errors import ConfigError
from image_automation.policy import InvalidPattern, InvalidRange, compile_pattern, parse_range

STRATEGIES = {
    "semver": "semver",
    "newest-build": "newest-build",
    "latest": "newest-build",
    "digest": "digest",
    "alphabetical": "alphabetical",
    "name": "alphabetical",
}
_DEPRECATED = {"latest": "newest-build", "name": "alphabetical"}
MATCH_NOTHING = r"\A\z"
"""An allow pattern no tag matches (tags are never empty): AIU's invalid ``allowTags``."""
_SETTINGS_FIELDS = tuple(CommonUpdateSettings.model_fields)


_SECRET_NAME = re.compile(
    r"(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*"
)
"""A Kubernetes Secret name (DNS-1123 subdomain): never ``..``, a ``/`` or empty."""


@dataclass(frozen=True, slots=True)
class Problem:
    """A message at a field path of the document it came from (``error`` or warning)."""

    path: tuple[str | int, ...]
    message: str
    error: bool = True


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """One image as written: where its settings came from is kept for messages."""

    alias: str
    image_name: str
    settings: CommonUpdateSettings
    path: tuple[str | int, ...]
    """Path of the image's entry in its document (for ``file:line`` messages)."""
    settings_path: tuple[str | int, ...] = ()


@dataclass(slots=True)
class Mapped:
    """The ``TrackedImage`` for one image (None when it cannot be tracked) and why not."""

    tracked: TrackedImage | None
    name: str = ""
    """The image name as written (``nginx``, ``ghcr.io/org/app``), without the constraint."""
    ref: ImageRef | None = None
    problems: list[Problem] = field(default_factory=list)


def merge(*levels: CommonUpdateSettings | None) -> CommonUpdateSettings:
    """Outermost first; a field set at an inner level replaces the outer value."""
    data: dict[str, Any] = {}
    for level in levels:
        if level is None:
            continue
        for name in level.model_fields_set:
            data[name] = getattr(level, name)
    return CommonUpdateSettings.model_validate(data)


def split_image_name(text: str) -> tuple[str, str | None]:
    """``registry/repo:constraint`` → (``registry/repo``, ``constraint`` or None).

    The constraint is what follows the last ``:`` after the last ``/`` (a registry port
    stays with the name); it may hold blanks and operators a tag never has.
    """
    slash = text.rfind("/")
    colon = text.find(":", slash + 1)
    if colon == -1:
        return text, None
    constraint = text[colon + 1 :].strip()
    return text[:colon], constraint or None


def glob_to_re2(pattern: str) -> str | None:
    """A Go ``filepath.Match`` pattern as an anchored RE2 pattern; None when Go refuses it
    (then, as in AIU, it ignores nothing)."""
    out, i = ["^"], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\":
            if i + 1 == len(pattern):
                return None
            i += 1
            out.append(re.escape(pattern[i]))
        elif char == "[":
            end, klass = _glob_class(pattern, i)
            if end < 0:
                return None
            out.append(klass)
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out) + "$"


def _glob_class(pattern: str, start: int) -> tuple[int, str]:
    """``[...]`` from ``start``: (index of ``]``, RE2 class), or (-1, "") when malformed."""
    i, parts = start + 1, ["["]
    if i < len(pattern) and pattern[i] == "^":
        parts.append("^")
        i += 1
    first = True
    while i < len(pattern) and (pattern[i] != "]" or first):
        char = pattern[i]
        if char == "\\":
            i += 1
            if i == len(pattern):
                return -1, ""
            char = pattern[i]
        if char in "[]\\^-" and not (char == "-" and not first and pattern[i + 1 : i + 2] != "]"):
            parts.append("\\" + char)
        else:
            parts.append(char)
        first = False
        i += 1
    if i >= len(pattern) or first:
        return -1, ""
    return i, "".join(parts) + "]"


def plain_http_hosts(registries_conf: str | None, *, file: str) -> tuple[frozenset[str], str]:
    """Hosts AIU's ``registries.conf`` reaches over plain HTTP (an ``http://`` api_url), and
    why the text cannot be read ("" when it can): a broken file is reported, not ignored."""
    if not registries_conf:
        return frozenset(), ""
    try:
        data = load_one(registries_conf, file=file)
    except ConfigError as exc:
        return frozenset(), exc.message
    entries = data.get("registries") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        return frozenset(), "registries must be a list of mappings (name, prefix, api_url, ...)"
    hosts = set()
    for entry in entries:
        api, prefix = entry.get("api_url"), entry.get("prefix")
        if isinstance(api, str) and api.startswith("http://") and isinstance(prefix, str):
            hosts.add(prefix.rstrip("/"))
    return frozenset(hosts), ""


def map_image(
    spec: ImageSpec, *, namespace: str, name: str, plain_http: frozenset[str] = frozenset()
) -> Mapped:
    """The ``TrackedImage`` ``namespace/name`` for ``spec``; problems carry field paths.
    ``plain_http``: registry hosts reached without TLS (AIU's ``registries.conf``)."""
    image_text, constraint = split_image_name(spec.image_name)
    where = (*spec.path, "imageName")
    out = Mapped(tracked=None, name=image_text)
    if "@" in spec.image_name:
        out.problems.append(Problem(where, "a digest cannot be tracked; name a tag constraint"))
        return out
    try:
        out.ref = ImageRef.parse(image_text)
    except InvalidReference as exc:
        out.problems.append(Problem(where, str(exc)))
        return out
    settings = spec.settings
    select = _select(settings, constraint, spec, out.problems)
    if select is None:
        return out
    body: dict[str, Any] = {"image": out.ref.name, "select": select}
    body.update(_filters(settings, spec, out.problems))
    scan = _scan(settings, spec, out.problems, namespace=namespace)
    if scan is None:
        return out
    body["scan"] = {**scan, "insecure": True} if out.ref.registry in plain_http else scan
    if "follow" in select:
        body["digestReflectionPolicy"] = "Always"
    document = {
        "apiVersion": "image-automation.io/v1alpha1",
        "kind": "TrackedImage",
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }
    try:
        out.tracked = TrackedImage.model_validate(document)
    except ValidationError as exc:
        for error in exc.errors():
            out.problems.append(Problem(where, str(error.get("msg", "invalid value"))))
    return out


def _select(
    settings: CommonUpdateSettings,
    constraint: str | None,
    spec: ImageSpec,
    problems: list[Problem],
) -> dict[str, Any] | None:
    given = settings.update_strategy or "semver"
    strategy = STRATEGIES.get(given)
    where = (*spec.settings_path, "updateStrategy")
    if strategy is None:
        known = ", ".join(s for s in STRATEGIES if s not in _DEPRECATED)
        problems.append(Problem(where, f"unknown updateStrategy {given[:60]!r} (known: {known})"))
        return None
    if given in _DEPRECATED:
        problems.append(
            Problem(where, f"{given!r} is deprecated in AIU; use {_DEPRECATED[given]!r}", False)
        )
    if strategy == "semver":
        if constraint is None:
            return {"semver": {"range": "*", "prereleases": True, "strict": False}}
        try:
            parse_range(constraint)
        except InvalidRange as exc:
            problems.append(Problem((*spec.path, "imageName"), f"version constraint: {exc}"))
            return None
        return {"semver": {"range": constraint, "strict": False}}
    if strategy == "digest":
        if constraint is None:
            problems.append(
                Problem((*spec.path, "imageName"), "the digest strategy needs the tag to follow "
                        "in imageName (some/image:latest)")
            )  # fmt: skip
            return None
        return {"follow": {"tag": constraint}}
    if constraint is not None:
        problems.append(
            Problem((*spec.path, "imageName"),
                    f"the constraint {constraint[:60]!r} has no effect with {strategy} (as in AIU)",
                    error=False)
        )  # fmt: skip
    return {"newestBuild": {}} if strategy == "newest-build" else {"alphabetical": {"order": "asc"}}


def _filters(
    settings: CommonUpdateSettings, spec: ImageSpec, problems: list[Problem]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    allow = settings.allow_tags
    if allow is not None and allow != "any":
        where = (*spec.settings_path, "allowTags")
        if allow.startswith("regexp:") and _compiles(allow[len("regexp:") :]):
            out["allow"] = [allow[len("regexp:") :]]
        else:
            why = (
                "the regexp does not compile"
                if allow.startswith("regexp:")
                else "it is neither 'regexp:<expression>' nor 'any'"
            )
            problems.append(Problem(where, f"{allow[:60]!r} matches no tag: {why} (as AIU)", False))
            out["allow"] = [MATCH_NOTHING]
    deny = []
    for index, pattern in enumerate(settings.ignore_tags or []):
        translated = glob_to_re2(pattern)
        if translated is None:
            where = (*spec.settings_path, "ignoreTags", index)
            problems.append(Problem(where, f"{pattern[:60]!r} is not a valid glob; ignored", False))
        else:
            deny.append(translated)
    if deny:
        out["deny"] = deny
    return out


def _compiles(pattern: str) -> bool:
    try:
        compile_pattern(pattern)
    except InvalidPattern:
        return False
    return True


def _scan(
    settings: CommonUpdateSettings, spec: ImageSpec, problems: list[Problem], *, namespace: str
) -> dict[str, Any] | None:
    scan: dict[str, Any] = {}
    platforms: Sequence[str] = settings.platforms or []
    if platforms:
        scan["platform"] = platforms[0]
        if len(platforms) > 1:
            where = (*spec.settings_path, "platforms")
            problems.append(Problem(where, f"only the first platform, {platforms[0]}, is used",
                                    False))  # fmt: skip
    secret = settings.pull_secret
    if secret is not None:
        where = (*spec.settings_path, "pullSecret")
        name = _pull_secret(secret, namespace)
        if name.startswith("!"):
            problems.append(Problem(where, name[1:]))
            return None
        scan["secretRef"] = {"name": name}
    return scan


def _pull_secret(secret: str, namespace: str) -> str:
    """The mounted folder ``pullsecret:<ns>/<name>`` names; ``!why`` when it names none, or
    a Secret of another namespace (its folder is not this namespace's to read)."""
    kind, _, ref = secret.partition(":")
    if kind != "pullsecret":
        return (f"!{kind[:30]!r} credentials are not read from Git; use "
                "pullsecret:<namespace>/<name> or --docker-config")  # fmt: skip
    ns, slash, name = ref.partition("/")
    if not slash:
        return f"!{secret[:80]!r} must be pullsecret:<namespace>/<name>"
    if not _SECRET_NAME.fullmatch(name):
        return f"!{name[:80]!r} is not a Secret name (lowercase DNS subdomain, at most 253)"
    if ns != namespace:
        return (f"!secret {name!r} is in namespace {ns[:63]}, not the ImageUpdater's "
                f"{namespace} (refused, as for git:secret)")  # fmt: skip
    return name


__all__ = [
    "MATCH_NOTHING",
    "STRATEGIES",
    "ImageSpec",
    "Mapped",
    "Problem",
    "glob_to_re2",
    "map_image",
    "merge",
    "plain_http_hosts",
    "split_image_name",
]
