"""Settings validation, cache keys, and cancellation safety of the thread helper."""

from __future__ import annotations

import asyncio
import threading

import pytest

from image_automation.errors import ConfigError
from image_automation.git import PushSettings, RepoSpec
from image_automation.git.workspace import _in_thread, cache_key


@pytest.mark.parametrize("branch", ["-upload-pack=x", "a..b", "a b", "x.lock", "a/", "a:b", ""])
def test_bad_branch_names_are_refused(branch: str) -> None:
    with pytest.raises(ConfigError, match="not a valid branch name"):
        RepoSpec(url="file:///r.git", branch=branch)
    with pytest.raises(ConfigError, match="not a valid branch name"):
        PushSettings(branch=branch or "-")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"url": "--upload-pack=evil"}, "is not a URL"),
        ({"url": "file:///r.git", "depth": 0}, "at least 1"),
        ({"url": "file:///r.git", "sparse_paths": ("../up",)}, "inside repo"),
        ({"url": "file:///r.git", "sparse_paths": ("/abs",)}, "inside repo"),
    ],
)
def test_bad_repo_specs_are_refused(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        RepoSpec(**kwargs)  # type: ignore[arg-type]


def test_bad_push_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="not a refspec"):
        PushSettings(refspec="--mirror")
    with pytest.raises(ConfigError, match="at least 1"):
        PushSettings(attempts=0)


def test_cache_key_differs_per_url_and_branch_and_is_a_safe_name() -> None:
    keys = {
        cache_key("https://h/org/app.git", "main"),
        cache_key("https://h/org/app.git", "dev"),
        cache_key("https://other/org/app.git", "main"),
    }
    assert len(keys) == 3
    assert all("/" not in k and k.startswith("app-") for k in keys)


async def test_cancelled_thread_work_finishes_before_the_caller_unwinds() -> None:
    started, release = threading.Event(), threading.Event()
    finished: list[bool] = []

    def work() -> None:
        started.set()
        release.wait()
        finished.append(True)

    task = asyncio.ensure_future(_in_thread(work))
    await asyncio.to_thread(started.wait)
    task.cancel()
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done()  # still waiting for git to finish, lock still held
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished == [True]
