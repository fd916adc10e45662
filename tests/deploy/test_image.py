"""The image deploy/Dockerfile builds: its user, its files, and the CLI running from it."""

from __future__ import annotations

import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.image_build import built_image, image_config, mounted, run_in
from tests.deploy.renders import REPO_ROOT

pytestmark = pytest.mark.integration
UID = 65532


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with built_image(tmp_path_factory.mktemp("image")) as name:
        yield name


@pytest.fixture(scope="module")
def container(image: str) -> Iterator[tuple[str, Path]]:
    with mounted(image) as found:
        yield found


def _version() -> str:
    with open(REPO_ROOT / "pyproject.toml", "rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def test_the_image_runs_the_daemon_as_a_fixed_non_root_user(image: str) -> None:
    config: dict[str, Any] = image_config(image)
    assert config["User"] == f"{UID}:{UID}"
    assert config["Entrypoint"] == ["image-automation"]
    assert config["Cmd"] == ["run"]
    assert config["WorkingDir"] == "/var/lib/image-automation"
    assert "8080/tcp" in config["ExposedPorts"]
    assert "Healthcheck" not in config
    env = dict(e.split("=", 1) for e in config["Env"])
    assert env["PATH"].startswith("/opt/image-automation/bin:")
    assert env["HOME"] == env["IMAGE_AUTOMATION_DATA_DIR"] == "/var/lib/image-automation"


def test_the_cli_runs_from_the_image_filesystem(container: tuple[str, Path]) -> None:
    name, _ = container
    done = run_in(name, "image-automation", "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"image-automation, version {_version()}"
    whoami = run_in(name, "id", "-u")
    assert whoami.stdout.strip() == str(UID)
    checked = run_in(name, "image-automation", "validate", "/usr/share/image-automation/policies")
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("tool", [("git", "--version"), ("ssh", "-V"), ("gpg", "--version")])
def test_git_ssh_and_gpg_are_inside(container: tuple[str, Path], tool: tuple[str, str]) -> None:
    done = run_in(container[0], *tool)
    assert done.returncode == 0, done.stderr


def test_only_the_data_dir_belongs_to_the_user(container: tuple[str, Path]) -> None:
    _, root = container
    data = (root / "var/lib/image-automation").stat()
    assert (data.st_uid, data.st_gid, stat.S_IMODE(data.st_mode)) == (UID, UID, 0o700)
    owned = []
    for path in (root / "opt/image-automation").rglob("*"):
        info = path.lstat()
        if info.st_uid == UID or (not path.is_symlink() and info.st_mode & 0o022):
            owned.append(str(path.relative_to(root)))
    assert owned == [], "the installed code must not be writable by the daemon"


def test_the_image_carries_the_example_policies_and_the_ci_script(
    container: tuple[str, Path],
) -> None:
    _, root = container
    for source in (REPO_ROOT / "policies").rglob("*.yaml"):
        shipped = (
            root
            / "usr/share/image-automation/policies"
            / source.relative_to(REPO_ROOT / "policies")
        )
        assert shipped.read_bytes() == source.read_bytes()
    script = root / "opt/image-automation/bin/reconcile-once"
    assert script.read_bytes() == (REPO_ROOT / "deploy/ci/reconcile-once.sh").read_bytes()
    assert script.stat().st_mode & 0o111
    assert not (root / "src").exists(), "the build stage's sources stay in the build stage"
    assert not (root / "opt/image-automation/bin/pip").exists()
