"""Per-registry settings: TLS, plain HTTP, mirrors, politeness, paging and size caps.

Loaded from a YAML file (format in ``docs/registries.md``)::

    defaults:
      concurrency: 8
    hosts:
      registry.example.com:
        caFile: /etc/ssl/example-ca.crt
        requestsPerSecond: 5
      docker.io:
        mirror: mirror.example.com:5000/dockerhub

A ``hosts`` entry overrides only the keys it names; the rest come from ``defaults``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from image_automation.config.safe_yaml import load_one
from image_automation.errors import ConfigError, Location
from image_automation.registry.limits import HostPoliteness, RetryPolicy

PushTimeApi = Literal[
    "auto", "dockerhub", "quay", "harbor", "ecr", "artifactregistry", "acr", "ghcr", "gitlab",
    "none",
]  # fmt: skip
ResolvedPushTimeApi = Literal[
    "dockerhub", "quay", "harbor", "ecr", "artifactregistry", "acr", "ghcr", "gitlab", "none"
]
_AUTO_PUSH_TIME_API: dict[str, ResolvedPushTimeApi] = {
    "docker.io": "dockerhub",
    "quay.io": "quay",
    "ghcr.io": "ghcr",
    "registry.gitlab.com": "gitlab",
}
ECR_HOST = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
)
"""A private ECR registry: ``<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]``."""
_AUTO_PUSH_TIME_PATTERNS: tuple[tuple[re.Pattern[str], ResolvedPushTimeApi], ...] = (
    (ECR_HOST, "ecr"),
    (re.compile(r"[a-z0-9-]+-docker\.pkg\.dev"), "artifactregistry"),
    (re.compile(r"(?:(?:us|eu|asia)\.)?gcr\.io"), "artifactregistry"),
    (re.compile(r"[a-z0-9]+\.azurecr\.(?:io|cn|us)"), "acr"),
)


class _Model(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )


class HostSettings(_Model):
    """How to talk to one registry host."""

    ca_file: Path | None = Field(None, description="PEM CA bundle to trust for this host.")
    cert_file: Path | None = Field(None, description="PEM client certificate (mutual TLS).")
    key_file: Path | None = Field(None, description="PEM key of cert_file.")
    insecure: bool = Field(False, description="Plain HTTP, no TLS (Flux's `insecure`).")
    tls_verify: bool = Field(True, description="False skips certificate verification.")
    mirror: str | None = Field(
        None, description="host[:port][/prefix] serving this registry's repositories."
    )
    concurrency: int = Field(8, ge=1, description="Requests in flight to this host.")
    requests_per_second: float = Field(0.0, ge=0, description="Token bucket rate; 0 = none.")
    burst: int = Field(10, ge=1, description="Requests the bucket lets through at once.")
    max_wait: float = Field(
        60.0, ge=0, description="Seconds of rate-limit pause we sit out; longer ones fail."
    )
    page_size: int = Field(1000, ge=0, description="`n` for tags/list; 0 sends none.")
    max_pages: int = Field(100, ge=1, description="Tag pages per repository before failing.")
    timeout: float = Field(30.0, gt=0, description="Seconds per HTTP request.")
    scan_timeout: float = Field(
        60.0,
        gt=0,
        allow_inf_nan=False,  # `.inf` would mean no deadline at all: say so with a big number
        description="Seconds one repository's whole scan may take (pages, retries, metadata); "
        "an ImageRepository's `spec.timeout` replaces it.",
    )
    max_body_bytes: int = Field(
        16 << 20, ge=1024, description="Largest response body (tag page, manifest) accepted."
    )
    push_time_api: PushTimeApi = Field(
        "auto",
        description="Where push times come from: `auto` (the API of the registry's vendor, "
        "told by its host: docker.io, quay.io, ghcr.io, registry.gitlab.com, ECR, Artifact "
        "Registry/GCR, ACR; else none), `dockerhub`, `quay`, `harbor` or `gitlab` (any host, "
        "named explicitly), `ecr`, `artifactregistry`, `acr`, `ghcr`, or `none`.",
    )
    push_time_url: str | None = Field(
        None,
        description="Base URL of the push-time API (scheme://host[:port][/prefix]); default "
        "https://hub.docker.com, https://quay.io, https://api.github.com (ghcr), "
        "https://artifactregistry.googleapis.com, the region's endpoint (ecr), or the "
        "registry itself (harbor, acr, gitlab).",
    )

    @field_validator("push_time_url")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query:
            raise ValueError("pushTimeUrl must be an http(s)://host[:port][/prefix] URL")
        return value.rstrip("/")

    def push_time_api_for(self, registry: str) -> ResolvedPushTimeApi:
        """The push-time API for ``registry`` once ``auto`` is resolved.

        ``auto`` means none for a mirrored host: a mirror usually stands in for an upstream
        this network cannot reach or should not hammer; name the API to ask it anyway.
        """
        if self.push_time_api != "auto":
            return self.push_time_api
        if self.mirror:
            return "none"
        host = registry.lower()
        found = _AUTO_PUSH_TIME_API.get(host)
        if found is not None:
            return found
        for pattern, api in _AUTO_PUSH_TIME_PATTERNS:
            if pattern.fullmatch(host):
                return api
        return "none"

    def politeness(self) -> HostPoliteness:
        return HostPoliteness(
            concurrency=self.concurrency,
            requests_per_second=self.requests_per_second,
            burst=self.burst,
            max_wait=self.max_wait,
        )


class RetrySettings(_Model):
    """Retries on 5xx, 429 and connection errors."""

    attempts: int = Field(4, ge=1, description="Tries per request, the first included.")
    base_delay: float = Field(0.5, ge=0, description="Seconds; doubles each retry, jittered.")
    max_delay: float = Field(30.0, ge=0, description="Seconds; ceiling of one backoff.")

    def policy(self) -> RetryPolicy:
        return RetryPolicy(self.attempts, self.base_delay, self.max_delay)


class RegistrySettings(_Model):
    """All registry settings: defaults, per-host overrides, retries."""

    defaults: HostSettings = HostSettings()
    hosts: dict[str, HostSettings] = Field(default_factory=dict)
    retry: RetrySettings = RetrySettings()

    def for_host(self, host: str) -> HostSettings:
        """Settings for ``host`` (a registry name like ``docker.io`` or an API host:port)."""
        override = self.hosts.get(host.lower())
        if override is None:
            return self.defaults
        return self.defaults.model_copy(
            update={name: getattr(override, name) for name in override.model_fields_set}
        )

    def with_host(self, host: str, **changes: Any) -> RegistrySettings:
        """A copy where ``host`` also has ``changes`` (used by CLI flags)."""
        current = self.hosts.get(host.lower())
        merged = dict(current.model_dump(include=current.model_fields_set)) if current else {}
        merged.update(changes)
        hosts = dict(self.hosts)
        hosts[host.lower()] = HostSettings.model_validate(merged)
        return self.model_copy(update={"hosts": hosts})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RegistrySettings:
        """Read a YAML settings file; errors are :class:`ConfigError` naming file and field."""
        name = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read: {exc.strerror}", location=Location(name)) from exc
        data = load_one(text, file=name)  # bounded aliases; errors name file:line
        try:
            settings = cls.model_validate(data or {})
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise ConfigError(first["msg"], location=Location(name, field=field)) from exc
        hosts = {k.lower(): v for k, v in settings.hosts.items()}
        return settings.model_copy(update={"hosts": hosts})


__all__ = [
    "ECR_HOST",
    "HostSettings",
    "PushTimeApi",
    "RegistrySettings",
    "ResolvedPushTimeApi",
    "RetrySettings",
]
