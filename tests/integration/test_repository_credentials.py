"""Each ImageRepository authenticates with its own ``secretRef``, even on a shared host.

GHCR, GitLab and Harbor hand out per-project credentials (robot accounts, deploy tokens): the
credentials of ``ghcr.io/org-a/app`` cannot read ``ghcr.io/org-b/app``. Our token server
plays that registry here: user ``a`` may pull only ``org-a/*``, user ``b`` only ``org-b/*``,
and the real ``docker-registry`` enforces the scopes in the tokens it is shown.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from image_automation.domain import ImageRef
from image_automation.engine.registry_lister import open_registry_lister
from image_automation.engine.scanning import ScanTarget, scan_repositories
from image_automation.registry import SecretsDir
from image_automation.state.sqlite import SqliteStore
from tests.integration.conftest import LeakCheck
from tests.integration.registry_fixtures import (
    SECRETS,
    RegistryServer,
    push_image,
    running_registry,
)

pytestmark = pytest.mark.integration

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def per_project_registry() -> Iterator[RegistryServer]:
    """A token registry of its own: the grants below must not reach other tests' users."""
    with running_registry("token") as server:
        yield server


def _pull_secret(root: Path, name: str, *, host: str, user: str, password: str) -> None:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (root / name).mkdir(parents=True)
    (root / name / ".dockerconfigjson").write_text(json.dumps({"auths": {host: {"auth": auth}}}))


async def test_two_repositories_on_one_host_each_use_their_own_secret(
    per_project_registry: RegistryServer, tmp_path: Path, leak_check: LeakCheck
) -> None:
    server = per_project_registry
    tokens = server.token_server
    assert tokens is not None
    run = uuid.uuid4().hex[:8]
    repo_a, repo_b = f"org-a/app-{run}", f"org-b/app-{run}"
    passwords = {"a": "pw-a-" + secrets.token_hex(8), "b": "pw-b-" + secrets.token_hex(8)}
    for password in passwords.values():
        SECRETS.add(password)
    tokens.users.update(passwords)
    tokens.grants.update({"a": ("org-a/*",), "b": ("org-b/*",)})
    with server.push_client() as push:
        push_image(push, server.url, repo_a, ["1.0.0", "1.1.0"])
        push_image(push, server.url, repo_b, ["2.0.0"])
    secrets_dir = tmp_path / "secrets"
    for name, password in passwords.items():
        _pull_secret(secrets_dir, name, host=server.host, user=name, password=password)
    # Metadata too: digest HEADs and manifest/config GETs must carry the right token as well.
    targets = [
        ScanTarget(
            ImageRef.parse(f"{server.host}/{repo_a}"),
            needs_metadata=True,
            secret_ref="a",
            insecure=True,
        ),
        ScanTarget(
            ImageRef.parse(f"{server.host}/{repo_b}"),
            needs_metadata=True,
            secret_ref="b",
            insecure=True,
        ),
    ]
    async with await SqliteStore.open(tmp_path / "state.db") as store:
        async with open_registry_lister(targets, secrets=SecretsDir(secrets_dir)) as lister:
            reports = await scan_repositories(
                targets, lister=lister, store=store, clock=lambda: NOW
            )
        for report in reports:
            leak_check.record(report.error or "")
        assert [(r.repository, r.ok, r.error) for r in reports] == [
            (f"{server.host}/{repo_a}", True, None),
            (f"{server.host}/{repo_b}", True, None),
        ]
        tags_a = await store.tags(f"{server.host}/{repo_a}")
        tags_b = await store.tags(f"{server.host}/{repo_b}")
    assert sorted(t.name for t in tags_a) == ["1.0.0", "1.1.0"]
    assert [t.name for t in tags_b] == ["2.0.0"]
    assert all(t.digest and t.created for t in [*tags_a, *tags_b])


async def test_a_repository_is_refused_with_another_projects_secret(
    per_project_registry: RegistryServer, tmp_path: Path, leak_check: LeakCheck
) -> None:
    # The control: the grants really bite, so the test above proves per-repository secrets.
    server = per_project_registry
    tokens = server.token_server
    assert tokens is not None
    run = uuid.uuid4().hex[:8]
    repo_b = f"org-b/app-{run}"
    password = "pw-a-" + secrets.token_hex(8)
    SECRETS.add(password)
    tokens.users["a2"] = password
    tokens.grants["a2"] = ("org-a/*",)
    with server.push_client() as push:
        push_image(push, server.url, repo_b, ["2.0.0"])
    secrets_dir = tmp_path / "secrets"
    _pull_secret(secrets_dir, "a2", host=server.host, user="a2", password=password)
    target = ScanTarget(ImageRef.parse(f"{server.host}/{repo_b}"), secret_ref="a2", insecure=True)
    async with (
        await SqliteStore.open(tmp_path / "state.db") as store,
        open_registry_lister([target], secrets=SecretsDir(secrets_dir)) as lister,
    ):
        [report] = await scan_repositories([target], lister=lister, store=store, clock=lambda: NOW)
    assert report.error is not None
    leak_check.record(report.error)
    assert not report.ok
    assert "refused" in report.error
