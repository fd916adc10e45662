"""Which forge serves a repository, from its git URL: host → provider, API root, path.

The git URL is user input (a Flux ``GitRepository`` URL, a flag): it may be https, ssh or
scp-like (``git@host:org/repo.git``), carry a user and even a password, or be hostile
(megabytes long, control characters, ``..`` segments). Nothing of it reaches a message but
its masked, shortened form. Hosts we cannot recognise (self-hosted GitLab, Gitea, GitHub
Enterprise) need an explicit ``provider`` (and ``api_url`` when the API is not at the
usual place).
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import urlsplit

from image_automation.domain import redact
from image_automation.errors import ForgeError

MAX_URL_LENGTH = 2048
PROVIDERS = ("github", "gitlab", "gitea", "forgejo", "bitbucket", "azuredevops")
_HOSTS = {
    "github.com": "github",
    "www.github.com": "github",
    "ssh.github.com": "github",
    "gitlab.com": "gitlab",
    "altssh.gitlab.com": "gitlab",
    "bitbucket.org": "bitbucket",
    "altssh.bitbucket.org": "bitbucket",
    "dev.azure.com": "azuredevops",
    "ssh.dev.azure.com": "azuredevops",
    "vs-ssh.visualstudio.com": "azuredevops",
    "codeberg.org": "forgejo",
    "gitea.com": "gitea",
}
_FIXED_API = {
    "github.com": "https://api.github.com",
    "gitlab.com": "https://gitlab.com/api/v4",
    "bitbucket.org": "https://api.bitbucket.org/2.0",
    "codeberg.org": "https://codeberg.org/api/v1",
    "gitea.com": "https://gitea.com/api/v1",
}
_HOST_RE = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?|\[[0-9a-f:.]+\]")
_SCP_RE = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^@/:\[\]]+|\[[^\]]+\]):(?P<path>.*)$")
_SEGMENT_RE = re.compile(r"[^\x00-\x20\x7f?#%\\]{1,255}")


class ForgeLocation(NamedTuple):
    provider: str
    api_url: str
    repository: str


class _Parsed(NamedTuple):
    scheme: str  # https, http, ssh
    host: str
    port: int | None
    path: str


def shown(url: str) -> str:
    """``url`` as a message may show it: userinfo masked, at most 100 characters."""
    text = url if len(url) <= 100 else url[:97] + "..."
    text = re.sub(r"^((?:[a-z][a-z0-9+.-]*://)?)[^/@]*@", r"\1***@", text, flags=re.I)
    return redact(text)


def _bad(url: str, why: str) -> ForgeError:
    return ForgeError(f"repository URL {shown(url)!r}: {why}")


def parse_git_url(url: str) -> _Parsed | None:
    """Scheme, host, port and path of a remote git URL; None for a local path or file://."""
    if len(url) > MAX_URL_LENGTH:
        raise ForgeError(f"repository URL is {len(url)} characters, over {MAX_URL_LENGTH}")
    if not url or any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise _bad(url, "empty, or holds spaces or control characters")
    if "://" not in url:
        match = _SCP_RE.match(url)
        if match is None or "/" in match.group("host") or url.startswith(("/", ".")):
            return None  # a local path
        return _Parsed("ssh", _host(url, match.group("host")), None, match.group("path"))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _bad(url, f"malformed ({exc})") from None
    scheme = parts.scheme.lower().removeprefix("git+")
    if scheme == "file":
        return None
    if scheme not in ("https", "http", "ssh"):
        raise _bad(url, f"scheme {scheme[:20]!r} is not https, http or ssh")
    if parts.query or parts.fragment:
        raise _bad(url, "a repository URL has no query or fragment")
    return _Parsed(scheme, _host(url, parts.hostname or ""), port, parts.path)


def _host(url: str, host: str) -> str:
    host = host.lower().rstrip(".")
    if not _HOST_RE.fullmatch(host):
        raise _bad(url, "the host name is not valid")
    return host


def _segments(url: str, path: str) -> list[str]:
    path = path.strip("/")
    path = path.removesuffix(".git")
    parts = path.split("/")
    for part in parts:
        if part in ("", ".", "..") or not _SEGMENT_RE.fullmatch(part):
            raise _bad(url, "the repository path has an empty, '.', '..' or invalid segment")
    return parts


def detect_forge(
    repo_url: str, *, provider: str | None = None, api_url: str | None = None
) -> ForgeLocation | None:
    """The forge of ``repo_url``: from its host, or as ``provider``/``api_url`` say (they
    win, for self-hosted instances). None when the host is unknown and no provider is given,
    or for a local repository."""
    if provider is not None and provider not in PROVIDERS:
        raise ForgeError(f"unknown forge provider {provider[:40]!r}; known: {', '.join(PROVIDERS)}")
    parsed = parse_git_url(repo_url)
    if parsed is None:
        return None
    known = _HOSTS.get(parsed.host)
    if known is None and parsed.host.endswith(".visualstudio.com"):
        known = "azuredevops"
    chosen = provider or known
    if chosen is None:
        return None
    segments = _segments(repo_url, parsed.path)
    if chosen == "azuredevops":
        return _azure(repo_url, parsed, segments, api_url)
    repository = "/".join(segments)
    if chosen != "gitlab" and len(segments) != 2:
        raise _bad(repo_url, f"a {chosen} repository path is 'owner/name'")
    if chosen == "gitlab" and len(segments) < 2:
        raise _bad(repo_url, "a gitlab repository path is 'group/project' (or deeper)")
    return ForgeLocation(chosen, api_url or _api_root(repo_url, parsed, chosen), repository)


def _origin(parsed: _Parsed) -> str:
    """The web origin of the host; ssh's port is not the web server's."""
    if parsed.scheme == "ssh" or parsed.port is None:
        return f"{'http' if parsed.scheme == 'http' else 'https'}://{parsed.host}"
    return f"{parsed.scheme}://{parsed.host}:{parsed.port}"


def _api_root(url: str, parsed: _Parsed, provider: str) -> str:
    host = "github.com" if _HOSTS.get(parsed.host) == "github" else parsed.host
    host = {"altssh.gitlab.com": "gitlab.com", "altssh.bitbucket.org": "bitbucket.org"}.get(
        host, host
    )
    fixed = _FIXED_API.get(host)
    if fixed is not None and _HOSTS.get(host) == provider:
        return fixed
    if provider == "bitbucket":
        raise _bad(url, "only Bitbucket Cloud (bitbucket.org) is supported; set api_url")
    suffix = {"github": "/api/v3", "gitlab": "/api/v4", "gitea": "/api/v1", "forgejo": "/api/v1"}
    return _origin(parsed) + suffix[provider]


def _azure(url: str, parsed: _Parsed, segments: list[str], api_url: str | None) -> ForgeLocation:
    """``org/project/_git/repo`` from dev.azure.com, ``org.visualstudio.com``, their ssh
    forms (``v3/org/project/repo``) and Azure DevOps Server (``collection/project/_git/repo``
    below any path)."""
    host = parsed.host
    if host in ("ssh.dev.azure.com", "vs-ssh.visualstudio.com"):
        if len(segments) != 4 or segments[0] != "v3":
            raise _bad(url, "an Azure DevOps ssh path is 'v3/org/project/repo'")
        org, project, repo = segments[1:]
        return ForgeLocation(
            "azuredevops", api_url or f"https://dev.azure.com/{org}", f"{org}/{project}/_git/{repo}"
        )
    if host == "dev.azure.com":
        if len(segments) != 4 or segments[2] != "_git":
            raise _bad(url, "an Azure DevOps path is 'org/project/_git/repo'")
        org = segments[0]
        return ForgeLocation(
            "azuredevops", api_url or f"https://dev.azure.com/{org}", "/".join(segments)
        )
    if host.endswith(".visualstudio.com"):
        org = host.split(".", 1)[0]
        tail = segments[1:] if segments[0].lower() == "defaultcollection" else segments
        if len(tail) != 3 or tail[1] != "_git":
            raise _bad(url, "an Azure DevOps path is 'project/_git/repo'")
        return ForgeLocation("azuredevops", api_url or f"https://{host}", f"{org}/{'/'.join(tail)}")
    if len(segments) < 4 or segments[-2] != "_git":
        raise _bad(url, "an Azure DevOps Server path ends in 'collection/project/_git/repo'")
    base = "/".join(segments[:-3])
    repository = "/".join(segments[-4:])
    return ForgeLocation("azuredevops", api_url or f"{_origin(parsed)}/{base}", repository)


__all__ = ["MAX_URL_LENGTH", "PROVIDERS", "ForgeLocation", "detect_forge", "parse_git_url", "shown"]
