"""Delivery to local services that check every payload against the documented schema; retries
and rate limits through the fault-injecting proxy; filters; a full queue drops, never blocks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from image_automation.domain.events import Event, InvolvedObject, make_event
from image_automation.notify import (
    DeliveryPolicy,
    Notifier,
    NotifySettings,
    ProviderSecrets,
    ProviderSettings,
    RateLimit,
    Rule,
    Source,
)
from tests.integration.fault_proxy import Fault, FaultProxy
from tests.integration.notify.receiver import Receiver

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
APPS = InvolvedObject(kind="ImageUpdateAutomation", namespace="flux-system", name="apps")
SHA = "d" * 40
KEY = "hmac-Secr3t-key"
FAST = DeliveryPolicy(attempts=4, backoff_s=0.01, backoff_max_s=0.05, queue_size=50, drain_s=30)
QUICK = RateLimit(per_minute=6000, burst=100)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = await Receiver(hmac_key=KEY).start()
    try:
        yield server
    finally:
        await server.stop()


def event(kind: str = "commit_pushed", message: str = "pushed d1: ns:web 1.0 → 1.1") -> Event:
    return make_event(kind, involved=APPS, message=message, now=T0,  # type: ignore[arg-type]
                      metadata={"commit": SHA})  # fmt: skip


def provider(name: str, kind: str, address: str, **extra: object) -> ProviderSettings:
    fields: dict[str, object] = {"key": f"flux-system/{name}", "type": kind, "address": address,
                                 "secrets": ProviderSecrets(token=KEY), "rate": QUICK}  # fmt: skip
    fields.update(extra)
    return ProviderSettings(**fields)  # type: ignore[arg-type]


def everything(*providers: ProviderSettings, **rule: object) -> NotifySettings:
    rules = tuple(Rule(f"r-{p.key}", p.key, **rule) for p in providers)  # type: ignore[arg-type]
    return NotifySettings(providers, rules)


async def test_every_provider_type_sends_a_payload_its_service_accepts(receiver: Receiver) -> None:
    url = receiver.url
    providers = (
        provider("slack", "slack", f"{url}/slack", channel="#ops"),
        provider("teams", "msteams", f"{url}/teams"),
        provider("discord", "discord", f"{url}/discord"),
        provider("hook", "generic", f"{url}/plain", secrets=ProviderSecrets()),
        provider("signed", "generic-hmac", f"{url}/hook"),
        provider("pd", "pagerduty", f"{url}/pd", channel="routing-key"),
        provider("gh", "github", f"{url}/org/repo"),
        provider("gl", "gitlab", f"{url}/group/proj"),
    )
    async with Notifier(policy=FAST) as notifier:
        notifier.configure(everything(*providers))
        for kind in ("commit_pushed", "failure", "failure_resolved"):
            await notifier.handle(event(kind))
    assert receiver.rejected == []
    paths = receiver.paths()
    assert paths.count("/slack") == paths.count("/teams") == paths.count("/discord") == 3
    assert paths.count("/hook") == paths.count("/plain") == 3  # generic-hmac: signature checked
    assert paths.count("/pd/v2/change/enqueue") == 1
    actions = [r.body["event_action"] for r in receiver.received if r.path == "/pd/v2/enqueue"]
    assert actions == ["trigger", "resolve"]  # in order, one dedup_key
    assert f"/api/v3/repos/org/repo/statuses/{SHA}" in paths  # only the push has a commit
    assert f"/api/v4/projects/group%2Fproj/statuses/{SHA}" in paths
    assert len(paths) == 3 * 3 + 6 + 3 + 2
    assert notifier.counts.get("flux-system/pd", "sent") == 3


@pytest.fixture
async def proxy(receiver: Receiver) -> AsyncIterator[FaultProxy]:
    server = await FaultProxy(receiver.url).start()
    try:
        yield server
    finally:
        await server.stop()


async def test_server_errors_and_429_are_retried_until_delivered(
    receiver: Receiver, proxy: FaultProxy
) -> None:
    proxy.add(Fault("status", times=2, path="/hook", status=503))
    proxy.add(Fault("retry_after", times=1, path="/hook", retry_after="0"))
    async with Notifier(policy=FAST) as notifier:
        notifier.configure(everything(provider("signed", "generic-hmac", f"{proxy.url}/hook")))
        await notifier.handle(event())
    assert len(proxy.seen) == 4 and len(receiver.received) == 1
    assert notifier.counts.get("flux-system/signed", "sent") == 1


async def test_after_the_last_attempt_it_fails_counted_and_the_url_is_never_logged(
    receiver: Receiver, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    proxy.add(Fault("status", times=100, path="/hook", status=502))
    results: list[tuple[str, str]] = []
    # Our loggers only: the daemon sends nothing else anywhere (httpx's own INFO line with
    # the URL never reaches a handler of ours; docs/notifications.md says so).
    caplog.set_level(logging.DEBUG, logger="image_automation")
    secret_path = "/hook/T0001/B0002/WebhookSecretPath"
    async with Notifier(policy=FAST, on_result=lambda p, r: results.append((p, r))) as notifier:
        notifier.configure(everything(provider("signed", "generic-hmac", proxy.url + secret_path)))
        await notifier.handle(event())
    assert results == [("flux-system/signed", "failed")]
    assert len(proxy.seen) == FAST.attempts and receiver.received == []
    assert "gave up after 4 attempts" in caplog.text
    ours = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith("image_automation")
    )
    assert "gave up" in ours
    assert "WebhookSecretPath" not in ours and KEY not in ours


@pytest.mark.parametrize("status", [400, 401, 404])
async def test_a_refusal_is_not_retried(receiver: Receiver, proxy: FaultProxy, status: int) -> None:
    proxy.add(Fault("status", times=100, path="/hook", status=status))
    async with Notifier(policy=FAST) as notifier:
        notifier.configure(everything(provider("signed", "generic-hmac", f"{proxy.url}/hook")))
        await notifier.handle(event())
    assert len(proxy.seen) == 1
    assert notifier.counts.get("flux-system/signed", "failed") == 1


async def test_a_dropped_connection_is_retried(receiver: Receiver, proxy: FaultProxy) -> None:
    proxy.add(Fault("reset", times=1, path="/hook"))
    async with Notifier(policy=FAST) as notifier:
        notifier.configure(everything(provider("signed", "generic-hmac", f"{proxy.url}/hook")))
        await notifier.handle(event())
    assert len(receiver.received) == 1


async def test_the_rate_limit_keeps_to_the_services_own_limit(receiver: Receiver) -> None:
    receiver.min_interval = 0.02  # the service answers 429 to anything sooner
    limited = provider("hook", "generic", f"{receiver.url}/plain", secrets=ProviderSecrets(),
                       rate=RateLimit(per_minute=600, burst=1))  # one every 0.1 s  # fmt: skip
    async with Notifier(policy=FAST) as notifier:
        notifier.configure(everything(limited))
        for i in range(6):
            await notifier.handle(event(message=f"m{i}"))
    assert receiver.too_soon == 0
    assert [r.body["message"] for r in receiver.received] == [f"m{i}" for i in range(6)]


async def test_without_the_limit_the_same_service_would_have_refused(receiver: Receiver) -> None:
    receiver.min_interval = 0.02
    unlimited = provider("hook", "generic", f"{receiver.url}/plain", secrets=ProviderSecrets())
    async with Notifier(policy=FAST) as notifier:
        notifier.configure(everything(unlimited))
        for i in range(6):
            await notifier.handle(event(message=f"m{i}"))
    assert receiver.too_soon > 0  # the check above can fail


async def test_a_full_queue_drops_and_handle_never_waits(receiver: Receiver) -> None:
    receiver.hold = asyncio.Event()
    policy = DeliveryPolicy(attempts=1, queue_size=2, drain_s=30)
    async with Notifier(policy=policy) as notifier:
        notifier.configure(everything(provider("hook", "generic", f"{receiver.url}/plain",
                                               secrets=ProviderSecrets())))  # fmt: skip
        await notifier.handle(event(message="m0"))
        await asyncio.sleep(0.05)  # the worker takes m0 and waits on the held service
        for i in range(1, 6):
            await notifier.handle(event(message=f"m{i}"))  # returns at once
        assert notifier.counts.get("flux-system/hook", "dropped") == 3
        receiver.hold.set()
    assert [r.body["message"] for r in receiver.received] == ["m0", "m1", "m2"]


async def test_an_alert_with_severity_and_exclusion_sends_only_what_it_allows(
    receiver: Receiver,
) -> None:
    hook = provider("hook", "generic", f"{receiver.url}/plain", secrets=ProviderSecrets())
    rule = Rule("Alert/flux-system/oncall", hook.key, severity="error",
                sources=(Source("ImageUpdateAutomation", "*", "flux-system"),),
                exclude=("timed out",), metadata={"cluster": "prod"})  # fmt: skip
    async with Notifier(policy=FAST) as notifier:
        notifier.configure(NotifySettings((hook,), (rule,)))
        await notifier.handle(event("commit_pushed"))
        await notifier.handle(event("failure", "push rejected"))
        await notifier.handle(event("failure", "fetch timed out"))
    assert [r.body["message"] for r in receiver.received] == ["push rejected"]
    assert receiver.received[0].body["metadata"]["cluster"] == "prod"


async def test_a_removed_provider_stops_and_a_kept_one_takes_new_secrets(
    receiver: Receiver,
) -> None:
    async with Notifier(policy=FAST) as notifier:
        notifier.configure(everything(provider("signed", "generic-hmac", f"{receiver.url}/hook",
                                               secrets=ProviderSecrets(token="old"))))  # fmt: skip
        notifier.configure(everything(provider("signed", "generic-hmac", f"{receiver.url}/hook")))
        await notifier.handle(event())
        notifier.configure(NotifySettings())
        await notifier.handle(event())
    assert len(receiver.received) == 1 and receiver.rejected == []
