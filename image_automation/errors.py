"""One exception tree for the whole package.

Callers catch at the level they can act on; adapters translate library errors into these,
chaining the cause (``raise RegistryError(...) from exc``)::

    ImageAutomationError
    ├── TemporaryError(delay)       retrying later can help (5xx, 429, timeouts, push race)
    │   ├── RegistryUnavailable
    │   ├── GitConflict
    │   ├── ForgeRateLimited        a forge said "slow down" (429, 403 secondary limit)
    │   ├── ForgeUnavailable        a forge is down or unreachable (5xx, timeout)
    │   └── LeaseLost               this replica no longer holds the git repository's lease
    └── PermanentError              retrying the same input cannot help
        ├── ConfigError             a policy/automation file is wrong (file:line: field: msg)
        ├── PolicyError             a policy cannot select (bad range at run time, nothing fits)
        ├── RegistryError           auth refused, unknown repository, oversized body, ...
        │   ├── RegistryAuthError   a token service refused the credential (401): renew it
        │   └── NoCloudCredentials  a cloud's identity chain found nothing to log in with
        ├── ManifestError           a manifest could not be read or edited
        ├── GitError                clone/commit/push failed for a reason retry cannot fix
        ├── ForgeError(status)      a forge API refused a request
        │   ├── ForgeAuthError      401/403: the token is wrong or lacks a permission
        │   ├── ForgeNotFound       404: no such repository, pull request, user, label
        │   ├── ForgeConflict       409/422: it already exists, or the state forbids it
        │   └── ForgeUnsupported    the forge's API cannot do this (Bitbucket labels, ...)
        ├── NotifyError             a notification provider's settings or secret are unusable
        └── StateError              the state store is unusable

No message may contain a secret: adapters redact credentials before building one, and the
root masks the password of any URL in a message itself (``http://alice:***@host/...``), so a
caller that puts a user's URL into a message cannot forget to. The URL rule lives here, at the
bottom of the layers, and :func:`image_automation.domain.redact` applies it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_MASK = "***"
# scheme://USERINFO@ up to the last "@" of the authority (an unencoded "@" in a password must
# not leave its tail visible); the authority ends at "/", "?", "#" or whitespace.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/?#\s]*)@")
_SSH_SCHEMES = ("ssh://", "git+ssh://", "ssh+git://")
# A "user name" that is really a token (GitHub, GitLab prefixes; long random strings).
_TOKEN_USER = re.compile(r"(?i)^(gh[pousr]_|github_pat_|glpat-|glcbt-|eyJ)|^.{32,}$")


def _mask_userinfo(match: re.Match[str]) -> str:
    scheme, userinfo = match.group(1), match.group(2)
    user, has_password, _ = userinfo.partition(":")
    if _TOKEN_USER.search(user):
        return f"{scheme}{_MASK}@"
    if has_password:
        return f"{scheme}{user}:{_MASK}@"
    # Without a password the user part is the secret (https://TOKEN@host), except over ssh.
    return match.group(0) if scheme.lower() in _SSH_SCHEMES else f"{scheme}{_MASK}@"


def mask_url_credentials(text: str) -> str:
    """``text`` with the credentials of every URL masked: ``https://alice:***@host/``.

    The user name stays when a password follows it (it says which account was refused),
    unless it looks like a token; a lone user part is masked (``https://***@host``: it is
    usually a token), except in ``ssh://`` URLs where it never is.
    """
    return _URL_USERINFO.sub(_mask_userinfo, text) if "@" in text else text


class ImageAutomationError(Exception):
    """Root of every error this package raises on purpose. URL passwords are masked."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(mask_url_credentials(a) if isinstance(a, str) else a for a in args))


class TemporaryError(ImageAutomationError):
    """The operation may succeed later; ``delay`` is the suggested wait in seconds."""

    def __init__(self, message: str, *, delay: float = 0.0) -> None:
        super().__init__(message)
        self.delay = delay


class PermanentError(ImageAutomationError):
    """Retrying with the same input cannot help; a human must change something."""


@dataclass(frozen=True, slots=True)
class Location:
    """Where in which file a problem is; ``line`` is 1-based, 0 when unknown."""

    file: str
    line: int = 0
    field: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}" if self.field else where


class ConfigError(PermanentError):
    """A configuration or policy document is invalid. ``str()`` is ``file:line: field: msg``."""

    def __init__(self, message: str, *, location: Location | None = None) -> None:
        self.location = location
        self.message = mask_url_credentials(message)
        super().__init__(f"{location}: {message}" if location else message)


class PolicyError(PermanentError):
    """A policy cannot be evaluated."""


class RegistryError(PermanentError):
    """A registry refused or answered something we cannot use."""


class RegistryAuthError(RegistryError):
    """A registry's token service answered 401 to our credential: it may have expired or
    been revoked, so a credential source that can renew it gets asked once more."""


class NoCloudCredentials(RegistryError):
    """A cloud's identity chain (AWS, Google ADC, Entra ID) found no identity here: not on
    that cloud and nothing configured. Fatal for ``provider: aws|gcp|azure``; a host merely
    detected as a cloud registry is then read anonymously."""


class RegistryUnavailable(TemporaryError):
    """A registry is down, slow or rate-limiting; try again after ``delay``."""


class ManifestError(PermanentError):
    """A manifest file could not be read, parsed or edited."""


class GitError(PermanentError):
    """A git operation failed in a way a retry cannot fix."""


class GitConflict(TemporaryError):
    """The remote moved while we worked; fetch, re-apply and push again."""


class ForgeError(PermanentError):
    """A forge (GitHub, GitLab, ...) API refused a request; ``status`` is its HTTP status
    (0 when the refusal is ours, e.g. a malformed repository URL)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class ForgeAuthError(ForgeError):
    """The forge refused our credentials or their permissions (401, 403 not rate-limit)."""


class ForgeNotFound(ForgeError):
    """The repository, pull request, user or label does not exist (or is hidden from us)."""


class ForgeConflict(ForgeError):
    """The request collides with the forge's state: the pull request already exists, the
    branch moved, the pull request is already mergeable, ..."""


class ForgeUnsupported(ForgeError):
    """The forge's API has no way to do this (labels on Bitbucket, assignees on Azure)."""


class ForgeRateLimited(TemporaryError):
    """The forge asked us to slow down; ``delay`` comes from ``Retry-After``,
    ``x-ratelimit-reset`` or GitHub's secondary limit (a minute when it names no time)."""


class ForgeUnavailable(TemporaryError):
    """The forge answered 5xx, timed out or could not be reached. A write may or may not
    have happened: find the pull request by its head branch before creating it again."""


class StateError(PermanentError):
    """The state store cannot be read or written."""


class NotifyError(PermanentError):
    """A notification provider cannot be used: its secret is missing, its address bad."""


class LeaseLost(TemporaryError):
    """This replica no longer holds (or cannot confirm) the lease on a git repository, so it
    must not push there: the lease's new holder redoes the work from the remote's state."""


__all__ = [
    "ConfigError",
    "ForgeAuthError",
    "ForgeConflict",
    "ForgeError",
    "ForgeNotFound",
    "ForgeRateLimited",
    "ForgeUnavailable",
    "ForgeUnsupported",
    "GitConflict",
    "GitError",
    "ImageAutomationError",
    "LeaseLost",
    "Location",
    "ManifestError",
    "NoCloudCredentials",
    "NotifyError",
    "PermanentError",
    "PolicyError",
    "RegistryAuthError",
    "RegistryError",
    "RegistryUnavailable",
    "StateError",
    "TemporaryError",
    "mask_url_credentials",
]
