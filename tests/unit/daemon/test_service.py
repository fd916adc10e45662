"""Daemon jobs: hooks wake only configured repositories; results become metrics."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from image_automation.config.loading import load_bytes
from image_automation.config.receivers import webhook_path
from image_automation.daemon.metrics import Metrics
from image_automation.daemon.plan import DaemonConfig, build_config
from image_automation.daemon.scheduler import WorkQueue
from image_automation.daemon.service import Daemon, ReconcileResult, build_hooks
from image_automation.engine.automations import PlanContext, RepoTarget, plan_automations
from tests.unit.daemon.fakes import FakeEngine
from tests.unit.daemon.test_scheduler import until

FILES = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: app, namespace: apps}
spec: {image: registry.local/team/app, interval: 5m}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: app-again, namespace: apps}
spec: {image: registry.local/team/app, interval: 1m}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: other, namespace: apps}
spec: {image: registry.local/team/other, interval: 5m}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: app, namespace: apps}
spec:
  imageRepositoryRef: {name: app}
  policy: {semver: {range: ">=1.0.0"}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: other, namespace: apps}
spec:
  imageRepositoryRef: {name: other}
  policy: {semver: {range: ">=1.0.0"}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {name: auto, namespace: apps}
spec:
  interval: 10m
  sourceRef: {kind: GitRepository, name: repo}
  git: {commit: {author: {email: bot@example.test}}}
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: hub, namespace: apps}
spec:
  type: dockerhub
  secretRef: {name: hub-token}
  resources:
    - {kind: ImageRepository, name: app}
    - {kind: ImageRepository, name: missing}
"""


def planned(text: str, *, default_interval: float) -> DaemonConfig:
    """``build_config`` on ``text`` with the plans ``run --repo`` makes of its automations."""
    loaded = load_bytes(text.encode(), file="f.yaml")
    context = PlanContext(repo=RepoTarget("https://git.local/fleet.git", "main"))
    plans = plan_automations(loaded, context)
    assert plans.errors == []
    return build_config(loaded, plans=plans.plans, default_interval=default_interval)


def config() -> DaemonConfig:
    return planned(FILES, default_interval=60)


def secrets(tmp_path: Path, token: str = "hub-Secr3t-value") -> Path:
    (tmp_path / "hub-token").mkdir()
    (tmp_path / "hub-token" / "token").write_text(token + "\n")
    return tmp_path


def test_a_repository_shared_by_objects_is_scanned_once_at_the_shortest_interval() -> None:
    cfg = config()
    assert cfg.errors == []
    assert cfg.scans == {"registry.local/team/app": 60.0, "registry.local/team/other": 300.0}
    assert cfg.automations == {"apps/auto": 600.0}
    assert cfg.uses["apps/auto"] == {"registry.local/team/app", "registry.local/team/other"}


def test_without_automations_the_repository_is_one_default_automation() -> None:
    text = FILES.split("---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdate")[0]
    cfg = planned(text, default_interval=42)
    assert cfg.automations == {"default": 42}
    assert cfg.automations_using(["registry.local/team/other"]) == ["default"]


def test_hooks_serve_only_configured_repositories_at_flux_paths(tmp_path: Path) -> None:
    hooks, problems = build_hooks(config(), secrets_dir=secrets(tmp_path))
    digest = hashlib.sha256(b"hub-Secr3t-valuehubapps").hexdigest()
    [hook] = hooks.values()
    assert hook.path == f"/hook/{digest}" == webhook_path("hub-Secr3t-value", name="hub",
                                                          namespace="apps")  # fmt: skip
    assert hook.repositories == ("registry.local/team/app",)
    assert problems == ["receiver apps/hub: ImageRepository/apps/missing is not configured"]
    assert "hub-Secr3t-value" not in repr(hook)


def test_a_receiver_without_a_readable_token_is_not_served(tmp_path: Path) -> None:
    hooks, problems = build_hooks(config(), secrets_dir=tmp_path)
    assert hooks == {}
    assert len(problems) == 1 and "hub-token" in problems[0]


def test_a_receiver_naming_only_kinds_we_do_not_act_on_needs_no_token(tmp_path: Path) -> None:
    flux_only = (
        FILES
        + """---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: git-push, namespace: apps}
spec:
  type: github
  secretRef: {name: git-push-token}
  resources:
    - {kind: GitRepository, name: fleet}
"""
    )
    hooks, problems = build_hooks(
        planned(flux_only, default_interval=60), secrets_dir=secrets(tmp_path)
    )
    assert [hook.receiver for hook in hooks.values()] == ["apps/hub"]
    assert not any("git-push" in problem for problem in problems)


async def test_hook_scans_named_repositories_then_reconciles_their_automations(
    tmp_path: Path,
) -> None:
    engine = FakeEngine(config())
    queue = WorkQueue()
    daemon = Daemon(engine=engine, metrics=Metrics(), queue=queue, secrets_dir=secrets(tmp_path))
    await daemon.refresh()
    [hook] = daemon.hooks.values()
    daemon.on_hook(hook)
    await until(lambda: engine.finished == ["apps/auto"])
    assert engine.scans == ["registry.local/team/app"]
    await queue.drain(grace=5)


async def test_results_become_metrics() -> None:
    engine = FakeEngine(config())
    engine.result = lambda a: ReconcileResult(
        commits=1, push_retries=2, selections={"apps/app": ("registry.local/team/app", "1.2.0")}
    )
    metrics = Metrics()
    daemon = Daemon(engine=engine, metrics=metrics, queue=WorkQueue())
    await daemon.scan("registry.local/team/app")
    await daemon.reconcile("apps/auto")
    value = metrics.registry.get_sample_value
    assert value("image_automation_scans_total", {"repository": "registry.local/team/app"}) == 1
    assert value("image_automation_repository_tags", {"repository": "registry.local/team/app"}) == 3
    assert value("image_automation_commits_total", {"automation": "apps/auto"}) == 1
    assert value("image_automation_push_retries_total", {"automation": "apps/auto"}) == 2
    assert value("image_automation_reconciles_total",
                 {"automation": "apps/auto", "result": "committed"}) == 1  # fmt: skip
    selected = {"policy": "apps/app", "image": "registry.local/team/app", "tag": "1.2.0"}
    assert value("image_automation_policy_selected_info", selected) == 1
    assert value("image_automation_reconcile_duration_seconds_count",
                 {"automation": "apps/auto"}) == 1  # fmt: skip


async def test_every_reconcile_rereads_the_files_and_a_failed_read_keeps_the_last_config() -> None:
    engine = FakeEngine(config())
    metrics = Metrics()
    daemon = Daemon(engine=engine, metrics=metrics, queue=WorkQueue())
    await daemon.reconcile("apps/auto")
    await daemon.reconcile("apps/auto")
    assert engine.loads == 2
    engine.load_error = "remote unreachable"
    await daemon.reconcile("apps/auto")
    assert engine.loads == 3
    assert engine.reconciles == ["apps/auto"] * 2
    assert daemon.config is engine.config
    labels = {"automation": "apps/auto", "result": "error"}
    assert metrics.registry.get_sample_value("image_automation_reconciles_total", labels) == 1


async def test_an_automation_removed_from_the_files_is_not_run() -> None:
    engine = FakeEngine(config())
    daemon = Daemon(engine=engine, metrics=Metrics(), queue=WorkQueue())
    await daemon.reconcile("apps/gone")
    assert engine.loads == 1
    assert engine.reconciles == []


async def test_ready_needs_loaded_policies_and_a_reachable_store() -> None:
    engine = FakeEngine(config())
    daemon = Daemon(engine=engine, metrics=Metrics(), queue=WorkQueue())
    assert await daemon.ready() == "policies not loaded yet"
    await daemon.refresh()
    assert await daemon.ready() is None
    engine.store_error = "database is locked"
    assert await daemon.ready() == "database is locked"
    await asyncio.sleep(0)


async def test_a_hooks_reconcile_runs_alongside_the_scan_but_selects_after_it(
    tmp_path: Path,
) -> None:
    engine = FakeEngine(config())
    queue = WorkQueue()
    daemon = Daemon(engine=engine, metrics=Metrics(), queue=queue, secrets_dir=secrets(tmp_path))
    await daemon.refresh()
    engine.scan_block = asyncio.Event()
    [hook] = daemon.hooks.values()
    daemon.on_hook(hook)
    # The reconcile has re-read the files while the scan is still blocked...
    await until(lambda: engine.loads == 2 and engine.scans == ["registry.local/team/app"])
    assert engine.selected_after == []
    engine.scan_block.set()
    await until(lambda: engine.finished == ["apps/auto"])
    # ...and selected only once the scan was done.
    assert engine.selected_after == [["registry.local/team/app"]]
    await queue.drain(grace=5)


def test_native_automations_are_scheduled_at_their_interval_with_their_policies() -> None:
    text = FILES.split("---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdate")[0]
    native = "apiVersion: image-automation.io/v1alpha1\nkind: ImageAutomation\n"
    native += "metadata: {name: native, namespace: apps}\nspec: {interval: 2m}\n"
    cfg = planned(f"{text}---\n{native}", default_interval=42)
    assert cfg.errors == []
    assert cfg.automations == {"ImageAutomation/apps/native": 120.0}
    assert cfg.uses["ImageAutomation/apps/native"] == {
        "registry.local/team/app",
        "registry.local/team/other",
    }


async def test_a_held_policy_shows_in_the_held_gauge_until_it_is_released() -> None:
    engine = FakeEngine(config())
    selections = {"apps/app": ("registry.local/team/app", "1.1.0")}
    why = "held at 1.1.0: rolled back from 1.2.0 by Jane <j@example.test> in 3f2a9c1d0b7e"
    engine.result = lambda a: ReconcileResult(selections=selections, held={"apps/app": why})
    metrics = Metrics()
    daemon = Daemon(engine=engine, metrics=metrics, queue=WorkQueue())
    await daemon.reconcile("apps/auto")
    value = metrics.registry.get_sample_value
    assert value("image_automation_policy_held", {"policy": "apps/app"}) == 1
    engine.result = lambda a: ReconcileResult(selections=selections)
    await daemon.reconcile("apps/auto")
    assert value("image_automation_policy_held", {"policy": "apps/app"}) == 0
