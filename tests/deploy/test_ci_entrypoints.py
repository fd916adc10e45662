"""The GitHub Action and the GitLab template run reconcile --once: real registry, real remotes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.deploy.ci_entrypoints import action, run_action, run_gitlab_job, run_script
from tests.e2e.reconcile.helpers import APP_FILE, fleet_files
from tests.integration.git_fixtures import GitRemote, HttpGitServer, make_remote
from tests.integration.local_registry import LocalRegistry

pytestmark = pytest.mark.integration


def _fleet(registry: LocalRegistry, path: Path, *, tags: tuple[str, ...]) -> tuple[GitRemote, str]:
    repo = f"team/ci-{os.urandom(4).hex()}"
    registry.push(repo, *tags)
    files = {k: v.replace("team/app", repo) for k, v in fleet_files(registry.host).items()}
    return make_remote(path, files), f"{registry.host}/{repo}"


def _context(tmp_path: Path, remote_url: str) -> dict[str, str]:
    server, _, repository = remote_url.removesuffix(".git").rpartition("/")
    return {
        "github.server_url": server, "github.repository": repository,
        "github.ref_name": "main", "github.token": "ghs-not-used-over-file",
        "runner.temp": str(tmp_path / "runner-temp"),
    }  # fmt: skip


def _left_in(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir())


def test_action_inputs_all_reach_the_script() -> None:
    (step,) = [s for s in action()["runs"]["steps"] if "reconcile" in s.get("name", "")]
    used = " ".join(str(v) for v in step["env"].values())
    for name in action()["inputs"]:
        if name != "python-version":
            assert f"inputs.{name} " in used, f"input {name} is declared but not passed"
    script = (Path(__file__).parents[2] / "deploy/ci/reconcile-once.sh").read_text()
    for variable in step["env"]:
        assert variable in script, f"{variable} is passed but the script ignores it"


def test_action_dry_run_prints_the_diff_and_pushes_nothing(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    remote, image = _fleet(registry, tmp_path / "org" / "fleet.git", tags=("1.0.0", "1.1.0"))
    seed = remote.head()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    done = run_action({"dry-run": "true"}, context=_context(tmp_path, remote.url),
                      tmp=tmp, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"+          image: {image}:1.1.0" in done.stdout
    assert remote.head() == seed
    assert _left_in(tmp) == []


def test_action_pushes_over_https_with_the_token_inputs_and_leaves_no_secret(
    registry: LocalRegistry, http_git_server: HttpGitServer, git_server_root: Path, tmp_path: Path
) -> None:
    remote, image = _fleet(registry, git_server_root / f"ci-{os.urandom(3).hex()}.git",
                           tags=("1.0.0", "1.2.0"))  # fmt: skip
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    done = run_action(
        {"repo": http_git_server.url_for(remote), "git-username": http_git_server.username,
         "git-password": http_git_server.password},
        context=_context(tmp_path, remote.url), tmp=tmp, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{image}:1.2.0" in remote.read(APP_FILE)
    assert len(remote.commits()) == 2
    assert http_git_server.password not in done.stdout + done.stderr
    assert _left_in(tmp) == []  # the secrets dir went with the run


def test_action_with_a_wrong_token_fails_without_showing_it(
    registry: LocalRegistry, http_git_server: HttpGitServer, git_server_root: Path, tmp_path: Path
) -> None:
    remote, _ = _fleet(registry, git_server_root / f"ci-{os.urandom(3).hex()}.git",
                       tags=("1.0.0", "1.2.0"))  # fmt: skip
    wrong = "ghp-Wr0ng-T0ken-value-123"
    done = run_action(
        {"repo": http_git_server.url_for(remote), "git-password": wrong},
        context=_context(tmp_path, remote.url), tmp=tmp_path, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode != 0
    assert wrong not in done.stdout + done.stderr
    assert len(remote.commits()) == 1


def test_gitlab_job_runs_the_same_script_and_commits(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    remote, image = _fleet(registry, tmp_path / "group" / "fleet.git", tags=("1.0.0", "1.3.0"))
    predefined = {"CI_SERVER_URL": f"file://{tmp_path}", "CI_PROJECT_PATH": "group/fleet",
                  "CI_DEFAULT_BRANCH": "main"}  # fmt: skip
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    done = run_gitlab_job(predefined, extra={}, tmp=tmp, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{image}:1.3.0" in remote.read(APP_FILE)
    assert sorted(p.name for p in tmp.iterdir()) == ["image-bin"]


def test_a_relative_secrets_dir_supplies_a_named_git_secret(
    registry: LocalRegistry, http_git_server: HttpGitServer, git_server_root: Path, tmp_path: Path
) -> None:
    remote, image = _fleet(registry, git_server_root / f"ci-{os.urandom(3).hex()}.git",
                           tags=("1.0.0", "1.4.0"))  # fmt: skip
    (tmp_path / "secrets" / "fleet").mkdir(parents=True)
    (tmp_path / "secrets" / "fleet" / "username").write_text(http_git_server.username)
    (tmp_path / "secrets" / "fleet" / "password").write_text(http_git_server.password)
    done = run_script(
        {"IMAGE_AUTOMATION_REPO": http_git_server.url_for(remote),
         "IMAGE_AUTOMATION_SECRETS_DIR": "secrets", "IMAGE_AUTOMATION_GIT_SECRET": "fleet"},
        tmp=tmp_path, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{image}:1.4.0" in remote.read(APP_FILE)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "IMAGE_AUTOMATION_REPO is not set"),
        ({"IMAGE_AUTOMATION_DRY_RUN": "maybe; rm -rf /"}, "must be true or false"),
        ({"IMAGE_AUTOMATION_GIT_PASSWORD": "x"}, "needs IMAGE_AUTOMATION_GIT_USERNAME"),
        ({"IMAGE_AUTOMATION_GIT_SECRET": "a", "IMAGE_AUTOMATION_GIT_TOKEN": "t"}, "not both"),
        ({"IMAGE_AUTOMATION_SECRETS_DIR": "no/such/dir"}, "no directory"),
        ({"IMAGE_AUTOMATION_SECRETS_DIR": "with-git", "IMAGE_AUTOMATION_GIT_TOKEN": "t"},
         "has a 'git' secret already"),
    ],
    ids=["no repo", "dry-run not a boolean", "password alone", "secret and credentials",
         "missing secrets dir", "git secret twice"],
)  # fmt: skip
def test_the_script_refuses_bad_settings_before_running_anything(
    env: dict[str, str], message: str, tmp_path: Path
) -> None:
    (tmp_path / "with-git" / "git").mkdir(parents=True)
    if env:
        env = {"IMAGE_AUTOMATION_REPO": "file:///nowhere.git", **env}
    done = run_script(env, tmp=tmp_path, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["with-git"]
