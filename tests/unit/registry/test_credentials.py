"""Credentials from docker config.json, credential helpers and mounted Kubernetes secrets."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from image_automation.errors import RegistryError
from image_automation.registry import Credential, DockerConfig, SecretsDir


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("key", "asked"),
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("docker.io", "registry-1.docker.io"),
        ("ghcr.io", "ghcr.io"),
        ("https://registry.example:5000/v2/", "registry.example:5000"),
    ],
)
async def test_auths_entries_match_normalised_servers(key: str, asked: str) -> None:
    config = DockerConfig.from_dict({"auths": {key: {"auth": _auth("me", "pw1")}}})
    assert await config.credential_for(asked) == Credential("me", "pw1")
    assert await config.credential_for("other.example") is None


async def test_identity_token_entries_are_kept() -> None:
    config = DockerConfig.from_dict({"auths": {"r.example": {"identitytoken": "idt-1"}}})
    cred = await config.credential_for("r.example")
    assert cred is not None and cred.identity_token == "idt-1"


def test_bad_auth_field_is_an_error_without_the_content(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {"r": {"auth": "bm9jb2xvbg=="}}}))  # "nocolon"
    with pytest.raises(RegistryError, match="not base64 of user:password") as info:
        DockerConfig.load(path)
    assert "bm9jb2xvbg" not in str(info.value)


def test_unreadable_and_invalid_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="cannot read docker config"):
        DockerConfig.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(RegistryError, match=r"bad\.json is not valid JSON"):
        DockerConfig.load(tmp_path / "bad.json")


@pytest.fixture
def helper_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake docker-credential-fake: answers for r.example, fails for others."""
    script = tmp_path / "bin" / "docker-credential-fake"
    script.parent.mkdir()
    script.write_text(
        "#!/bin/sh\n"
        "read server\n"
        'if [ "$server" = "r.example" ]; then\n'
        '  echo \'{"ServerURL":"r.example","Username":"helper-user","Secret":"helper-secret"}\'\n'
        'elif [ "$server" = "t.example" ]; then\n'
        '  echo \'{"ServerURL":"t.example","Username":"<token>","Secret":"helper-idt"}\'\n'
        "else\n"
        "  echo 'credentials not found: helper-secret' >&2; exit 1\n"
        "fi\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    return script


async def test_cred_helpers_and_creds_store_run_the_helper(helper_on_path: Path) -> None:
    config = DockerConfig.from_dict({"credHelpers": {"r.example": "fake"}})
    assert await config.credential_for("r.example") == Credential("helper-user", "helper-secret")
    store = DockerConfig.from_dict({"credsStore": "fake"})
    token = await store.credential_for("t.example")
    assert token == Credential(identity_token="helper-idt")


async def test_helper_failure_reports_exit_status_not_output(helper_on_path: Path) -> None:
    store = DockerConfig.from_dict({"credsStore": "fake"})
    with pytest.raises(RegistryError, match="exit 1") as info:
        await store.credential_for("unknown.example")
    assert "helper-secret" not in str(info.value)


async def test_missing_helper_is_named() -> None:
    config = DockerConfig.from_dict({"credHelpers": {"r.example": "does-not-exist-xyz"}})
    with pytest.raises(RegistryError, match="docker-credential-does-not-exist-xyz not found"):
        await config.credential_for("r.example")


async def test_secrets_dir_reads_the_kubernetes_layout(tmp_path: Path) -> None:
    pull = tmp_path / "pull-secret"
    pull.mkdir()
    (pull / ".dockerconfigjson").write_text(
        json.dumps({"auths": {"r.example": {"auth": _auth("k8s", "pw2")}}})
    )
    certs = tmp_path / "certs"
    certs.mkdir()
    for name in ("ca.crt", "tls.crt", "tls.key"):
        (certs / name).write_text("PEM")
    secrets = SecretsDir(tmp_path)
    config = secrets.docker_config("pull-secret")
    assert await config.credential_for("r.example") == Credential("k8s", "pw2")
    tls = secrets.tls("certs")
    assert (tls.ca_file, tls.cert_file, tls.key_file) == (
        certs / "ca.crt",
        certs / "tls.crt",
        certs / "tls.key",
    )


@pytest.mark.parametrize("name", ["missing", "../etc", ""])
def test_secrets_dir_errors_name_the_secret(tmp_path: Path, name: str) -> None:
    with pytest.raises(RegistryError, match="secret"):
        SecretsDir(tmp_path).docker_config(name)


def test_cert_secret_needs_both_halves_of_a_client_cert(tmp_path: Path) -> None:
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "tls.crt").write_text("PEM")
    with pytest.raises(RegistryError, match=r"both tls.crt and tls.key"):
        SecretsDir(tmp_path).tls("half")
