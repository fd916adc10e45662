"""ACR credentials from an Entra ID identity (the ``azure`` extra: azure-identity).

Three steps, as ``az acr login`` takes them: an Entra ID access token for ACR
(:data:`ACR_SCOPE`) from the first identity this pod or VM has (a client secret or
certificate in ``AZURE_CLIENT_SECRET``/``AZURE_CLIENT_CERTIFICATE_PATH``, workload identity's
federated token file ``AZURE_FEDERATED_TOKEN_FILE``, then managed identity); ``POST
/oauth2/exchange`` on the registry trades it for an ACR refresh token (about 3 hours); the
registry client then trades that, per repository scope, for access tokens at the registry's
own ``/oauth2/token`` (its Bearer challenge; an identity token in a docker config goes the
same way). The exchange goes to the registry host only, with that host's TLS settings.

An ``AZURE_AUTHORITY_HOST`` that is not one of Azure's public or sovereign authorities is a
private cloud (or a test): instance discovery, which asks login.microsoftonline.com, is off.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError
from azure.identity import (
    AzureAuthorityHosts,
    ChainedTokenCredential,
    CredentialUnavailableError,
    EnvironmentCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)

from image_automation.errors import NoCloudCredentials, RegistryError, RegistryUnavailable
from image_automation.registry._failures import unreachable_reason
from image_automation.registry._http import _ssl_context, system_ssl_context
from image_automation.registry.cloud import CloudLogin, jwt_claims
from image_automation.registry.credentials import Credential
from image_automation.registry.settings import HostSettings

ACR_SCOPE = "https://containerregistry.azure.net/.default"
ACR_USERNAME = "00000000-0000-0000-0000-000000000000"
"""The user name ACR expects beside a refresh token (docker's ``identitytoken``)."""
_KNOWN_AUTHORITIES = frozenset(
    {
        AzureAuthorityHosts.AZURE_PUBLIC_CLOUD,
        AzureAuthorityHosts.AZURE_CHINA,
        AzureAuthorityHosts.AZURE_GOVERNMENT,
    }
)
_RETRY_DELAY = 30.0


class AcrLogin:
    """``login(registry)`` → an ACR refresh token (as an identity token) and its expiry."""

    def login(self, registry: str, *, site: HostSettings) -> CloudLogin:
        entra, source = _entra_token(registry)
        refresh = _exchange(registry, entra, site=site)
        expiry = jwt_claims(refresh).get("exp")
        expires_at = (
            datetime.fromtimestamp(expiry, UTC)
            if isinstance(expiry, int | float)
            else datetime.fromtimestamp(entra.expires_on, UTC)
        )
        return CloudLogin(
            Credential(username=ACR_USERNAME, identity_token=refresh),
            expires_at,
            source=f"Entra ID ({source}) and ACR /oauth2/exchange",
        )


def _identities() -> Iterator[TokenCredential]:
    """Client secret/certificate, workload identity, managed identity: the ones whose
    environment is set up, in azure-identity's DefaultAzureCredential order."""
    options: dict[str, Any] = {}
    authority = os.environ.get("AZURE_AUTHORITY_HOST", "")
    if authority and (urlsplit(authority).hostname or authority) not in _KNOWN_AUTHORITIES:
        options["disable_instance_discovery"] = True
    if os.environ.get("AZURE_CLIENT_SECRET") or os.environ.get("AZURE_CLIENT_CERTIFICATE_PATH"):
        yield EnvironmentCredential(**options)
    if os.environ.get("AZURE_FEDERATED_TOKEN_FILE"):
        yield WorkloadIdentityCredential(**options)
    yield ManagedIdentityCredential(client_id=os.environ.get("AZURE_CLIENT_ID") or None)


class _Tried:
    """One identity in the chain, remembering how it failed (the chain only says "all did")."""

    def __init__(self, inner: TokenCredential) -> None:
        self.inner = inner
        self.error: Exception | None = None

    def get_token(self, *scopes: str, **options: Any) -> AccessToken:
        try:
            return self.inner.get_token(*scopes, **options)
        except Exception as exc:
            self.error = exc
            raise


def _entra_token(registry: str) -> tuple[AccessToken, str]:
    """The first identity's token for ACR. Asked through azure-identity's own chain, so
    managed identity first probes IMDS (1 s, no retries) rather than retrying for half a
    minute on a machine that has none."""
    tried = [_Tried(identity) for identity in _identities()]
    chain = ChainedTokenCredential(*tried)
    try:
        token = chain.get_token(ACR_SCOPE)
    except ClientAuthenticationError as exc:
        raise _chain_error(registry, tried) from exc
    finally:
        for one in tried:
            close = getattr(one.inner, "close", None)
            if close is not None:
                close()
    used = next((t for t in tried if t.error is None), tried[-1])
    return token, type(used.inner).__name__


def _chain_error(registry: str, tried: list[_Tried]) -> RegistryError | RegistryUnavailable:
    for one in tried:
        error = one.error
        if error is None or isinstance(error, CredentialUnavailableError):
            continue  # not set up here
        name = type(one.inner).__name__
        if isinstance(error, ClientAuthenticationError):
            return RegistryError(f"{registry}: Entra ID refused a token to {name}: {error.message}")
        message = error.message if isinstance(error, AzureError) else type(error).__name__
        return RegistryUnavailable(
            f"{registry}: cannot get an Entra ID token now ({name}): {message}",
            delay=_RETRY_DELAY,
        )
    return NoCloudCredentials(
        f"{registry}: no Entra ID identity (no client secret, workload identity token file "
        "or managed identity)"
    )


def _exchange(registry: str, entra: AccessToken, *, site: HostSettings) -> str:
    """``POST https://REGISTRY/oauth2/exchange``: an Entra token for an ACR refresh token."""
    form = {"grant_type": "access_token", "service": registry, "access_token": entra.token}
    tenant = jwt_claims(entra.token).get("tid") or os.environ.get("AZURE_TENANT_ID")
    if isinstance(tenant, str) and tenant:
        form["tenant"] = tenant
    scheme = "http" if site.insecure else "https"
    url = f"{scheme}://{registry}/oauth2/exchange"
    verify = _ssl_context(site)
    with httpx.Client(
        verify=system_ssl_context() if verify is True else verify,
        timeout=site.timeout,
        follow_redirects=False,
        headers={"User-Agent": "image-automation"},
    ) as client:
        try:
            response = client.post(url, data=form)
        except httpx.TransportError as exc:
            raise RegistryUnavailable(
                f"{registry}: ACR token exchange failed ({unreachable_reason(exc)})",
                delay=_RETRY_DELAY,
            ) from exc
    status = response.status_code
    if status == 429 or status >= 500:
        raise RegistryUnavailable(
            f"{registry}: ACR token exchange answered HTTP {status}", delay=_RETRY_DELAY
        )
    if status != 200:
        raise RegistryError(
            f"{registry}: ACR /oauth2/exchange refused the Entra ID token (HTTP {status}); "
            "the identity needs a pull role on the registry (AcrPull)"
        )
    try:
        refresh = response.json().get("refresh_token")
    except (ValueError, AttributeError):
        refresh = None
    if not isinstance(refresh, str) or not refresh:
        raise RegistryError(f"{registry}: ACR /oauth2/exchange sent no refresh token")
    return refresh
