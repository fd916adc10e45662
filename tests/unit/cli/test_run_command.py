"""``run`` settings: flag over environment over --config file over default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from image_automation.cli import _run
from image_automation.cli._run import run_command
from image_automation.daemon.running import DaemonSettings
from image_automation.daemon.wiring import RepoSettings


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[tuple[RepoSettings, DaemonSettings]]:
    seen: list[tuple[RepoSettings, DaemonSettings]] = []

    async def fake_main(repo: RepoSettings, daemon: DaemonSettings) -> int:
        seen.append((repo, daemon))
        return 0

    monkeypatch.setattr(_run, "_main", fake_main)
    monkeypatch.setattr(_run, "configure_logging", lambda fmt, level: None)
    return seen


def invoke(args: list[str], env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(run_command, args, env=env or {}, catch_exceptions=False)


def test_defaults(captured: list[tuple[RepoSettings, DaemonSettings]]) -> None:
    result = invoke(["--repo", "http://127.0.0.1:1/x.git"])
    assert result.exit_code == 0, result.output
    [(repo, daemon)] = captured
    assert (repo.branch, repo.interval, repo.data_dir) == (
        "main", 300.0, Path.cwd() / "image-automation-data")  # fmt: skip
    assert (daemon.host, daemon.port, daemon.grace_period) == ("127.0.0.1", 8080, 30.0)


def test_flag_beats_environment_beats_config_file(
    tmp_path: Path, captured: list[tuple[RepoSettings, DaemonSettings]]
) -> None:
    config = tmp_path / "daemon.yaml"
    config.write_text(
        "repo: http://127.0.0.1:1/file.git\nbranch: from-file\nlisten: 127.0.0.1:7000\n"
        "interval: 2m\ngracePeriod: 5s\n"
    )
    env = {"IMAGE_AUTOMATION_LISTEN": "0.0.0.0:9000", "IMAGE_AUTOMATION_BRANCH": "from-env"}
    result = invoke(["--config", str(config), "--branch", "from-flag"], env)
    assert result.exit_code == 0, result.output
    [(repo, daemon)] = captured
    assert repo.repo == "http://127.0.0.1:1/file.git"
    assert repo.branch == "from-flag"
    assert (daemon.host, daemon.port) == ("0.0.0.0", 9000)
    assert (repo.interval, daemon.grace_period) == (120.0, 5.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --repo URL"),
        (["--repo", "u", "--listen", "nope"], "expected HOST:PORT"),
        (["--repo", "u", "--interval", "soon"], "invalid duration"),
        (["--repo", "u", "--log-format", "xml"], "xml"),
    ],
)
def test_bad_settings_exit_2(
    args: list[str], message: str, captured: list[tuple[RepoSettings, DaemonSettings]]
) -> None:
    result = CliRunner().invoke(run_command, args, env={})
    assert result.exit_code == 2
    assert message in result.output
    assert captured == []


def test_unknown_config_key_is_refused(
    tmp_path: Path, captured: list[tuple[RepoSettings, DaemonSettings]]
) -> None:
    config = tmp_path / "daemon.yaml"
    config.write_text("repo: u\nlistenn: 1\n")
    result = CliRunner().invoke(run_command, ["--config", str(config)], env={})
    assert result.exit_code == 2
    assert "listenn" in result.output


def test_paths_from_flags_and_environment_are_absolute_against_the_current_directory(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    captured: list[tuple[RepoSettings, DaemonSettings]],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "registries.yaml").write_text("{}\n")
    env = {"IMAGE_AUTOMATION_REGISTRIES": "registries.yaml"}
    args = ["--repo", "../fleet.git", "--data-dir", "./data", "--secrets-dir", "secrets"]
    result = invoke(args, env)
    assert result.exit_code == 0, result.output
    [(repo, daemon)] = captured
    assert repo.data_dir == tmp_path / "data"
    assert repo.secrets_dir == daemon.secrets_dir == tmp_path / "secrets"
    assert repo.registries == tmp_path / "registries.yaml"
    assert repo.repo == str(tmp_path.parent / "fleet.git")


def test_paths_in_the_config_file_are_relative_to_the_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    captured: list[tuple[RepoSettings, DaemonSettings]],
) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "daemon.yaml").write_text(
        "repo: https://git.example.test/fleet.git\ndataDir: ./data\nsecretsDir: secrets\n"
        "dockerConfig: /abs/config.json\n"
    )
    monkeypatch.chdir(tmp_path)
    result = invoke(["--config", "etc/daemon.yaml"])
    assert result.exit_code == 0, result.output
    [(repo, daemon)] = captured
    assert repo.data_dir == etc / "data"
    assert repo.secrets_dir == daemon.secrets_dir == etc / "secrets"
    assert repo.docker_config == Path("/abs/config.json")
    assert repo.repo == "https://git.example.test/fleet.git"


def status_secret(root: Path, **files: str) -> Path:
    secret = root / "secrets" / "status"
    secret.mkdir(parents=True)
    for name, text in files.items():
        (secret / name).write_text(text)
    return root / "secrets"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"token": "t0k\n"}, ("t0k", None, None)),
        ({"username": "ops", "password": "pw\n"}, (None, "ops", "pw")),
        ({"token": "t", "username": "ops", "password": "pw"}, ("t", "ops", "pw")),
    ],
)
def test_status_secret_reads_a_token_and_or_a_login(
    tmp_path: Path, captured: list[tuple[RepoSettings, DaemonSettings]],
    files: dict[str, str], expected: tuple[str | None, ...],
) -> None:  # fmt: skip
    secrets = status_secret(tmp_path, **files)
    args = ["--repo", "u", "--secrets-dir", str(secrets), "--status-secret", "status"]
    assert invoke(args).exit_code == 0
    [(_, daemon)] = captured
    auth = daemon.status_auth
    assert (auth.token, auth.username, auth.password) == expected
    assert daemon.status_page is True


@pytest.mark.parametrize(
    ("files", "extra", "message"),
    [
        ({"username": "ops"}, [], "neither token nor username + password"),
        ({}, [], "neither token nor username + password"),
        ({"token": "t"}, ["--status-secret", "../status"], "not a plain directory name"),
    ],
)
def test_a_status_secret_that_gives_no_credential_is_refused(
    tmp_path: Path, captured: list[tuple[RepoSettings, DaemonSettings]],
    files: dict[str, str], extra: list[str], message: str,
) -> None:  # fmt: skip
    secrets = status_secret(tmp_path, **files)
    args = ["--repo", "u", "--secrets-dir", str(secrets), "--status-secret", "status", *extra]
    result = CliRunner().invoke(run_command, args, env={})
    assert result.exit_code == 2 and message in result.output, result.output
    assert captured == []


def test_the_status_page_can_be_turned_off(
    captured: list[tuple[RepoSettings, DaemonSettings]],
) -> None:
    assert invoke(["--repo", "u", "--no-status-page"]).exit_code == 0
    assert invoke(["--repo", "u"], {"IMAGE_AUTOMATION_STATUS_PAGE": "false"}).exit_code == 0
    assert [d.status_page for _, d in captured] == [False, False]
    assert not captured[0][1].status_auth.enabled
