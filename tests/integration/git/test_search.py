"""Workspace.files_containing (git grep) and publish(prepared=True) on a real checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

from image_automation.git import CommitSettings, PushSettings, RepoSpec, Workspace
from tests.integration.git.helpers import APP_FILE, bump_to
from tests.integration.git_fixtures import make_remote

pytestmark = pytest.mark.integration

FILES = {
    APP_FILE: 'image: registry.local/app:1.0.0 # {"$imagepolicy": "flux-system:app"}\n',
    "a/policy.yaml": "apiVersion: image.toolkit.fluxcd.io/v1\n",
    "b/native.yml": "apiVersion: image-automation.io/v1alpha1\n",
    "c/other.yaml": "apiVersion: apps/v1\n",
    "d/notes.txt": "image.toolkit.fluxcd.io mentioned in text\n",
}


async def test_files_containing_finds_only_matching_files_of_the_globs(tmp_path: Path) -> None:
    remote = make_remote(tmp_path / "remote.git", FILES)
    async with Workspace.open(RepoSpec(url=remote.url), work_dir=tmp_path / "work") as ws:
        await ws.prepare()
        found = await ws.files_containing(
            ["image.toolkit.fluxcd.io", "image-automation.io"], ["*.yaml", "*.yml"]
        )
        none = await ws.files_containing(["no such text anywhere"], ["*.yaml"])
    assert sorted(found) == ["a/policy.yaml", "b/native.yml"]
    assert none == []


async def test_prepared_publish_skips_only_the_first_prepare(tmp_path: Path) -> None:
    remote = make_remote(tmp_path / "remote.git", FILES)
    settings = CommitSettings(author_name="Bot", author_email="bot@example.test")
    async with Workspace.open(RepoSpec(url=remote.url), work_dir=tmp_path / "work") as ws:
        await ws.prepare()
        outcome = await ws.publish(
            bump_to("2.0.0"), commit=settings, push=PushSettings(), prepared=True
        )
    assert outcome.commit == remote.head()
    assert "registry.local/app:2.0.0" in remote.read(APP_FILE)
