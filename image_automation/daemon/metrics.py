"""Prometheus metrics of the daemon, in a registry of its own (tests and embedders get a fresh one).

Names follow Prometheus conventions: ``image_automation_`` prefix, ``_total`` for counters,
``_seconds`` for durations, base units, an ``_info`` metric for the selected version.
Labels are bounded by configuration (repositories, policies, automations, receivers, registry
hosts) or by a fixed list (forge providers); nothing from a request (paths, bodies) ever
becomes a label value. The registry also holds the standard ``process_*`` and ``python_info``
collectors and a ``build_info`` gauge. The ``_created`` series prometheus-client adds to
counters and histograms are left out of the page: nobody alerts on them, and they double the
series count. They are filtered when the page is rendered rather than switched off
process-wide, so other registries are untouched.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import Metric

from image_automation import __version__

PREFIX = "image_automation"
CONTENT_TYPE = CONTENT_TYPE_LATEST
_DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class Metrics:
    """Every metric the daemon exports. One instance per process (or per test)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.scans = Counter(
            f"{PREFIX}_scans_total", "Repository scans attempted.", ["repository"], registry=r
        )
        self.scan_errors = Counter(
            f"{PREFIX}_scan_errors_total", "Repository scans that failed.", ["repository"],
            registry=r,
        )  # fmt: skip
        self.scan_duration = Histogram(
            f"{PREFIX}_scan_duration_seconds", "Time to scan one repository.", ["repository"],
            buckets=_DURATION_BUCKETS, registry=r,
        )  # fmt: skip
        self.tags = Gauge(
            f"{PREFIX}_repository_tags", "Tags stored for a repository after its last good scan.",
            ["repository"], registry=r,
        )  # fmt: skip
        self.registry_requests = Counter(
            f"{PREFIX}_registry_requests_total", "HTTP requests to registries.",
            ["host", "status"], registry=r,
        )  # fmt: skip
        self.selected = Info(
            f"{PREFIX}_policy_selected", "The version a policy selected.", ["policy"], registry=r
        )
        self.policy_held = Gauge(
            f"{PREFIX}_policy_held",
            "1 while a policy's value is held back (a human's rollback, a window or freeze).",
            ["policy"], registry=r,
        )  # fmt: skip
        self.reconciles = Counter(
            f"{PREFIX}_reconciles_total", "Reconcile runs by outcome.", ["automation", "result"],
            registry=r,
        )  # fmt: skip
        self.reconcile_duration = Histogram(
            f"{PREFIX}_reconcile_duration_seconds", "Time of one reconcile run.", ["automation"],
            buckets=_DURATION_BUCKETS, registry=r,
        )  # fmt: skip
        self.commits = Counter(
            f"{PREFIX}_commits_total", "Commits pushed.", ["automation"], registry=r
        )
        self.push_retries = Counter(
            f"{PREFIX}_push_retries_total", "Pushes retried because the remote moved.",
            ["automation"], registry=r,
        )  # fmt: skip
        self.pull_requests = Counter(
            f"{PREFIX}_pull_requests_total",
            "What reconciles did to pull requests (opened, updated, unchanged, closed, "
            "deferred, held).",
            ["automation", "action"], registry=r,
        )  # fmt: skip
        self.webhooks = Counter(
            f"{PREFIX}_webhook_requests_total", "Webhook requests by receiver and verdict.",
            ["receiver", "result"], registry=r,
        )  # fmt: skip
        self.forge_webhooks = Counter(
            f"{PREFIX}_forge_webhook_requests_total",
            "Forge (pull request) webhook requests by provider and verdict.",
            ["provider", "result"], registry=r,
        )  # fmt: skip
        self.config_errors = Gauge(
            f"{PREFIX}_config_errors", "Problems found in policy files at the last read.",
            registry=r,
        )  # fmt: skip
        self.queue_depth = Gauge(
            f"{PREFIX}_queued_jobs", "Scan and reconcile jobs waiting or running.", registry=r
        )
        self.file_errors = Counter(
            f"{PREFIX}_file_errors_total",
            "Files a reconcile could not edit while the rest was committed.", ["automation"],
            registry=r,
        )  # fmt: skip
        self.last_success = Gauge(
            f"{PREFIX}_last_success_timestamp_seconds",
            "Unix time of the last reconcile that did not fail (alert when it grows old).",
            ["automation"], registry=r,
        )  # fmt: skip
        self.events = Counter(
            f"{PREFIX}_events_total", "Events emitted (pushes, pull requests, holds, failures).",
            ["kind"], registry=r,
        )  # fmt: skip
        self.events_dropped = Counter(
            f"{PREFIX}_events_dropped_total",
            "Events a subscriber's full queue dropped (the state store, each alert).",
            ["subscriber"], registry=r,
        )  # fmt: skip
        self.notifications = Counter(
            f"{PREFIX}_notifications_total",
            "Notifications by provider and result (sent, failed after retries, dropped).",
            ["provider", "result"], registry=r,
        )  # fmt: skip
        self.leases_held = Gauge(
            f"{PREFIX}_leases_held", "Leases this replica holds (git: repositories it works on).",
            ["kind"], registry=r,
        )  # fmt: skip
        self.replicas = Gauge(
            f"{PREFIX}_replicas", "Replicas alive in the lease table, this one included.",
            registry=r,
        )  # fmt: skip
        self.lease_changes = Counter(
            f"{PREFIX}_lease_changes_total",
            "Leases this replica gained, lost (expired or taken) or gave back.",
            ["kind", "change"], registry=r,
        )  # fmt: skip
        self.handoffs = Counter(
            f"{PREFIX}_handoffs_total",
            "Reconciles handed to the replica holding the repository (webhooks).", registry=r,
        )  # fmt: skip
        self.scans_skipped = Counter(
            f"{PREFIX}_scans_skipped_total",
            "Scheduled scans left out: another replica scanned this interval.", ["repository"],
            registry=r,
        )  # fmt: skip
        self.build_info = Gauge(
            f"{PREFIX}_build_info", "Always 1; the running version in a label.", ["version"],
            registry=r,
        )  # fmt: skip
        self.build_info.labels(version=__version__).set(1)
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)

    def render(self) -> bytes:
        """The exposition text of every metric, without ``_created`` series."""
        return generate_latest(_WithoutCreated(self.registry))

    def record_selection(self, policy: str, *, image: str, tag: str | None) -> None:
        self.selected.labels(policy=policy).info({"image": image, "tag": tag or ""})


class _WithoutCreated:
    """A view of a registry whose counters and histograms lack their ``_created`` samples."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for metric in self._registry.collect():
            created = f"{metric.name}_created"
            metric.samples = [s for s in metric.samples if s.name != created]
            yield metric


__all__ = ["CONTENT_TYPE", "PREFIX", "Metrics"]
