"""The daemon's side of forge webhooks: secrets by name, and waking the right reconcile."""

from __future__ import annotations

import asyncio
from pathlib import Path

from image_automation.config.loading import load_bytes
from image_automation.daemon.forge_hooks import ForgeEvent, PullRequestAction
from image_automation.daemon.forge_wake import PushTarget
from image_automation.daemon.metrics import Metrics
from image_automation.daemon.plan import DaemonConfig, build_config
from image_automation.daemon.scheduler import Job, WorkQueue
from image_automation.daemon.service import Daemon
from image_automation.engine.automations import PlanContext, RepoTarget, plan_automations
from tests.unit.daemon.fakes import FakeEngine

REPO_URL = "https://github.com/org/fleet.git"


def automation(name: str, push: str | None) -> str:
    push_line = f"\n    push: {{branch: {push}}}" if push else ""
    return f"""\
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {{name: {name}, namespace: apps}}
spec:
  interval: 10m
  sourceRef: {{kind: GitRepository, name: fleet}}
  git:
    commit: {{author: {{email: bot@example.test}}}}{push_line}
"""


FORGE_FILES = (
    """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: app, namespace: apps}
spec: {image: registry.local/team/app, interval: 5m}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: app, namespace: apps}
spec:
  imageRepositoryRef: {name: app}
  policy: {semver: {range: ">=1.0.0"}}
"""
    + automation("web", "image-updates")
    + automation("api", "api-updates")
    + automation("direct", None)
)


def forge_config(repo_url: str = REPO_URL) -> DaemonConfig:
    """Three automations on one repository: two push a branch of their own, one pushes main."""
    loaded = load_bytes(FORGE_FILES.encode(), file="fleet.yaml")
    plans = plan_automations(loaded, PlanContext(repo=RepoTarget(repo_url, "main")))
    assert plans.errors == []
    return build_config(loaded, plans=plans.plans, default_interval=60)


class RecordingQueue(WorkQueue):
    """A work queue that remembers every key submitted to it."""

    def __init__(self) -> None:
        super().__init__()
        self.submitted: list[str] = []

    def submit(self, key: str, job: Job) -> asyncio.Task[None] | None:
        self.submitted.append(key)
        return super().submit(key, job)


def merged(head: str, repository: str = "org/fleet") -> ForgeEvent:
    return ForgeEvent("github", repository, 7, head, "main", PullRequestAction.MERGED)


def test_the_plan_records_where_each_automation_pushes() -> None:
    assert forge_config().push_targets == {
        "apps/web": PushTarget(REPO_URL, "image-updates"),
        "apps/api": PushTarget(REPO_URL, "api-updates"),
        "apps/direct": PushTarget(REPO_URL, None),
    }


async def test_a_forge_event_queues_a_reconcile_of_exactly_the_matching_automation() -> None:
    queue = RecordingQueue()
    daemon = Daemon(engine=FakeEngine(forge_config()), metrics=Metrics(), queue=queue)
    await daemon.refresh()
    assert await daemon.on_forge_event(merged("image-updates-apps-app")) == 1
    assert queue.submitted == ["reconcile:apps/web"]  # a reconcile only: no new tags to scan
    assert await daemon.on_forge_event(merged("main")) == 0
    assert await daemon.on_forge_event(merged("api-updates", "org/other")) == 0
    assert queue.submitted == ["reconcile:apps/web"]
    await queue.drain(grace=5)


async def test_before_the_files_are_read_a_forge_event_wakes_nothing() -> None:
    queue = RecordingQueue()
    daemon = Daemon(engine=FakeEngine(forge_config()), metrics=Metrics(), queue=queue)
    assert await daemon.on_forge_event(merged("image-updates")) == 0
    assert queue.submitted == []


async def test_a_forge_secret_is_the_token_file_of_that_name(tmp_path: Path) -> None:
    (tmp_path / "forge-hook").mkdir()
    (tmp_path / "forge-hook" / "token").write_text("forge-Secr3t-value\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "token").write_text("")
    (tmp_path / "git").mkdir()
    (tmp_path / "git" / "password").write_text("git-password")
    daemon = Daemon(engine=FakeEngine(forge_config()), metrics=Metrics(), queue=WorkQueue(),
                    secrets_dir=tmp_path)  # fmt: skip
    assert await daemon.forge_secret("forge-hook") == "forge-Secr3t-value"
    for name in ["empty", "git", "missing", "..", ".", "forge-hook/../forge-hook", "a\x00b",
                 "-rf", "x" * 300, "", "forge hook"]:  # fmt: skip
        assert await daemon.forge_secret(name) is None, name


async def test_a_rotated_forge_secret_applies_to_the_next_request(tmp_path: Path) -> None:
    (tmp_path / "forge-hook").mkdir()
    token = tmp_path / "forge-hook" / "token"
    token.write_text("first-Secr3t")
    daemon = Daemon(engine=FakeEngine(forge_config()), metrics=Metrics(), queue=WorkQueue(),
                    secrets_dir=tmp_path)  # fmt: skip
    assert await daemon.forge_secret("forge-hook") == "first-Secr3t"
    token.write_text("second-Secr3t")
    assert await daemon.forge_secret("forge-hook") == "second-Secr3t"


async def test_without_a_secrets_dir_there_is_no_forge_secret() -> None:
    daemon = Daemon(engine=FakeEngine(forge_config()), metrics=Metrics(), queue=WorkQueue())
    assert await daemon.forge_secret("forge-hook") is None


NATIVE_PR = """\
apiVersion: image-automation.io/v1alpha1
kind: ImageAutomation
metadata: {name: native, namespace: apps}
spec:
  commit: {author: {email: bot@example.test}}
  pullRequest: {grouping: policy}
"""


def test_a_native_pull_request_automation_is_woken_for_its_own_head_branch() -> None:
    loaded = load_bytes((FORGE_FILES + "---\n" + NATIVE_PR).encode(), file="fleet.yaml")
    plans = plan_automations(loaded, PlanContext(repo=RepoTarget(REPO_URL, "main")))
    assert plans.errors == []
    config = build_config(loaded, plans=plans.plans, default_interval=60)
    # No spec.git.push.branch: the head is the default image-automation/<name>.
    target = config.push_targets["ImageAutomation/apps/native"]
    assert target == PushTarget(REPO_URL, "image-automation/native")


PROMOTION = """\
---
apiVersion: image-automation.io/v1alpha1
kind: Promotion
metadata: {name: app, namespace: apps}
spec:
  interval: 7m
  policies: [app]
  pullRequest: {provider: github}
  stages:
    - {name: dev, path: clusters/dev}
    - {name: prod, branch: prod, path: clusters/prod}
"""


def promotion_config() -> DaemonConfig:
    from image_automation.config.resolving import resolve
    from image_automation.engine.promotion import plan_promotions

    loaded = load_bytes((FORGE_FILES + PROMOTION).encode(), file="fleet.yaml")
    context = PlanContext(repo=RepoTarget(REPO_URL, "main"))
    promotions = plan_promotions(loaded, context, resolve(loaded).policies)
    assert promotions.errors == []
    plans = plan_automations(loaded, context)
    return build_config(loaded, plans=plans.plans, default_interval=60,
                        promotions=promotions.plans)  # fmt: skip


def test_a_promotion_is_scheduled_on_its_interval_with_its_stages_places() -> None:
    config = promotion_config()
    assert config.automations["Promotion/apps/app"] == 420
    assert config.uses["Promotion/apps/app"] == frozenset()  # no scan to wait for
    assert config.promotions["Promotion/apps/app"] == ((REPO_URL, "main"), (REPO_URL, "prod"))


async def test_a_merge_push_or_status_in_a_stage_wakes_its_promotion() -> None:
    queue = RecordingQueue()
    daemon = Daemon(engine=FakeEngine(promotion_config()), metrics=Metrics(), queue=queue)
    await daemon.refresh()
    pushed = ForgeEvent(
        "github", "org/fleet", 0, "", "prod", PullRequestAction.PUSHED, sha="a" * 40
    )
    assert await daemon.on_forge_event(pushed) == 1
    assert queue.submitted == ["reconcile:Promotion/apps/app"]
    await queue.drain(grace=5)
    queue = RecordingQueue()
    daemon = Daemon(engine=FakeEngine(promotion_config()), metrics=Metrics(), queue=queue)
    await daemon.refresh()
    assert await daemon.on_forge_event(merged("image-updates")) == 2  # a merge into main
    assert queue.submitted == ["reconcile:apps/web", "reconcile:Promotion/apps/app"]
    other = ForgeEvent(
        "github", "org/fleet", 0, "", "feature", PullRequestAction.PUSHED, sha="a" * 40
    )
    assert await daemon.on_forge_event(other) == 0
    await queue.drain(grace=5)
