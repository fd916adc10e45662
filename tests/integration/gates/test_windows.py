"""Update windows and freezes against a real bare remote: closed means nothing is pushed,
but the run still shows what it would change and when the window opens."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from image_automation.cli import root
from image_automation.config.resolving import ResolvedPolicy
from image_automation.domain import TagInfo
from image_automation.engine.automations import RepoTarget
from image_automation.engine.reconcile import (
    AutomationOutcome,
    FoundTags,
    ReconcileRequest,
    reconcile_once,
)
from image_automation.state import open_store
from tests.integration.git_fixtures import GitRemote, make_remote
from tests.integration.image_push import push_image
from tests.integration.registry_fixtures import RegistryServer

MONDAY_NOON = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
TUESDAY_NINE = datetime(2026, 5, 5, 9, 30, tzinfo=UTC)
LINE = 'image: registry.local/{0}:{1} # {{"$imagepolicy": "apps:{0}"}}\n'


def tracked(name: str, extra: str = "") -> str:
    return f"""\
apiVersion: image-automation.io/v1alpha1
kind: TrackedImage
metadata: {{name: {name}, namespace: apps}}
spec:
  image: registry.local/{name}
  select: {{semver: {{range: ">=1.0.0"}}}}
{extra}---
"""


AUTOMATION = """\
apiVersion: image-automation.io/v1alpha1
kind: ImageAutomation
metadata: {{name: auto, namespace: apps}}
spec:
  commit: {{author: {{name: bot, email: bot@example.test}}}}
  update: {{path: deploy}}
{extra}"""

MORNINGS = """\
  windows:
    - days: [Mon-Fri]
      from: "09:00"
      until: "10:00"
      timeZone: UTC
"""


class Tags:
    async def scan(self, policies: Sequence[ResolvedPolicy], *, now: datetime) -> FoundTags:
        found = [TagInfo("1.0.0"), TagInfo("1.1.0")]
        return FoundTags(tags={f"registry.local/{n}": found for n in ("app", "web")})


def fleet(tmp_path: Path, docs: str) -> GitRemote:
    files = {
        "deploy/app.yaml": LINE.format("app", "1.0.0"),
        "deploy/web.yaml": LINE.format("web", "1.0.0"),
        "policies.yaml": docs,
    }
    return make_remote(tmp_path / "remote.git", files)


async def run(remote: GitRemote, tmp_path: Path, now: datetime) -> AutomationOutcome:
    request = ReconcileRequest(
        work_dir=tmp_path / "work", repo=RepoTarget(url=remote.url, branch="main")
    )
    async with await open_store(tmp_path / "state.db") as store:
        report = await reconcile_once(request, tags=Tags(), store=store, clock=lambda: now)
    assert report.ok, report
    (outcome,) = report.automations
    return outcome


def tag_in(remote: GitRemote, name: str) -> str:
    return remote.read(f"deploy/{name}.yaml").split(":")[2].split(" ")[0]


async def test_outside_the_automations_windows_nothing_is_pushed_but_the_change_is_shown(
    tmp_path: Path,
) -> None:
    remote = fleet(tmp_path, tracked("app") + tracked("web") + AUTOMATION.format(extra=MORNINGS))
    heads = len(remote.commits())
    closed = await run(remote, tmp_path, MONDAY_NOON)
    assert closed.commit is None and len(remote.commits()) == heads
    assert closed.deferred == "outside the update windows; opens 2026-05-05T09:00:00+00:00"
    assert sorted((c.old, c.new) for c in closed.changes) == [
        ("registry.local/app:1.0.0", "registry.local/app:1.1.0"),
        ("registry.local/web:1.0.0", "registry.local/web:1.1.0"),
    ]
    assert closed.decisions["apps/app"].window == closed.deferred
    assert closed.held == {"apps/app": closed.deferred, "apps/web": closed.deferred}
    async with await open_store(tmp_path / "state.db") as store:  # what explain will show
        stored = await store.decision("apps/app")
        assert stored is not None and stored.decision.window == closed.deferred
    assert tag_in(remote, "app") == tag_in(remote, "web") == "1.0.0"

    opened = await run(remote, tmp_path, TUESDAY_NINE)
    assert opened.commit is not None and opened.deferred == "" and opened.held == {}
    assert tag_in(remote, "app") == tag_in(remote, "web") == "1.1.0"


async def test_a_policys_freeze_keeps_only_its_own_value_back(tmp_path: Path) -> None:
    freeze = (
        "  freeze:\n    - {from: 2026-05-01, until: 2026-05-08, reason: launch week,"
        " timeZone: Europe/Berlin}\n"
    )
    docs = tracked("app", freeze) + tracked("web") + AUTOMATION.format(extra="")
    remote = fleet(tmp_path, docs)
    outcome = await run(remote, tmp_path, MONDAY_NOON)
    assert outcome.commit is not None and outcome.deferred == ""
    assert tag_in(remote, "web") == "1.1.0" and tag_in(remote, "app") == "1.0.0"
    why = "frozen (launch week) until 2026-05-07T22:00:00+00:00; opens 2026-05-07T22:00:00+00:00"
    assert outcome.held == {"apps/app": why}
    assert [c.setter for c in outcome.changes] == ["apps:web"]


def test_reconcile_prints_deferred_and_what_it_would_change(
    tmp_path: Path, registry_anonymous: RegistryServer
) -> None:
    repo = f"team/app-{os.urandom(4).hex()}"
    with registry_anonymous.push_client() as client:
        for tag in ("1.0.0", "1.1.0"):
            push_image(client, registry_anonymous.url, repo, [tag], salt=tag)
    image = f"{registry_anonymous.host}/{repo}"
    docs = f"""\
apiVersion: image-automation.io/v1alpha1
kind: TrackedImage
metadata: {{name: app, namespace: apps}}
spec:
  image: {image}
  scan: {{insecure: true}}
  select: {{semver: {{range: ">=1.0.0"}}}}
---
""" + AUTOMATION.format(
        extra="  freeze:\n    - {from: 2000-01-01, until: 2999-01-01, reason: forever}\n"
    )
    line = f'image: {image}:1.0.0 # {{"$imagepolicy": "apps:app"}}\n'
    remote = make_remote(tmp_path / "remote.git", {"deploy/app.yaml": line, "policies.yaml": docs})
    heads = len(remote.commits())
    argv = ["reconcile", "--once", "--repo", remote.url, "--branch", "main",
            "--work-dir", str(tmp_path / "work"),
            "--state", str(tmp_path / "state.db")]  # fmt: skip
    result = CliRunner().invoke(root, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[:2] == [
        "ImageAutomation/apps/auto: deferred (frozen (forever) until 2999-01-01T00:00:00+00:00;"
        " opens 2999-01-01T00:00:00+00:00): would change",
        f"  deploy/app.yaml:1: apps:app: {image}:1.0.0 -> {image}:1.1.0",
    ], result.stdout
    assert len(remote.commits()) == heads
