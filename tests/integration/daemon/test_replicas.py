"""Two replicas' engines on one real PostgreSQL, a real git remote and a real registry.

The fencing test plays the failure leases exist for: replica A starts a reconcile under its
lease, stalls past its expiry (a long pause, a partition), replica B takes the repository
over and pushes; A then reaches its push with a stale change and must not push it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from image_automation.daemon.metrics import Metrics
from image_automation.daemon.plan import DaemonConfig
from image_automation.daemon.replicas import GIT, Replicas, ReplicaSettings
from image_automation.daemon.wiring import RepoEngine, RepoSettings
from image_automation.errors import LeaseLost
from tests.e2e.daemon.harness import policy_files
from tests.integration.git_fixtures import GitRemote
from tests.integration.postgres_server import PostgresServer
from tests.integration.registry_fixtures import RegistryServer, push_image

pytestmark = pytest.mark.integration
AUTOMATION = "flux-system/fleet"


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + 30
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def ignore(config: DaemonConfig) -> None:
    del config


async def _nothing() -> None:
    return None


async def test_a_replica_that_lost_its_lease_mid_reconcile_pushes_nothing(
    tmp_path: Path,
    git_remote: GitRemote,
    registry_anonymous: RegistryServer,
    postgres_server: PostgresServer,
    postgres_database: str,
) -> None:
    host, image = registry_anonymous.host, f"team/fenced-{tmp_path.name[-8:]}"
    with registry_anonymous.push_client() as client:
        push_image(client, registry_anonymous.url, image, ["1.0.0", "1.1.0"])
    git_remote.commit_files(policy_files(host, scan="1h", reconcile="1h", name=image), "fleet")
    seed = git_remote.head()
    url = postgres_server.url(postgres_database)
    short = ReplicaSettings(lease_duration=1.0)

    def engine(name: str) -> RepoEngine:
        settings = RepoSettings(repo=git_remote.url, data_dir=tmp_path / name, state=url,
                                replica=name)  # fmt: skip
        return RepoEngine(settings, metrics=Metrics())

    async with engine("a") as a, engine("b") as b:
        config = await a.load()
        one = Replicas(a.coordinator, home=git_remote.url, metrics=Metrics(), settings=short)
        two = Replicas(b.coordinator, home=git_remote.url, metrics=Metrics(), settings=short)
        one.update(config)
        two.update(config)
        await one.round()
        lease = one.lease_of(AUTOMATION)
        assert lease is not None and lease.kind == GIT
        assert (await a.scan(f"{host}/{image}")).ok

        async def stall_past_the_lease() -> None:
            # A stops renewing: its lease expires and B, alive, takes the repository.
            async def b_holds() -> bool:
                await two.round()
                return two.owns(AUTOMATION)

            await until(b_holds, "replica b to take the repository over")

        with pytest.raises(LeaseLost, match="no longer this replica's"):
            await a.reconcile(AUTOMATION, ignore, stall_past_the_lease, one.fence(lease))
        assert git_remote.head() == seed  # A's change, made after it lost the lease: not pushed

        taken = two.lease_of(AUTOMATION)
        assert taken is not None and taken.token > lease.token
        # B keeps its lease renewed while it works, as the daemon does (the lease is short).
        stop = asyncio.Event()
        rounds = asyncio.create_task(two.run(stop))
        try:
            result = await b.reconcile(AUTOMATION, ignore, _nothing, two.fence(taken))
        finally:
            stop.set()
            await rounds
        assert result is not None and result.commits == 1, result

    commits = git_remote.commits()
    assert commits[1].sha == seed  # one commit on the seed: B's
    assert f"{image}:1.1.0" in git_remote.read("deploy/app.yaml")
