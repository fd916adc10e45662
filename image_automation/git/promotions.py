"""A promotion pull request's title and body: what moves from which stage to which, and why now.

Pure: no forge, no git, no clock. The engine hands in plain values (times already written
as text): the images moving, with the stage's current value, the digest, where each change
is, since when the previous stage has had the image and how long it soaked; each gate with
its result and link; the chain of stages so far; what is held back and why; the diff. The
body fits the forge's limit by dropping detail — the diff first, then the chain, then gate
details, then table rows — and always ends with the footer every body of ours ends with
(:func:`image_automation.git.pull_requests.footer`), so the lifecycle knows it as ours and
its checkboxes work. Every value we did not write goes into a code span
(:mod:`image_automation.git._markdown`); a link is made only from an http(s) URL without
credentials, and an HTTP gate's URL is shown without its query (where tokens hide).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from image_automation.git._markdown import clean, code, decode_marker, encode_marker
from image_automation.git._pr_content import RenderedPullRequest
from image_automation.git.pull_requests import TITLE_LIMIT, body_limit, footer

MAX_ROWS = 50
MAX_WHERE = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class MovingImage:
    """One image moving into the stage. ``old``/``new`` are short values (``1.0.0``,
    ``1.1.0``); ``since`` (text) and ``soaked`` (text) say how long the previous stage has
    had it; ``where`` are the ``file:line`` of the changes."""

    image: str
    policy: str
    old: str
    new: str
    digest: str
    since: str
    soaked: str
    where: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class GateLine:
    """A gate's result: ``state`` is ``success``, ``pending`` or ``failure``."""

    name: str
    state: str
    detail: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainLink:
    """One stage in the chain: the value it holds for an image and since when."""

    stage: str
    value: str
    since: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PromotionContent:
    """``promotion`` is shown; ``owner`` (the stage's automation key) goes in the hidden
    marker the lifecycle recognises its pull requests by."""

    promotion: str
    owner: str
    head: str
    base: str
    source: str
    target: str
    images: Sequence[MovingImage]
    gates: Sequence[GateLine] = ()
    chains: Mapping[str, Sequence[ChainLink]] = field(default_factory=dict)
    """Image → the chain of stages (first stage first)."""
    held: Mapping[str, str] = field(default_factory=dict)
    diff: str = ""
    proposed_at: str = ""
    """When these images were first proposed (ISO time): the durations shown are as of then,
    so the body of an unchanged pull request stays the same from one evaluation to the
    next; :func:`proposed_at` reads it back."""


ADVICE = (
    "To keep {target} where it is, tick *Ignore* below or close this pull request without "
    "merging: these images are not promoted to it again, and a newer one opens a new pull "
    "request."
)
_STATE_WORDS = {"success": "passed", "pending": "pending", "failure": "FAILED"}


def render_promotion(content: PromotionContent, *, provider: str) -> RenderedPullRequest:
    """Title and body for ``content`` on ``provider`` (``ValueError``: unknown provider)."""
    limit = body_limit(provider)
    measure = _utf16 if provider == "azuredevops" else len
    end = footer(content.owner, content.head, advice=ADVICE.format(target=content.target))
    budget = limit - measure(end)
    body = _fit(content, budget=budget - measure(_stamp(content)), measure=measure)
    return RenderedPullRequest(_title(content, measure=measure), body + _stamp(content) + end)


def _stamp(content: PromotionContent) -> str:
    if not content.proposed_at:
        return ""
    digests = ",".join(sorted({i.digest for i in content.images}))
    at, images = encode_marker(content.proposed_at), encode_marker(digests)
    return f"\n\n<!-- ia:promoted at={at} images={images} -->"


_STAMP = re.compile(r"<!-- ia:promoted at=(\S+) images=(\S*) -->")


def proposed_at(body: str | None, digests: Sequence[str]) -> str | None:
    """The time a body of ours says its images were proposed, when it carries exactly
    ``digests`` (else None: they changed, so the durations are new)."""
    found = _STAMP.findall(body or "")
    if not found:
        return None
    at, images = (decode_marker(value) for value in found[-1])
    if images != ",".join(sorted(set(digests))):
        return None
    return at


def _title(content: PromotionContent, *, measure: Callable[[str], int]) -> str:
    names = sorted({i.image for i in content.images})
    if len(names) == 1:
        news = ", ".join(sorted({i.new for i in content.images}))
        text = f"promote({content.target}): {names[0]} {news} from {content.source}"
    else:
        text = f"promote({content.target}): {len(names)} images from {content.source}"
    title = " ".join(clean(text, limit=4 * TITLE_LIMIT).split())
    while measure(title) > TITLE_LIMIT:
        title = title[: len(title) - (measure(title) - TITLE_LIMIT) - 1].rstrip() + "…"
    return title


def _fit(content: PromotionContent, *, budget: int, measure: Callable[[str], int]) -> str:
    """The fullest body within ``budget``: less detail first, then fewer rows."""
    for level in ("full", "no-diff", "no-chain", "short-gates"):
        text = _body(content, level=level, rows=MAX_ROWS)
        if measure(text) <= budget:
            return text
    rows = min(len(content.images), MAX_ROWS)
    while rows > 0:
        rows //= 2
        text = _body(content, level="short-gates", rows=rows)
        if measure(text) <= budget:
            return text
    text = _body(content, level="short-gates", rows=0)
    return text[: max(budget - 40, 0)].rsplit("\n", 1)[0] + "\n\n… (shortened to fit)"


def _body(content: PromotionContent, *, level: str, rows: int) -> str:
    n = len({i.image for i in content.images})
    out = [
        f"Promotion {code(content.promotion)} moves {n} image{'s' if n != 1 else ''} from "
        f"**{_word(content.source)}** to **{_word(content.target)}** (base "
        f"{code(content.base)}).",
        "",
        f"| image | {_word(content.target)} now → new | digest | "
        f"{_word(content.source)} since | soaked | where |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for item in content.images[:rows]:
        where = ", ".join(code(w) for w in item.where[:MAX_WHERE])
        if len(item.where) > MAX_WHERE:
            where += f" and {len(item.where) - MAX_WHERE} more"
        out.append(
            f"| {code(item.image)} | {code(item.old) or 'none'} → {code(item.new)} | "
            f"{code(item.digest)} | {clean(item.since)} | {clean(item.soaked)} | {where} |"
        )
    if len(content.images) > rows:
        out.append(f"| … {len(content.images) - rows} more | | | | | |")
    if content.gates:
        out += ["", "### Gates", ""]
        out += [_gate(g, short=level == "short-gates") for g in content.gates]
    if content.chains and level in ("full", "no-diff"):
        out += ["", "### Chain so far", ""]
        for image, links in sorted(content.chains.items()):
            steps = " → ".join(
                f"{_word(link.stage)} {code(link.value) or 'none'}"
                + (f" since {clean(link.since)}" if link.since else "")
                for link in links
            )
            out.append(f"- {code(image)}: {steps}")
    if content.held:
        out += ["", "### Held back", ""]
        out += [f"- {code(k)}: {clean(v, limit=512)}" for k, v in sorted(content.held.items())]
    if content.diff and level == "full":
        fence = "`" * max(3, _longest_run(content.diff) + 1)
        out += ["", "### Diff", "", f"{fence}diff", content.diff.rstrip("\n"), fence]
    return "\n".join(out)


def _gate(gate: GateLine, *, short: bool) -> str:
    word = _STATE_WORDS.get(gate.state, clean(gate.state, limit=20))
    line = f"- {word}: {code(gate.name)}"
    if gate.detail and not short:
        line += f": {clean(gate.detail, limit=300)}"
    link = safe_link(gate.url)
    if link and not short:
        line += f" ([details]({link}))"
    return line


_WORD = re.compile(r"[a-z0-9-]{1,40}")


def _word(stage: str) -> str:
    """A stage name (validated ``[a-z0-9-]``) as is; anything else as a code span."""
    return stage if _WORD.fullmatch(stage) else str(code(stage))


def _longest_run(text: str) -> int:
    return max((len(m) for m in re.findall(r"`+", text)), default=0)


def safe_link(url: str) -> str:
    """``url`` fit for a Markdown link target, or "": http(s), a host, no credentials, no
    spaces or control characters, at most 2048 characters; brackets and quotes encoded."""
    if not url or len(url) > 2048 or not url.isascii() or any(ord(c) <= 0x20 for c in url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return ""
    return quote(url, safe="/:?&=#%+,;~._-!$*") if _UNSAFE_LINK.search(url) else url


_UNSAFE_LINK = re.compile(r"[()\[\]<>\"'`\\{}|^]")


def shown_url(url: str) -> str:
    """An HTTP gate's URL as a report shows it: scheme, host, port and path only."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(invalid URL)"
    return clean(f"{parts.scheme}://{host}{port}{parts.path}", limit=200)


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


__all__ = [
    "ADVICE",
    "ChainLink",
    "GateLine",
    "MovingImage",
    "PromotionContent",
    "proposed_at",
    "render_promotion",
    "safe_link",
    "shown_url",
]
