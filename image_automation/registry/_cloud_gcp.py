"""Artifact Registry / GCR credentials from Application Default Credentials (the ``gcp``
extra: google-auth).

google-auth's ADC finds the identity: ``GOOGLE_APPLICATION_CREDENTIALS`` (a service-account
key file, or a workload identity federation config), gcloud's own ADC file, or the metadata
server (GCE, GKE workload identity, Cloud Run). Its OAuth2 access token, about an hour long,
is the password of user ``oauth2accesstoken``, which both registries take at their token
service like any Basic credential.
"""

from __future__ import annotations

from datetime import UTC, datetime

import google.auth
from google.auth import exceptions
from google.auth.transport.requests import Request

from image_automation.errors import NoCloudCredentials, RegistryError, RegistryUnavailable
from image_automation.registry.cloud import CloudLogin
from image_automation.registry.credentials import Credential
from image_automation.registry.settings import HostSettings

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
USERNAME = "oauth2accesstoken"
_RETRY_DELAY = 30.0


class GoogleLogin:
    """``login(registry)`` → ``oauth2accesstoken`` and a fresh ADC access token."""

    def login(self, registry: str, *, site: HostSettings) -> CloudLogin:
        try:
            credentials, _project = google.auth.default(scopes=list(SCOPES))
            credentials.refresh(Request())  # type: ignore[no-untyped-call]
        except exceptions.DefaultCredentialsError as exc:
            raise NoCloudCredentials(
                f"{registry}: no Google Application Default Credentials (no "
                "GOOGLE_APPLICATION_CREDENTIALS, gcloud ADC file or metadata server)"
            ) from exc
        except exceptions.GoogleAuthError as exc:
            if isinstance(exc, exceptions.TransportError) or exc.retryable:
                raise RegistryUnavailable(
                    f"{registry}: cannot get a Google access token now: {exc}",
                    delay=_RETRY_DELAY,
                ) from exc
            raise RegistryError(f"{registry}: Google refused an access token: {exc}") from exc
        token = getattr(credentials, "token", None)
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{registry}: Google ADC gave no access token")
        expiry = getattr(credentials, "expiry", None)
        expires_at = None
        if isinstance(expiry, datetime):  # google-auth keeps naive UTC
            expires_at = expiry if expiry.tzinfo else expiry.replace(tzinfo=UTC)
        kind = type(credentials)
        return CloudLogin(
            Credential(username=USERNAME, password=token),
            expires_at,
            source=f"Google ADC ({kind.__module__}.{kind.__name__})",
        )
