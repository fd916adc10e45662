"""The gates a stage asks of the commit that landed an image in the stage before it.

Named checks: the forge's commit statuses and check runs of that commit
(:meth:`~image_automation.forges.Forge.checks`), asked once per commit per evaluation, and
only for images that are otherwise ready (soaked, the window open, not backwards), so a
steady state costs no forge request here. A name that has not reported is pending; the
first run of a name decides (forges list the newest first).

HTTP checks: a GET that must answer 2xx, with the stage's timeout, no redirect followed, the
body never read. A secret's ``bearerToken`` goes in ``Authorization``. No secret reaches a
message: the URL is shown without its query, and an error by its kind, not its text (an
HTTP library's text may quote the URL).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from image_automation.engine._promo_plan import HttpCheck
from image_automation.errors import ImageAutomationError
from image_automation.forges import Checks, Forge
from image_automation.git.promotions import shown_url
from image_automation.policy._promote import GateResult

log = logging.getLogger(__name__)

MAX_TOKEN_BYTES = 64 * 1024


@dataclass(slots=True)
class GateCache:
    """One evaluation's answers, so two images landed by one commit ask once."""

    checks: dict[tuple[int, str], Checks | str] = field(default_factory=dict)
    http: dict[HttpCheck, GateResult] = field(default_factory=dict)


async def commit_checks(
    forge: Forge, sha: str, names: Sequence[str], *, cache: GateCache, where: str
) -> list[GateResult]:
    """A result per name in ``names`` for commit ``sha`` (``where`` names the stage)."""
    if not names:
        return []
    key = (id(forge), sha)
    if key not in cache.checks:
        try:
            cache.checks[key] = await forge.checks(sha)
        except ImageAutomationError as exc:
            cache.checks[key] = f"cannot read the checks of {sha[:12]}: {exc}"
    found = cache.checks[key]
    results = []
    for name in names:
        label = f"check {name}"
        if isinstance(found, str):
            results.append(GateResult(label, "pending", found))
            continue
        run = next((r for r in found.runs if r.name == name), None)
        if run is None:
            detail = f"has not reported on {where}'s commit {sha[:12]}"
            results.append(GateResult(label, "pending", detail))
        else:
            detail = f"{run.state} on {where}'s commit {sha[:12]}"
            results.append(GateResult(label, run.state, detail, run.url))
    return results


async def http_checks(
    checks: Sequence[HttpCheck], *, secrets_dir: Path | None, cache: GateCache,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[GateResult]:  # fmt: skip
    """One result per URL, asked at once."""
    wanted = [c for c in checks if c not in cache.http]
    answers = await asyncio.gather(
        *(_probe(c, secrets_dir=secrets_dir, transport=transport) for c in wanted)
    )
    cache.http.update(zip(wanted, answers, strict=True))
    return [cache.http[c] for c in checks]


async def _probe(
    check: HttpCheck, *, secrets_dir: Path | None, transport: httpx.AsyncBaseTransport | None
) -> GateResult:
    label = f"HTTP {shown_url(check.url)}"
    headers = {"User-Agent": "image-automation"}
    if check.secret:
        try:
            headers["Authorization"] = f"Bearer {_token(secrets_dir, check.secret)}"
        except ImageAutomationError as exc:
            return GateResult(label, "failure", str(exc))
    timeout = httpx.Timeout(check.timeout)
    try:
        async with (
            httpx.AsyncClient(
                timeout=timeout, follow_redirects=False, transport=transport, trust_env=False
            ) as client,  # fmt: skip
            client.stream("GET", check.url, headers=headers) as response,
        ):
            status = response.status_code
    except httpx.TimeoutException:
        return GateResult(label, "pending", f"no answer within {check.timeout:g}s")
    except httpx.HTTPError as exc:
        return GateResult(label, "pending", f"unreachable ({type(exc).__name__})")
    if 200 <= status < 300:
        return GateResult(label, "success", f"answered {status}")
    return GateResult(label, "failure", f"answered {status}, not 2xx")


def _token(secrets_dir: Path | None, name: str) -> str:
    if secrets_dir is None:
        raise ImageAutomationError(f"secret {name!r} needs --secrets-dir")
    if not name or "/" in name or name in (".", ".."):
        raise ImageAutomationError(f"secret name {name[:60]!r} is not a directory name")
    path = secrets_dir / name / "bearerToken"
    try:
        if path.stat().st_size > MAX_TOKEN_BYTES:
            raise ImageAutomationError(f"secret {name!r}: bearerToken is too large")
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ImageAutomationError(f"secret {name!r}: cannot read its bearerToken") from exc
    if not token or any(ord(c) < 0x20 or ord(c) == 0x7F for c in token):
        raise ImageAutomationError(f"secret {name!r}: bearerToken is empty or not one line")
    return token


__all__ = ["GateCache", "commit_checks", "http_checks"]
