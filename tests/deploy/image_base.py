"""A base image made from this machine's own Debian packages, so deploy/Dockerfile builds offline.

No registry can be reached from the tests, so ``python:3.11-slim-bookworm`` cannot be pulled.
What that image gives the Dockerfile (a Python 3.11 with ``venv``, a shell, ``useradd``) and
what the Dockerfile's apt step adds (git, ssh, gpg) are Debian packages this machine has
installed: their files, with everything they depend on, make a root filesystem that buildah
commits as a base. The Dockerfile then builds on it with ``OS_PACKAGES`` empty.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from pathlib import Path

# What python:3.11-slim-bookworm has (apt brings libstdc++, which google-re2 needs), plus the
# Dockerfile's OS_PACKAGES.
PACKAGES = (
    "base-files", "bash", "coreutils", "dash", "findutils", "grep", "sed", "passwd", "login",
    "apt", "python3", "python3-venv", "ca-certificates", "git", "gnupg", "openssh-client",
)  # fmt: skip
_MERGED = {"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"}
_ETC = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
    "etc/group": "root:x:0:\n",
    "etc/shadow": "root:*:19000:0:99999:7:::\n",
    "etc/gshadow": "root:*::\n",
}


def _installed() -> dict[str, tuple[list[str], list[str]]]:
    """Every installed package: (its dependency groups, what it provides)."""
    fmt = "${Package}\t${db:Status-Abbrev}\t${Depends}, ${Pre-Depends}\t${Provides}\n"
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", fmt], check=True, capture_output=True, text=True
    ).stdout
    table: dict[str, tuple[list[str], list[str]]] = {}
    for line in out.splitlines():
        name, status, depends, provides = line.split("\t")
        if status.startswith("ii"):
            groups = [g.strip() for g in depends.split(",") if g.strip()]
            table[name] = (groups, [_name(p) for p in provides.split(",") if p.strip()])
    return table


def _name(spec: str) -> str:
    return re.split(r"[\s(]", spec.strip())[0].split(":")[0]


def package_closure(roots: Iterable[str]) -> list[str]:
    """``roots`` and everything they depend on, as installed here (first installed alternative)."""
    table = _installed()
    provider = {p: name for name, (_, provides) in table.items() for p in provides}
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        name = name if name in table else provider.get(name, name)
        if name in seen:
            continue
        if name not in table:
            raise RuntimeError(f"package {name!r} is not installed on this machine")
        seen.add(name)
        for group in table[name][0]:
            choices = [_name(c) for c in group.split("|")]
            found = next((c for c in choices if c in table or c in provider), None)
            if found is None:
                raise RuntimeError(f"{name}: no installed package satisfies {group!r}")
            stack.append(found)
    return sorted(seen)


def make_rootfs(dest: Path, packages: Iterable[str] = PACKAGES) -> list[str]:
    """Copy the files of ``packages`` (and their dependencies) into ``dest``; return the list."""
    names = package_closure(packages)
    listed = subprocess.run(
        ["dpkg-query", "-L", *names], check=True, capture_output=True, text=True
    ).stdout
    paths = sorted({p for p in listed.splitlines() if p.startswith("/") and p != "/."})
    dest.mkdir(parents=True)
    for link, target in _MERGED.items():
        (dest / target).mkdir(parents=True, exist_ok=True)
        (dest / link).symlink_to(target)
    for rel, text in _ETC.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text)
    for rel in ("tmp", "root", "var/tmp"):
        (dest / rel).mkdir(parents=True, exist_ok=True)
    (dest / "tmp").chmod(0o1777)
    existing = [p for p in paths if Path(p).exists() or Path(p).is_symlink()]
    _copy(existing, dest)
    return names


def _copy(paths: list[str], dest: Path) -> None:
    """``tar --no-recursion`` through a pipe: keeps modes, owners and symlinks as they are."""
    listing = "\n".join(p.lstrip("/") for p in paths) + "\n"
    pack = subprocess.Popen(
        ["tar", "-C", "/", "--no-recursion", "-cf", "-", "-T", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    unpack = subprocess.Popen(
        ["tar", "-C", str(dest), "--keep-directory-symlink", "-xf", "-"], stdin=pack.stdout
    )
    assert pack.stdin is not None and pack.stdout is not None
    pack.stdout.close()
    pack.stdin.write(listing.encode())
    pack.stdin.close()
    if unpack.wait() != 0 or pack.wait() != 0:
        raise RuntimeError(f"copying package files into {dest} failed")
