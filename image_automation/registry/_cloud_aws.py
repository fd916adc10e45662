"""ECR credentials from the AWS credential chain (the ``aws`` extra: boto3).

boto3's own chain finds the identity: environment keys, the shared config and credentials
files (``AWS_PROFILE``), web identity (IRSA: ``AWS_ROLE_ARN`` + ``AWS_WEB_IDENTITY_TOKEN_FILE``),
EKS Pod Identity and ECS task roles (``AWS_CONTAINER_CREDENTIALS_FULL_URI``), and instance
metadata. ``GetAuthorizationToken`` then gives base64 ``AWS:<password>``, valid 12 hours,
which the registry takes as Basic credentials. The account and region come from the host
(``123456789012.dkr.ecr.eu-west-1.amazonaws.com``); any other host (a proxy, a test registry)
uses the chain's region and default account. ``AWS_ENDPOINT_URL_ECR`` points boto3 elsewhere.

``public.ecr.aws`` needs no login: it hands anonymous pull tokens to anyone through its
Bearer challenge, which the registry client already answers.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError

from image_automation.errors import NoCloudCredentials, RegistryError, RegistryUnavailable
from image_automation.registry.cloud import ECR_PUBLIC, CloudLogin, parse_ecr_host
from image_automation.registry.credentials import Credential
from image_automation.registry.settings import HostSettings

# botocore's DEBUG records dump request and response bodies: the ECR token, STS keys, the
# web identity token. Hold its loggers at INFO whatever the root level becomes, unless
# someone set botocore's level on purpose.
if logging.getLogger("botocore").level == logging.NOTSET:
    logging.getLogger("botocore").setLevel(logging.INFO)

_CONFIG = Config(
    connect_timeout=10,
    read_timeout=30,
    retries={"max_attempts": 3, "mode": "standard"},
    user_agent_extra="image-automation",
)
_TEMPORARY_CODES = frozenset({"ThrottlingException", "ServiceUnavailableException"})
_RETRY_DELAY = 30.0


class EcrLogin:
    """``login(registry)`` → the ECR Basic credential for ``registry`` and its expiry."""

    def login(self, registry: str, *, site: HostSettings) -> CloudLogin:
        if registry == ECR_PUBLIC:
            return CloudLogin(None, None, source="ECR Public (anonymous pull tokens)")
        host = parse_ecr_host(registry)
        with _translated(registry):
            session = boto3.session.Session(region_name=host.region if host else None)
            region = session.region_name or os.environ.get("AWS_REGION")
            if not region:
                raise RegistryError(
                    f"{registry}: provider aws needs a region for a host that names none: "
                    "set AWS_REGION (or AWS_DEFAULT_REGION, or region in the AWS profile)"
                )
            client = session.client("ecr", region_name=region, config=_CONFIG)
            arguments: dict[str, Any] = {"registryIds": [host.account]} if host else {}
            answer = client.get_authorization_token(**arguments)
        return _login(registry, answer, region=region)


def _login(registry: str, answer: dict[str, Any], *, region: str) -> CloudLogin:
    try:
        data = answer["authorizationData"][0]
        decoded = base64.b64decode(data["authorizationToken"], validate=True).decode()
    except (KeyError, IndexError, TypeError, binascii.Error, UnicodeDecodeError):
        raise RegistryError(f"{registry}: ECR sent no usable authorization token") from None
    username, sep, password = decoded.partition(":")
    if not sep or not password:
        raise RegistryError(f"{registry}: ECR sent no usable authorization token")
    expires = data.get("expiresAt")
    expires_at = expires.astimezone(UTC) if isinstance(expires, datetime) else None
    return CloudLogin(
        Credential(username=username, password=password),
        expires_at,
        source=f"ECR GetAuthorizationToken ({region})",
    )


@contextmanager
def _translated(registry: str) -> Iterator[None]:
    """boto3's errors as ours; their texts name codes and ARNs, never a key or token."""
    try:
        yield
    except NoCredentialsError as exc:
        raise NoCloudCredentials(
            f"{registry}: no AWS credentials found (environment, profile, web identity, "
            "pod identity, container or instance metadata)"
        ) from exc
    except (BotoConnectionError, HTTPClientError) as exc:  # after botocore's own retries
        raise RegistryUnavailable(
            f"{registry}: cannot reach AWS for an ECR token: {exc}", delay=_RETRY_DELAY
        ) from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "?")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _TEMPORARY_CODES or status >= 500:
            raise RegistryUnavailable(
                f"{registry}: ECR GetAuthorizationToken failed ({code}), try again later",
                delay=_RETRY_DELAY,
            ) from exc
        raise RegistryError(
            f"{registry}: ECR GetAuthorizationToken refused ({code}: {error.get('Message', '')}"
            "); the identity needs ecr:GetAuthorizationToken"
        ) from exc
    except BotoCoreError as exc:  # a broken profile, an unreadable token file, ...
        raise RegistryError(f"{registry}: AWS credentials: {exc}") from exc
