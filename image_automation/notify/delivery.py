"""Delivery: a queue, a rate limit and retries per provider, behind one non-blocking call.

:meth:`Notifier.handle` is the event bus subscriber: it routes the event through the rules
and puts one item on each matching provider's bounded queue, without waiting for anything. A
worker per provider takes items in order (so PagerDuty sees a trigger before its resolve),
waits for its token bucket, sends, and retries what can succeed later: connection errors,
timeouts, 429 (honouring ``Retry-After``) and 5xx, with exponential backoff. Other answers
fail at once. Every item ends as ``sent``, ``failed`` or ``dropped`` (queue full), reported
through ``on_result`` for the metrics.

Secrets stay out of logs: a provider is named by its ``namespace/name`` and its address by
scheme and host only; error texts are masked with the provider's secrets as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, Self

import httpx

from image_automation.domain import mask_secrets, retry_after_seconds
from image_automation.domain.events import Event
from image_automation.notify.payloads import Context, Outgoing, PayloadError, build
from image_automation.notify.routing import CompiledRule, Labels, route
from image_automation.notify.settings import NotifySettings, ProviderSettings, RateLimit

log = logging.getLogger(__name__)

Result = Literal["sent", "failed", "dropped"]


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """Retries and buffering. Seconds for times."""

    attempts: int = 5
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0
    queue_size: int = 100
    drain_s: float = 10.0


class TokenBucket:
    """``burst`` requests at once, then ``per_minute`` a minute; :meth:`take` waits."""

    def __init__(self, rate: RateLimit, *, clock: Callable[[], float]) -> None:
        self.rate = rate
        self._clock = clock
        self._tokens = float(rate.burst)
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(
            float(self.rate.burst), self._tokens + (now - self._at) * self.rate.per_minute / 60
        )
        self._at = now

    async def take(self) -> None:
        while True:
            self._refill()
            if self._tokens >= 1:
                self._tokens -= 1
                return
            await asyncio.sleep((1 - self._tokens) * 60 / self.rate.per_minute)


@dataclass(slots=True)
class _Channel:
    settings: ProviderSettings
    queue: asyncio.Queue[tuple[Event, Context] | None]
    """``None`` tells the worker to stop once what is queued before it is sent."""
    bucket: TokenBucket
    task: asyncio.Task[None] | None = None


class _Retry(Exception):
    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.delay = delay


class _Fail(Exception):
    pass


@dataclass(slots=True)
class Counts:
    """Per provider key and result; the metrics read the same through ``on_result``."""

    by: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, provider: str, result: str) -> None:
        self.by[(provider, result)] = self.by.get((provider, result), 0) + 1

    def get(self, provider: str, result: str) -> int:
        return self.by.get((provider, result), 0)


class Notifier:
    """Sends events to providers. ``async with Notifier(...)``; :meth:`configure` any time."""

    def __init__(
        self,
        *,
        policy: DeliveryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        on_result: Callable[[str, Result], None] | None = None,
        labels: Labels | None = None,
        instance: str = "image-automation",
    ) -> None:
        self.policy = policy or DeliveryPolicy()
        self._client = httpx.AsyncClient(transport=transport, follow_redirects=False)
        self._on_result = on_result
        self._labels = labels
        self._instance = instance
        self._channels: dict[str, _Channel] = {}
        self._rules: list[CompiledRule] = []
        self._stopped: list[asyncio.Task[None]] = []
        self.counts = Counts()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        await self.aclose()

    def configure(self, settings: NotifySettings) -> None:
        """Replace providers and rules. A provider kept keeps its queue; a removed one stops."""
        loop = asyncio.get_running_loop()
        wanted = {p.key: p for p in settings.providers}
        for key in list(self._channels):
            if key not in wanted:
                gone = self._channels.pop(key)
                if gone.task is not None:
                    try:  # finish what was queued for it, then stop
                        gone.queue.put_nowait(None)
                    except asyncio.QueueFull:
                        gone.task.cancel()
                    self._stopped.append(gone.task)
        for key, provider in wanted.items():
            channel = self._channels.get(key)
            if channel is None:
                bucket = TokenBucket(provider.rate, clock=loop.time)
                channel = _Channel(provider, asyncio.Queue(self.policy.queue_size), bucket)
                channel.task = asyncio.create_task(self._work(channel), name=f"notify-{key}")
                self._channels[key] = channel
            else:
                channel.settings = provider
                if channel.bucket.rate != provider.rate:
                    channel.bucket = TokenBucket(provider.rate, clock=loop.time)
        self._rules = [CompiledRule.of(r) for r in settings.rules if r.provider in wanted]

    async def handle(self, event: Event) -> None:
        """Route ``event`` to the providers whose rules match; never waits on a send."""
        labels: Mapping[str, str] = self._labels(event) if self._labels else {}
        for compiled in route(self._rules, event, labels):
            rule = compiled.rule
            target = self._channels.get(rule.provider)
            if target is None:
                continue
            context = Context(rule.metadata, rule.summary, self._instance)
            try:
                target.queue.put_nowait((event, context))
            except asyncio.QueueFull:
                log.warning("notification queue of %s is full: dropped a %s event",
                            rule.provider, event.kind)  # fmt: skip
                self._result(rule.provider, "dropped")

    async def aclose(self) -> None:
        """Send what is queued (for at most ``drain_s``), then stop. Idempotent."""
        waits = [c.queue.join() for c in self._channels.values()]
        if waits:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*waits), self.policy.drain_s)
        for channel in self._channels.values():
            if channel.task is not None:
                channel.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await channel.task
                channel.task = None
        self._channels.clear()
        if self._stopped:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait(self._stopped, timeout=self.policy.drain_s)
        for task in self._stopped:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._stopped.clear()
        await self._client.aclose()

    def _result(self, provider: str, result: Result) -> None:
        self.counts.add(provider, result)
        if self._on_result is not None:
            self._on_result(provider, result)

    async def _work(self, channel: _Channel) -> None:
        while True:
            item = await channel.queue.get()
            if item is None:
                channel.queue.task_done()
                return
            event, context = item
            try:
                provider = channel.settings
                result = await self._deliver(channel, provider, event, context)
                if result is not None:
                    self._result(provider.key, result)
            finally:
                channel.queue.task_done()

    async def _deliver(
        self, channel: _Channel, provider: ProviderSettings, event: Event, context: Context
    ) -> Result | None:
        try:
            outgoing = build(provider, event, context)
        except PayloadError as exc:
            log.warning("notification to %s not sent: %s", provider.key, exc)
            return "failed"
        if outgoing is None:
            return None  # this type has nothing to say about this event
        policy = self.policy
        for attempt in range(1, policy.attempts + 1):
            await channel.bucket.take()
            try:
                await self._send(provider, outgoing)
                return "sent"
            except _Fail as exc:
                self._warn(provider, f"{exc}; not retried")
                return "failed"
            except _Retry as exc:
                if attempt == policy.attempts:
                    self._warn(provider, f"{exc}; gave up after {attempt} attempts")
                    return "failed"
                delay = min(policy.backoff_max_s, policy.backoff_s * 2 ** (attempt - 1))
                if exc.delay is not None:
                    delay = min(policy.backoff_max_s, max(delay, exc.delay))
                log.info("notification to %s: %s; retry %d in %.1fs",
                         provider.key, exc, attempt, delay)  # fmt: skip
                await asyncio.sleep(delay)
        return "failed"

    def _warn(self, provider: ProviderSettings, text: str) -> None:
        log.warning("notification to %s failed: %s", provider.key, text)

    async def _send(self, provider: ProviderSettings, outgoing: Outgoing) -> None:
        where = provider.where
        secrets = provider.secrets.values()
        try:
            response = await self._client.post(
                outgoing.url,
                content=outgoing.body,
                headers=dict(outgoing.headers),
                timeout=provider.timeout_s,
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise _Fail(f"{where}: invalid address") from exc
        except httpx.TransportError as exc:
            reason = mask_secrets(type(exc).__name__, secrets)
            raise _Retry(f"{where}: {reason}") from exc
        status = response.status_code
        if status == 429 or status >= 500:
            delay = retry_after_seconds(response.headers.get("Retry-After"), now=time.time())
            raise _Retry(f"{where}: HTTP {status}", delay)
        if status >= 300:
            raise _Fail(f"{where}: HTTP {status}")
        if outgoing.slack_api:
            _check_slack(response, where)


def _check_slack(response: httpx.Response, where: str) -> None:
    """Slack's Web API answers 200 with ``{"ok": false, "error": ...}`` on failure."""
    try:
        answer = response.json()
    except ValueError:
        return
    if isinstance(answer, dict) and answer.get("ok") is False:
        error = str(answer.get("error", "unknown"))[:100]
        if error == "ratelimited":
            raise _Retry(f"{where}: Slack says ratelimited")
        raise _Fail(f"{where}: Slack says {error}")


__all__ = ["Counts", "DeliveryPolicy", "Notifier", "Result", "TokenBucket"]
