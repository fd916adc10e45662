"""Build deploy/Dockerfile with buildah, offline, on a base made from this machine's packages.

buildah's ``--isolation chroot`` is the one way RUN steps execute here (the OCI runtime
cannot start containers on this host); every step is bounded by a timeout and fails loudly.
The wheels come from ``make wheelhouse`` (pip's own PIP_NO_INDEX/PIP_FIND_LINKS, passed as the
Dockerfile's build args), the OS packages from the base (``OS_PACKAGES`` empty).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.deploy.dockerfile import DOCKERFILE
from tests.deploy.image_base import make_rootfs
from tests.deploy.renders import REPO_ROOT

WHEELHOUSE = REPO_ROOT / ".venv" / "wheelhouse"
STEP_TIMEOUT = 600  # seconds; the build takes well under a minute here


def buildah(*args: str, timeout: float = STEP_TIMEOUT) -> str:
    exe = shutil.which("buildah")
    if exe is None:
        raise RuntimeError("buildah is missing: run .ci/system-deps")
    proc = subprocess.run(
        [exe, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(f"buildah {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


@contextmanager
def built_image(work: Path) -> Iterator[str]:
    """The image built from deploy/Dockerfile; both images are removed afterwards."""
    if not (WHEELHOUSE / ".stamp").exists():
        raise RuntimeError(f"{WHEELHOUSE} is missing: run make wheelhouse (make pytest does)")
    tag = os.urandom(4).hex()
    base, image = f"localhost/ia-test-base:{tag}", f"localhost/ia-test-image:{tag}"
    make_rootfs(work / "rootfs")
    container = buildah("from", "--quiet", "scratch").strip()
    try:
        buildah("copy", "--quiet", container, str(work / "rootfs"), "/")
        buildah("commit", "--quiet", container, base)
    finally:
        buildah("rm", container)
    shutil.rmtree(work / "rootfs")
    try:
        buildah(
            "bud", "--isolation", "chroot", "--layers=false", "--quiet",
            "-f", str(DOCKERFILE), "-t", image,
            "--build-arg", f"PYTHON_IMAGE={base}", "--build-arg", "OS_PACKAGES=",
            "--build-arg", "PIP_NO_INDEX=1", "--build-arg", "PIP_FIND_LINKS=/wheels",
            "--volume", f"{WHEELHOUSE}:/wheels:ro", str(REPO_ROOT),
        )  # fmt: skip
        yield image
    finally:
        subprocess.run(["buildah", "rmi", "--force", image, base], capture_output=True,
                       timeout=STEP_TIMEOUT, check=False)  # fmt: skip


def image_config(image: str) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(buildah("inspect", "--type", "image", image))
    return dict(config["OCIv1"]["config"])


@contextmanager
def mounted(image: str) -> Iterator[tuple[str, Path]]:
    """A working container of ``image`` and its root filesystem on the host."""
    container = buildah("from", "--quiet", "--pull-never", image).strip()
    try:
        yield container, Path(buildah("mount", container).strip())
    finally:
        buildah("umount", container)
        buildah("rm", container)


def run_in(container: str, *command: str) -> subprocess.CompletedProcess[str]:
    """``command`` inside the container's filesystem as the image's USER (chroot isolation)."""
    return subprocess.run(
        ["buildah", "run", "--isolation", "chroot", container, "--", *command],
        capture_output=True, text=True, timeout=STEP_TIMEOUT, check=False,
    )  # fmt: skip
