"""Head branches are deterministic, git-safe and collision-free; the forge token is read
from the secrets dir and never shown."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from image_automation.config.pull_requests import branch_problem
from image_automation.engine.automations import (
    AutomationPlan,
    PullRequestPlan,
    RepoTarget,
    forge_token,
    head_branch,
)
from image_automation.errors import ConfigError
from image_automation.git import CommitSettings, PushSettings

BRANCH = "image-automation/apps"
HASHED = re.compile(r"-[0-9a-f]{8}$")


Grouping = Literal["automation", "policy", "image"]


def pr(grouping: Grouping = "automation") -> PullRequestPlan:
    return PullRequestPlan(
        provider=None, api_url=None, secret=None, branch=BRANCH, grouping=grouping
    )


def git_accepts(branch: str) -> bool:
    run = subprocess.run(["git", "check-ref-format", "--branch", branch], capture_output=True)
    return run.returncode == 0


def test_grouping_by_automation_is_one_head_whatever_the_policy_or_image() -> None:
    plan = pr()
    assert head_branch(plan, policy=None, image=None) == BRANCH
    assert head_branch(plan, policy="apps/web", image="nginx:1.25") == BRANCH


@pytest.mark.parametrize(
    ("policy", "suffix"),
    [
        ("web", "web"),
        ("apps/web", "web"),
        ("apps:web", "web"),
        ("web-api.v2", "web-api.v2"),
        ("web_api", "web_api"),
    ],
)
def test_grouping_by_policy_appends_the_policy_name(policy: str, suffix: str) -> None:
    branch = head_branch(pr("policy"), policy=policy, image=None)
    assert branch == f"{BRANCH}-{suffix}"
    assert git_accepts(branch)


@pytest.mark.parametrize(
    ("image", "suffix"),
    [
        ("nginx", "nginx"),
        ("nginx:1.25.3", "nginx"),
        ("docker.io/library/nginx:1.25", "nginx"),
        ("index.docker.io/library/nginx", "nginx"),
        ("bitnami/redis:7", "bitnami-redis"),
        ("ghcr.io/org/app:1.0@sha256:" + "a" * 64, "ghcr.io-org-app"),
        ("Registry.Example.COM:5000/team/app:2.0", "registry.example.com-5000-team-app"),
        ("localhost:5000/demo/app", "localhost-5000-demo-app"),
        ("[::1]:5000/app", "1-5000-app"),
    ],
)
def test_grouping_by_image_appends_a_slug_of_the_repository(image: str, suffix: str) -> None:
    branch = head_branch(pr("image"), policy="apps/x", image=image)
    assert branch == f"{BRANCH}-{suffix}"
    assert git_accepts(branch)


def test_one_image_at_every_version_keeps_one_head() -> None:
    plan = pr("image")
    heads = {head_branch(plan, policy=None, image=f"ghcr.io/org/app:{v}") for v in ("1", "2")}
    assert len(heads) == 1


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("a" * 60 + "-one", "a" * 60 + "-two"),
        ("web", "Web"),
        ("web.lock", "web-lock"),
        ("we b", "we-b"),
    ],
)
def test_policies_that_would_share_a_slug_get_distinct_hashed_heads(
    first: str, second: str
) -> None:
    plan = pr("policy")
    one = head_branch(plan, policy=first, image=None)
    two = head_branch(plan, policy=second, image=None)
    assert one != two
    assert HASHED.search(one) or HASHED.search(two)
    assert head_branch(plan, policy=first, image=None) == one  # deterministic
    assert git_accepts(one) and git_accepts(two)


def test_long_images_with_a_common_start_are_cut_with_a_hash_and_stay_distinct() -> None:
    plan = pr("image")
    stem = "registry.example.com/" + "/".join(["team"] * 15)
    one = head_branch(plan, policy=None, image=stem + "/api")
    two = head_branch(plan, policy=None, image=stem + "/web")
    assert one != two
    for branch in (one, two):
        assert HASHED.search(branch)
        assert len(branch) <= len(BRANCH) + 1 + 50
        assert git_accepts(branch)


def test_a_group_suffix_needs_what_it_groups_by() -> None:
    with pytest.raises(ValueError, match="policy"):
        head_branch(pr("policy"), policy=None, image="nginx")
    with pytest.raises(ValueError, match="image"):
        head_branch(pr("image"), policy="web", image=None)


def test_the_longest_configured_branch_with_a_suffix_is_still_a_ref() -> None:
    plan = PullRequestPlan(
        provider=None, api_url=None, secret=None, branch="b" * 200, grouping="image"
    )
    branch = head_branch(plan, policy=None, image="x/" + "y" * 300)
    assert len(branch.encode()) <= 251
    assert git_accepts(branch)


@given(text=st.text(max_size=400), grouping=st.sampled_from(["policy", "image"]))
def test_any_policy_or_image_text_gives_a_safe_head(text: str, grouping: Grouping) -> None:
    plan = pr(grouping)
    branch = head_branch(plan, policy=text or "p", image=text or "i")
    assert branch.startswith(BRANCH + "-")
    assert branch_problem(branch) is None
    assert len(branch.encode()) <= len(BRANCH) + 51


# --- forge_token ----------------------------------------------------------------------------

TOKEN = "glpat-verysecretvalue0123456789"


def plan(git_secret: str | None = "fleet", forge_secret: str | None = None) -> AutomationPlan:
    return AutomationPlan(
        kind="ImageAutomation",
        namespace="apps",
        name="web",
        repo=RepoTarget("https://gitlab.com/org/fleet.git", "main", git_secret),
        commit=CommitSettings(),
        push=PushSettings(),
        pull_request=PullRequestPlan(
            provider=None, api_url=None, secret=forge_secret, branch="bumps"
        ),
    )


def secret(root: Path, name: str, **files: str | bytes) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    for key, value in files.items():
        data = value.encode() if isinstance(value, str) else value
        (folder / key).write_bytes(data)
    return root


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"bearerToken": TOKEN}, TOKEN),
        ({"bearerToken": TOKEN + "\n"}, TOKEN),
        ({"bearerToken": f"  {TOKEN}\r\n"}, TOKEN),
        ({"username": "bot", "password": TOKEN}, TOKEN),
        ({"bearerToken": TOKEN, "password": "other"}, TOKEN),
        ({"bearerToken": "\n", "password": TOKEN}, TOKEN),
    ],
)
def test_the_token_is_the_bearer_token_else_the_password(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    assert forge_token(plan(), secret(tmp_path, "fleet", **files)) == expected


def test_a_forge_secret_wins_over_the_git_secret(tmp_path: Path) -> None:
    secret(tmp_path, "fleet", bearerToken="git-token")
    secret(tmp_path, "forge", password=TOKEN)
    assert forge_token(plan(forge_secret="forge"), tmp_path) == TOKEN
    assert forge_token(plan(git_secret=None, forge_secret="forge"), tmp_path) == TOKEN


def test_a_relative_or_absolute_secrets_dir_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret(tmp_path / "secrets", "fleet", bearerToken=TOKEN)
    monkeypatch.chdir(tmp_path)
    assert forge_token(plan(), Path("secrets")) == TOKEN
    assert forge_token(plan(), tmp_path / "secrets") == TOKEN


def test_a_mounted_kubernetes_secret_is_read_through_its_symlinks(tmp_path: Path) -> None:
    data = tmp_path / "fleet" / "..2024_01_01"
    data.mkdir(parents=True)
    (data / "bearerToken").write_text(TOKEN)
    os.symlink("..2024_01_01", tmp_path / "fleet" / "..data")
    os.symlink("..data/bearerToken", tmp_path / "fleet" / "bearerToken")
    assert forge_token(plan(), tmp_path) == TOKEN


@pytest.mark.parametrize(
    ("files", "fragment"),
    [
        ({"username": "bot"}, "neither a bearerToken nor a password"),
        ({}, "neither a bearerToken nor a password"),
        ({"bearerToken": f"{TOKEN}\nX-Injected: 1"}, "line break or control character"),
        ({"bearerToken": f"{TOKEN}\x00"}, "control character"),
        ({"password": b"\xff\xfe" + TOKEN.encode()}, "not UTF-8"),
        ({"bearerToken": TOKEN * 3000}, "over the 65536 byte limit"),
    ],
)
def test_a_secret_without_a_usable_token_is_an_error_that_never_shows_it(
    tmp_path: Path, files: dict[str, str | bytes], fragment: str
) -> None:
    secrets = secret(tmp_path, "fleet", **files)
    with pytest.raises(ConfigError) as caught:
        forge_token(plan(), secrets)
    message = str(caught.value)
    assert fragment in message
    assert "'fleet'" in message and "ImageAutomation/apps/web" in message
    assert "verysecret" not in message and "Injected" not in message


@pytest.mark.parametrize(
    ("automation", "secrets_dir", "fragment"),
    [
        (plan(git_secret=None), "dir", "names no git secret"),
        (plan(), None, "needs --secrets-dir"),
        (plan(git_secret="missing"), "dir", "no directory"),
        (plan(git_secret="../fleet"), "dir", "not a directory name"),
        (plan(git_secret=".."), "dir", "not a directory name"),
        (plan(git_secret="a\x00b"), "dir", "not a directory name"),
    ],
)
def test_a_secret_that_cannot_be_found_is_named_in_the_error(
    tmp_path: Path, automation: AutomationPlan, secrets_dir: str | None, fragment: str
) -> None:
    secret(tmp_path / "dir", "fleet", bearerToken=TOKEN)
    root = tmp_path / "dir" / "sub" if secrets_dir else None
    if root is not None:
        root.mkdir()
    with pytest.raises(ConfigError, match=re.escape(fragment)) as caught:
        forge_token(automation, root)
    assert "verysecret" not in str(caught.value)
