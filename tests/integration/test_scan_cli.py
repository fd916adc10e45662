"""``image-automation scan IMAGE`` against the real registries."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from image_automation.cli import root
from image_automation.cli._commands import register
from tests.integration.conftest import LeakCheck
from tests.integration.fault_proxy import Fault, FaultProxy
from tests.integration.registry_fixtures import PASSWORD, USERNAME, RegistryServer, push_image

pytestmark = pytest.mark.integration
TAGS = ["1.0.0", "1.1.0", "2.0.0-rc.1", "latest"]


def run(leak_check: LeakCheck, *args: str) -> Result:
    register(root)
    result = CliRunner().invoke(root, ["scan", *args], catch_exceptions=False)
    leak_check.record(result.stdout)
    leak_check.record(result.stderr)
    return result


def pushed(server: RegistryServer) -> str:
    repo = f"cli/{uuid.uuid4().hex[:8]}"
    with server.push_client() as push:
        push_image(push, server.url, repo, TAGS)
    return f"{server.host}/{repo}"


def docker_config(directory: Path, server: RegistryServer) -> Path:
    auth = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    path = directory / "config.json"
    path.write_text(json.dumps({"auths": {server.host: {"auth": auth}}}))
    return path


def test_prints_one_tag_per_line(registry_anonymous: RegistryServer, leak_check: LeakCheck) -> None:
    image = pushed(registry_anonymous)
    result = run(leak_check, image, "--insecure")
    assert result.exit_code == 0, result.stderr
    assert sorted(result.stdout.split()) == sorted(TAGS)


def test_json_reports_the_steady_state_request_count(
    registry_anonymous: RegistryServer, leak_check: LeakCheck
) -> None:
    image = pushed(registry_anonymous)
    result = run(leak_check, image, "--insecure", "--output", "json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["image"] == image
    assert sorted(payload["tags"]) == sorted(TAGS)
    assert payload["requests"] == 1  # one tag page, anonymous: exactly one request


@pytest.mark.parametrize(("setup", "requests"), [("basic", 2), ("token", 3)])
def test_docker_config_credentials_are_used(
    setup: str,
    requests: int,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    leak_check: LeakCheck,
) -> None:
    server: RegistryServer = request.getfixturevalue(f"registry_{setup}")
    image = pushed(server)
    config = docker_config(tmp_path, server)
    result = run(
        leak_check, image, "--insecure", "--docker-config", str(config), "--output", "json"
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert sorted(payload["tags"]) == sorted(TAGS)
    assert payload["requests"] == requests  # challenge, (token,) retry


def test_secrets_dir_supplies_pull_secret_and_ca(
    registry_tls: RegistryServer, tmp_path: Path, leak_check: LeakCheck
) -> None:
    assert registry_tls.ca is not None
    image = pushed(registry_tls)
    (tmp_path / "registry-ca").mkdir()
    (tmp_path / "registry-ca" / "ca.crt").write_bytes(registry_tls.ca.ca_file.read_bytes())
    (tmp_path / "pull").mkdir()
    docker_config(tmp_path / "pull", registry_tls).rename(tmp_path / "pull" / ".dockerconfigjson")
    result = run(
        leak_check,
        image,
        "--secrets-dir",
        str(tmp_path),
        "--secret-ref",
        "pull",
        "--cert-secret-ref",
        "registry-ca",
    )
    assert result.exit_code == 0, result.stderr
    assert sorted(result.stdout.split()) == sorted(TAGS)


def test_ca_file_flag_trusts_the_registry(
    registry_tls: RegistryServer, leak_check: LeakCheck
) -> None:
    assert registry_tls.ca is not None
    image = pushed(registry_tls)
    result = run(leak_check, image, "--ca-file", str(registry_tls.ca.ca_file))
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.split()) == len(TAGS)


@pytest.mark.parametrize(
    ("image", "message"),
    [("{host}/cli/missing", "not found"), ("{host}/UPPER", "invalid repository component")],
)
def test_errors_name_the_image_on_stderr_and_exit_1(
    registry_anonymous: RegistryServer, leak_check: LeakCheck, image: str, message: str
) -> None:
    text = image.format(host=registry_anonymous.host)
    result = run(leak_check, text, "--insecure")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert text in result.stderr and message in result.stderr


def test_wrong_password_is_refused_without_echoing_it(
    registry_basic: RegistryServer, tmp_path: Path, leak_check: LeakCheck
) -> None:
    image = pushed(registry_basic)
    auth = base64.b64encode(f"{USERNAME}:{PASSWORD}-wrong".encode()).decode()
    (tmp_path / "c.json").write_text(json.dumps({"auths": {registry_basic.host: {"auth": auth}}}))
    result = run(leak_check, image, "--insecure", "--docker-config", str(tmp_path / "c.json"))
    assert result.exit_code == 1
    assert "refused" in result.stderr and image in result.stderr


def test_image_or_policies_is_required(leak_check: LeakCheck) -> None:
    result = run(leak_check)
    assert result.exit_code == 2
    assert "IMAGE or --policies is required" in result.stderr


def test_registries_file_sets_plain_http_and_all_mounted_pull_secrets_are_tried(
    registry_basic: RegistryServer, tmp_path: Path, leak_check: LeakCheck
) -> None:
    image = pushed(registry_basic)
    settings = tmp_path / "registries.yaml"
    settings.write_text(
        f"hosts:\n  {registry_basic.host}:\n    insecure: true\n    concurrency: 2\n"
    )
    secrets = tmp_path / "secrets"
    for name in ("a-unrelated", "b-pull"):
        (secrets / name).mkdir(parents=True)
    unrelated = {"auths": {"other.example": {"auth": base64.b64encode(b"x:y").decode()}}}
    (secrets / "a-unrelated" / ".dockerconfigjson").write_text(json.dumps(unrelated))
    docker_config(secrets / "b-pull", registry_basic).rename(
        secrets / "b-pull" / ".dockerconfigjson"
    )
    result = run(leak_check, image, "--registries", str(settings), "--secrets-dir", str(secrets))
    assert result.exit_code == 0, result.stderr
    assert sorted(result.stdout.split()) == sorted(TAGS)


def test_a_bad_registries_file_is_reported_with_its_field(
    registry_anonymous: RegistryServer, tmp_path: Path, leak_check: LeakCheck
) -> None:
    settings = tmp_path / "registries.yaml"
    settings.write_text("defaults:\n  concurency: 2\n")
    result = run(leak_check, f"{registry_anonymous.host}/x", "--registries", str(settings))
    assert result.exit_code == 1
    assert "registries.yaml" in result.stderr and "defaults.concurency" in result.stderr


def test_cert_secret_supplies_a_client_certificate_for_mutual_tls(
    registry_mtls: RegistryServer, tmp_path: Path, leak_check: LeakCheck
) -> None:
    ca = registry_mtls.ca
    assert ca is not None
    image = pushed(registry_mtls)
    secret = tmp_path / "mtls"
    secret.mkdir()
    for source, key in (
        (ca.ca_file, "ca.crt"),
        (ca.client_cert_file, "tls.crt"),
        (ca.client_key_file, "tls.key"),
    ):
        (secret / key).write_bytes(source.read_bytes())
    result = run(leak_check, image, "--secrets-dir", str(tmp_path), "--cert-secret-ref", "mtls")
    assert result.exit_code == 0, result.stderr
    assert sorted(result.stdout.split()) == sorted(TAGS)


async def test_a_hung_registry_ends_at_the_scan_deadline(
    registry_anonymous: RegistryServer,
    fault_proxy: FaultProxy,
    leak_check: LeakCheck,
    tmp_path: Path,
) -> None:
    image = pushed(registry_anonymous).replace(registry_anonymous.host, fault_proxy.host)
    fault_proxy.add(Fault("hang", times=100))
    settings = tmp_path / "registries.yaml"
    settings.write_text(
        "retry: {attempts: 2, baseDelay: 0}\n"
        f"hosts:\n  '{fault_proxy.host}': {{insecure: true, timeout: 20, scanTimeout: 1}}\n"
    )
    # In a thread: the proxy answers (or rather, hangs) on this test's event loop.
    result = await asyncio.to_thread(run, leak_check, image, "--registries", str(settings))
    assert result.exit_code == 1
    assert f"scan of {image} exceeded its deadline of 1s" in result.stderr
    assert len(fault_proxy.seen) == 1  # cut inside the first try, none started after it
