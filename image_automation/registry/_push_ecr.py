"""Push times from ECR: ``DescribeImages`` through boto3, the AWS SDK (extra ``aws``).

ECR's API is signed with the AWS credential chain (SigV4), not with the registry's token, so
it goes through boto3 rather than :class:`Http`: ``describe_images(registryId, repositoryName,
filter={"tagStatus": "TAGGED"}, maxResults=1000)``, following ``nextToken``, each image's
``imagePushedAt`` for each of its ``imageTags``. One call per page of up to 1000 images, counted
with the scan's requests. boto3 is imported only when an ECR repository is scanned with
metadata; without it the push times are skipped with a message naming the extra.

Credentials: boto3's default chain (environment, shared config and profile, web identity /
IRSA, EKS Pod Identity, container and instance metadata). :func:`ecr_client` is the one place a
client is made: the seam where a shared AWS session (the ``provider: aws`` credentials) plugs
in. Retries and timeouts are botocore's, set from the registry settings (``retry.attempts``,
``timeout``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from image_automation.domain import ImageRef
from image_automation.errors import RegistryError, RegistryUnavailable
from image_automation.registry._http import Http
from image_automation.registry._push_common import PushTimes
from image_automation.registry.limits import count_request
from image_automation.registry.settings import ECR_HOST, HostSettings

ECR_PAGE_SIZE = 1000
"""Images per DescribeImages call: its maximum."""
EXTRA_HINT = "install image-automation[aws] (boto3)"
_TEMPORARY_CODES = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "ServerException", "RequestTimeout"}
)


def ecr_client(*, region: str, endpoint_url: str | None, settings: HostSettings,
               attempts: int) -> Any:  # fmt: skip
    """A boto3 ECR client for ``region`` (``endpoint_url`` overrides AWS's endpoint)."""
    try:
        import boto3  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]
    except ImportError:
        raise RegistryError(f"ecr push times need boto3: {EXTRA_HINT}") from None
    config = Config(
        connect_timeout=settings.timeout,
        read_timeout=settings.timeout,
        retries={"max_attempts": attempts, "mode": "standard"},
    )
    session = boto3.session.Session()
    return session.client("ecr", region_name=region, endpoint_url=endpoint_url, config=config)


async def ecr_push_times(http: Http, ref: ImageRef, *, url: str | None) -> PushTimes:
    """``{tag: imagePushedAt}`` of ``ref``'s ECR repository, every page."""
    match = ECR_HOST.fullmatch(ref.registry.lower())
    if match is None:
        raise RegistryError(
            f"{ref.name}: ecr needs an ECR registry host (ACCOUNT.dkr.ecr.REGION.amazonaws.com)"
        )
    settings = http.settings.for_host(ref.registry)
    client = ecr_client(
        region=match["region"],
        endpoint_url=url,
        settings=settings,
        attempts=http.settings.retry.attempts,
    )
    times: PushTimes = {}
    token: str | None = None
    for page in range(1, settings.max_pages + 2):
        if page > settings.max_pages:
            raise RegistryError(
                f"{ref.name}: more than {settings.max_pages} pages of push times from ECR "
                "(maxPages)"
            )
        count_request(http.counter)
        answer = await _describe(client, ref, account=match["account"], token=token)
        _collect(times, answer.get("imageDetails"), ref)
        token = answer.get("nextToken")
        if not isinstance(token, str) or not token:
            break
    return times


async def _describe(client: Any, ref: ImageRef, *, account: str, token: str | None) -> Any:
    kwargs: dict[str, Any] = {
        "registryId": account,
        "repositoryName": ref.repository,
        "filter": {"tagStatus": "TAGGED"},
        "maxResults": ECR_PAGE_SIZE,
    }
    if token:
        kwargs["nextToken"] = token
    try:
        from botocore.exceptions import (  # type: ignore[import-untyped]
            BotoCoreError,
            ClientError,
        )
    except ImportError:  # pragma: no cover - ecr_client imported it already
        raise RegistryError(f"ecr push times need boto3: {EXTRA_HINT}") from None
    try:
        return await asyncio.to_thread(client.describe_images, **kwargs)
    except ClientError as exc:
        raise _client_error(ref, exc) from exc
    except BotoCoreError as exc:
        raise _botocore_error(ref, exc) from exc


def _client_error(ref: ImageRef, exc: Any) -> RegistryError | RegistryUnavailable:
    error = exc.response.get("Error", {}) if isinstance(exc.response, dict) else {}
    code = str(error.get("Code") or "error")
    message = str(error.get("Message") or "")[:300]
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    text = f"{ref.name}: ecr push times: DescribeImages failed: {code}" + (
        f" ({message})" if message else ""
    )
    if code in _TEMPORARY_CODES or (isinstance(status, int) and status >= 500):
        return RegistryUnavailable(text)
    return RegistryError(text)


def _botocore_error(ref: ImageRef, exc: Exception) -> RegistryError | RegistryUnavailable:
    from botocore import exceptions as boto  # type: ignore[import-untyped]

    name = type(exc).__name__
    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        return RegistryError(
            f"{ref.name}: ecr push times: no AWS credentials (environment, shared config, web "
            "identity, container or instance metadata)"
        )
    if isinstance(exc, boto.ConnectionError | boto.HTTPClientError):
        return RegistryUnavailable(f"{ref.name}: ecr push times: ECR unreachable ({name})")
    return RegistryError(f"{ref.name}: ecr push times: {name}")


def _collect(times: PushTimes, details: Any, ref: ImageRef) -> None:
    if not isinstance(details, list):
        raise RegistryError(f"{ref.name}: ecr push times: DescribeImages has an unknown shape")
    for image in details:
        if not isinstance(image, dict):
            continue
        pushed = image.get("imagePushedAt")
        if not isinstance(pushed, datetime):
            continue
        when = pushed.astimezone(UTC) if pushed.tzinfo else pushed.replace(tzinfo=UTC)
        for tag in image.get("imageTags") or []:
            if isinstance(tag, str):
                times[tag] = when


__all__ = ["ECR_PAGE_SIZE", "ecr_client", "ecr_push_times"]
