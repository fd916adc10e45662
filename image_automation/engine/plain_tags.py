"""A minimal tag source for ``reconcile``: ``GET /v2/<name>/tags/list`` per repository.

Stopgap until the registry client (``image_automation.registry``) and the state store land
on main: anonymous or HTTP Basic credentials from a Docker ``config.json``; plain HTTP only
for ``insecure`` repositories and loopback hosts (as Docker does); no token flow, no
pagination, no metadata (digests, build times). Policies that need metadata (minAge,
newestBuild, follow, digest reflection) are reported as such instead of guessed at.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import httpx

from image_automation.config.resolving import ResolvedPolicy
from image_automation.domain import ImageRef, TagInfo
from image_automation.engine.reconcile import FoundTags

_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


class PlainTagSource:
    """Lists each repository once per scan; implements :class:`reconcile.TagSource`."""

    def __init__(self, *, docker_config: Path | None = None, timeout: float = 30.0) -> None:
        self._auths = _read_docker_config(docker_config) if docker_config else {}
        self._timeout = timeout

    async def scan(self, policies: Sequence[ResolvedPolicy], *, now: datetime) -> FoundTags:
        targets: dict[str, tuple[ImageRef, bool]] = {}
        errors: dict[str, str] = {}
        for policy in policies:
            if policy.needs_metadata:
                errors[policy.image.name] = (
                    f"policy {policy.key} needs digests/timestamps, which this build's "
                    "reconcile cannot fetch yet"
                )
            insecure = bool(getattr(policy.repository.obj.spec, "insecure", False))
            scan = getattr(policy.repository.obj.spec, "scan", None)
            insecure = insecure or bool(getattr(scan, "insecure", False))
            seen = targets.get(policy.image.name)
            targets[policy.image.name] = (policy.image, insecure or bool(seen and seen[1]))
        tags: dict[str, list[TagInfo]] = {}
        async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=True) as client:
            names = [n for n in sorted(targets) if n not in errors]
            results = await asyncio.gather(
                *(self._list(client, *targets[name], now=now) for name in names),
                return_exceptions=True,
            )
        for name, outcome in zip(names, results, strict=True):
            if isinstance(outcome, BaseException):
                errors[name] = str(outcome) or type(outcome).__name__
            else:
                tags[name] = outcome
        return FoundTags(tags=tags, errors=errors)

    async def _list(
        self, client: httpx.AsyncClient, image: ImageRef, insecure: bool, *, now: datetime
    ) -> list[TagInfo]:
        host = image.api_host
        plain = insecure or host.split(":")[0] in _LOOPBACK or host.startswith("[::1]")
        url = f"{'http' if plain else 'https'}://{host}/v2/{image.repository}/tags/list"
        headers = {"Accept": "application/json"}
        auth = self._auths.get(image.registry) or self._auths.get(host)
        if auth:
            headers["Authorization"] = f"Basic {auth}"
        try:
            response = await client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise RuntimeError(f"{host}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise RuntimeError(f"{host}/{image.repository}: HTTP {response.status_code}")
        body = response.json()
        return [TagInfo(name=str(t), first_seen=now) for t in body.get("tags") or []]


def _read_docker_config(path: Path) -> dict[str, str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for host, entry in (data.get("auths") or {}).items():
        token = entry.get("auth")
        if not token and entry.get("username"):
            pair = f"{entry['username']}:{entry.get('password', '')}"
            token = base64.b64encode(pair.encode()).decode()
        if token:
            out[host.removeprefix("https://").removeprefix("http://").rstrip("/")] = token
    return out


__all__ = ["PlainTagSource"]
