"""What a reconcile leaves in metrics and logs: file errors apart, warnings once, commit fields."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from image_automation.daemon.logs import configure_logging
from image_automation.daemon.metrics import Metrics
from image_automation.daemon.scheduler import WorkQueue
from image_automation.daemon.service import Daemon, ReconcileResult
from image_automation.domain import Change
from tests.unit.daemon.fakes import FakeEngine
from tests.unit.daemon.test_service import config

SHA = "0123456789abcdef0123456789abcdef01234567"
CHANGE = Change(
    file="deploy/app.yaml", line=9, api_version="apps/v1", kind="Deployment", namespace="prod",
    name="app", setter='{"$imagepolicy": "apps:app"}',
    old="registry.local/team/app:1.0.0", new="registry.local/team/app:1.1.0",
)  # fmt: skip
UNKNOWN = "deploy/other.yaml:3: unknown policy apps:nope"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("json", stream=stream)
    yield stream
    root = logging.getLogger("image_automation")
    for handler in [h for h in root.handlers if getattr(h, "_image_automation", False)]:
        root.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def run(result: ReconcileResult, times: int = 1) -> tuple[Daemon, Metrics]:
    engine = FakeEngine(config())
    engine.result = lambda a: result
    metrics = Metrics()
    daemon = Daemon(engine=engine, metrics=metrics, queue=WorkQueue())
    for _ in range(times):
        await daemon.reconcile("apps/auto")
    return daemon, metrics


async def test_a_commit_with_a_file_error_counts_as_committed_and_the_file_error_apart(
    json_log: io.StringIO,
) -> None:
    result = ReconcileResult(
        commits=1, commit=SHA, changes=(CHANGE,), file_errors=("deploy/bad.yaml:2: invalid YAML",)
    )
    _, metrics = await run(result)
    value = metrics.registry.get_sample_value
    auto = {"automation": "apps/auto"}
    assert value("image_automation_reconciles_total", {**auto, "result": "committed"}) == 1
    assert value("image_automation_reconciles_total", {**auto, "result": "error"}) is None
    assert value("image_automation_file_errors_total", auto) == 1
    assert (value("image_automation_last_success_timestamp_seconds", auto) or 0) > 0
    messages = [str(line["message"]) for line in lines(json_log)]
    assert "reconciled: committed, 1 commit(s), 1 file error" in messages
    assert not any("reconcile failed" in m for m in messages)


async def test_a_failed_reconcile_leaves_the_last_success_time_alone() -> None:
    _, metrics = await run(ReconcileResult(error="push failed: remote hung up"))
    value = metrics.registry.get_sample_value
    auto = {"automation": "apps/auto"}
    assert value("image_automation_reconciles_total", {**auto, "result": "error"}) == 1
    assert value("image_automation_last_success_timestamp_seconds", auto) is None


async def test_update_warnings_are_logged_once_per_change_of_the_set(
    json_log: io.StringIO,
) -> None:
    engine = FakeEngine(config())
    warnings: tuple[str, ...] = (UNKNOWN,)
    engine.result = lambda a: ReconcileResult(warnings=warnings)
    daemon = Daemon(engine=engine, metrics=Metrics(), queue=WorkQueue())
    for _ in range(3):
        await daemon.reconcile("apps/auto")
    warnings = (UNKNOWN, "deploy/x.yaml:1: marker on a block scalar; ignored")
    await daemon.reconcile("apps/auto")
    logged = [line for line in lines(json_log) if str(line["message"]).startswith("update:")]
    assert [line["message"] for line in logged] == [
        f"update: {UNKNOWN}",
        f"update: {UNKNOWN}",
        "update: deploy/x.yaml:1: marker on a block scalar; ignored",
    ]
    assert all(line["automation"] == "apps/auto" for line in logged)
    assert {line["level"] for line in logged} == {"warning"}
    # The policy files' own problems (a receiver without its token here) are logged once too.
    problems = [line for line in lines(json_log) if "hub-token" in str(line["message"])]
    assert len(problems) == 1


async def test_the_commit_and_each_change_are_structured_fields(json_log: io.StringIO) -> None:
    await run(ReconcileResult(commits=1, commit=SHA, changes=(CHANGE,)))
    [committed] = [line for line in lines(json_log) if line["message"] == f"committed {SHA[:12]}"]
    assert committed["commit"] == SHA
    [changed] = [line for line in lines(json_log) if "file" in line]
    assert (changed["commit"], changed["file"], changed["old"], changed["new"]) == (
        SHA, CHANGE.file, CHANGE.old, CHANGE.new)  # fmt: skip
    assert changed["automation"] == "apps/auto"


def test_the_metrics_page_has_process_and_build_info_and_no_created_series() -> None:
    metrics = Metrics()
    metrics.reconciles.labels(automation="apps/auto", result="committed").inc()
    metrics.scan_duration.labels(repository="r").observe(0.1)
    metrics.last_success.labels(automation="apps/auto").set(1.0)
    text = metrics.render().decode()
    names = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes", "python_info"} <= names
    assert "image_automation_last_success_timestamp_seconds" in names
    assert 'image_automation_build_info{version="' in text
    assert "_created" not in text
