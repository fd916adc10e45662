"""Registry adapter: OCI distribution API client, auth flows, credentials, politeness.

``RegistryClient`` is the entry point::

    async with RegistryClient(credentials=DockerConfig.load(path)) as client:
        listing = await client.list_tags("ghcr.io/fluxcd/flux-cli")
"""

from image_automation.registry._http import TransportFactory, default_transport
from image_automation.registry.auth import RegistryAuth, TokenCache
from image_automation.registry.client import (
    DEFAULT_PLATFORM,
    MANIFEST_ACCEPT,
    Manifest,
    Platform,
    RegistryClient,
    TagList,
    parse_created,
)
from image_automation.registry.cloud import (
    CloudCache,
    CloudCredentials,
    detect_provider,
    shared_cloud_cache,
)
from image_automation.registry.credentials import (
    ChainedCredentials,
    Credential,
    CredentialSource,
    DockerConfig,
    SecretsDir,
    StaticCredentials,
    TlsFiles,
)
from image_automation.registry.limits import Clock, RetryPolicy, SystemClock
from image_automation.registry.settings import (
    HostSettings,
    PushTimeApi,
    RegistrySettings,
    ResolvedPushTimeApi,
    RetrySettings,
)

__all__ = [
    "DEFAULT_PLATFORM",
    "MANIFEST_ACCEPT",
    "ChainedCredentials",
    "Clock",
    "CloudCache",
    "CloudCredentials",
    "Credential",
    "CredentialSource",
    "DockerConfig",
    "HostSettings",
    "Manifest",
    "Platform",
    "PushTimeApi",
    "RegistryAuth",
    "RegistryClient",
    "RegistrySettings",
    "ResolvedPushTimeApi",
    "RetryPolicy",
    "RetrySettings",
    "SecretsDir",
    "StaticCredentials",
    "SystemClock",
    "TagList",
    "TlsFiles",
    "TokenCache",
    "TransportFactory",
    "default_transport",
    "detect_provider",
    "parse_created",
    "shared_cloud_cache",
]
