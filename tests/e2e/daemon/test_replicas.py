"""Two replicas on one PostgreSQL: who holds what, webhooks reaching either, a takeover.

Timers are an hour long here, so every change on a remote is the work of a webhook, a
takeover or a start-up; waits are bounded polling.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.daemon.harness import wait_for
from tests.e2e.daemon.replica_fleet import Proxy, Replica, ReplicaFleet
from tests.integration.git_fixtures import HttpGitServer
from tests.integration.postgres_server import PostgresServer
from tests.integration.registry_fixtures import RegistryServer

pytestmark = pytest.mark.integration


@pytest.fixture
def pair(
    tmp_path: Path,
    git_server_root: Path,
    http_git_server: HttpGitServer,
    registry_anonymous: RegistryServer,
    postgres_server: PostgresServer,
    postgres_database: str,
) -> Iterator[ReplicaFleet]:
    proxy = Proxy(registry_anonymous.url)
    fleet = ReplicaFleet(
        tmp_path, http_git_server, registry_anonymous, proxy,
        state=postgres_server.url(postgres_database), repos=2, interval="1h",
    )  # fmt: skip
    try:
        fleet.setup(git_server_root)
        yield fleet
    finally:
        if fleet.fleet is not None:
            fleet.fleet.close()
        proxy.close()


def holding(fleet: ReplicaFleet, replica: Replica) -> list[int]:
    """The target repositories ``replica`` says it holds (its /readyz)."""
    status, text = fleet.readyz(replica)
    if status != 200:
        return []
    return [i for i in range(len(fleet.targets)) if f"-g{i} token" in text]


def split(fleet: ReplicaFleet, a: Replica, b: Replica) -> tuple[int, int]:
    """Wait until each replica holds one repository; (a's, b's)."""
    wait_for(lambda: len(holding(fleet, a)) == 1 and len(holding(fleet, b)) == 1,
             "the replicas to hold one repository each", limit=90)  # fmt: skip
    return holding(fleet, a)[0], holding(fleet, b)[0]


def test_a_webhook_to_either_replica_updates_every_repository_once(pair: ReplicaFleet) -> None:
    a, b = pair.start(0), pair.start(1)
    mine, theirs = split(pair, a, b)
    status, text = pair.readyz(a)
    assert status == 200 and text.startswith("ready\nreplica ") and "(2 live): holds 1 of 2" in text
    assert pair.metric(a, "image_automation_leases_held", kind="git") == 1
    assert pair.metric(b, "image_automation_replicas") == 2
    heads = [t.head() for t in pair.targets]

    pair.push(0, "1.0.1")  # img0 is used by both namespaces, so by both repositories
    assert pair.hook(a, 0) == 202
    wait_for(lambda: all(pair.deployed(i)[0] == "1.0.1" for i in (0, 1)),
             "both repositories to take 1.0.1", limit=60)  # fmt: skip
    for i, target in enumerate(pair.targets):  # one commit each, by its holder
        assert target.commits()[1].sha == heads[i]
    assert pair.metric(a, "image_automation_handoffs_total") == 1  # theirs, via the store
    assert pair.metric(b, "image_automation_handoffs_total") == 0
    assert pair.metric(a, "image_automation_commits_total",
                       automation=f"ImageAutomation/ns{mine}/deliver") == 1  # fmt: skip
    assert pair.metric(b, "image_automation_commits_total",
                       automation=f"ImageAutomation/ns{theirs}/deliver") == 1  # fmt: skip
    scans = pair.proxy.tag_lists()[f"{pair.prefix}/img0"]
    assert pair.metric(b, "image_automation_scans_total",
                       repository=f"{pair.proxy.host}/{pair.prefix}/img0") <= 1  # fmt: skip
    assert scans <= 2  # start-up (one replica, by its slot) and the webhook's, no more


def test_a_killed_replicas_repository_is_taken_over_and_its_work_done(pair: ReplicaFleet) -> None:
    a, b = pair.start(0), pair.start(1)
    _, theirs = split(pair, a, b)
    pair.kill(b)
    pair.push(1, "1.0.1")  # img1 is used by both repositories
    assert pair.hook(a, 1) == 202  # reaches the survivor only
    wait_for(lambda: holding(pair, a) == [0, 1], "the survivor to take the repository over",
             limit=60)  # fmt: skip
    wait_for(lambda: all(pair.deployed(i)[1] == "1.0.1" for i in (0, 1)),
             "both repositories to take 1.0.1", limit=60)  # fmt: skip
    assert theirs in holding(pair, a)
    assert pair.metric(a, "image_automation_leases_held", kind="git") == 2
    assert pair.metric(a, "image_automation_replicas") == 1
