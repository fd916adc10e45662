"""Benchmark: listing every repository's tags with our client vs a plain aiohttp loop.

Pushes REPOS repositories x TAGS tags to a local Debian docker-registry (the test fixture
code), then, in the same run and at the same concurrency, times:

- baseline: a bare aiohttp loop doing only ``GET /v2/<repo>/tags/list`` (the registry's own
  capacity here),
- ours: ``RegistryClient.list_tags`` for every repository (default transport: httpx over
  aiohttp via PyPI httpx-aiohttp),
- ours on httpx's own transport, to show why the default is what it is,

and prints repositories/s, the ratio ours/baseline (goal >= 0.8; judged on the median of the
per-round ratios, each round timing all runners back to back in alternating order, because
other work on the machine makes the load drift), and HTTP requests per repository for an
unchanged repository (goal: exactly 1 per tag page).

    .venv/bin/python bench/scan.py [--repos 200] [--tags 100] [--concurrency 8] [--rounds 9]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from image_automation.registry import RegistryClient, RegistrySettings
from image_automation.registry._http import system_ssl_context
from tests.integration.registry_fixtures import (
    RegistryServer,
    push_image,
    running_registry,
)


def populate(server: RegistryServer, repos: list[str], tags: int) -> None:
    names = [f"{i}.{j}.0" for i in range(tags // 10 + 1) for j in range(10)][:tags]

    def one(repo: str) -> None:
        with server.push_client() as client:
            push_image(client, server.url, repo, names)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, repos))


async def baseline(server: RegistryServer, repos: list[str], concurrency: int) -> int:
    gate = asyncio.Semaphore(concurrency)
    total = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(repo: str) -> None:
            nonlocal total
            async with gate, session.get(f"{server.url}/v2/{repo}/tags/list") as response:
                data = await response.json()
                total += len(data["tags"])

        await asyncio.gather(*(one(r) for r in repos))
    return total


def ours_factory(
    transport_factory: Callable[..., httpx.AsyncBaseTransport] | None,
) -> Callable[[RegistryServer, list[str], int], Awaitable[int]]:
    async def ours(server: RegistryServer, repos: list[str], concurrency: int) -> int:
        settings = RegistrySettings().with_host(server.host, insecure=True, concurrency=concurrency)
        async with RegistryClient(settings=settings, transport_factory=transport_factory) as c:
            listings = await asyncio.gather(*(c.list_tags(f"{server.host}/{r}") for r in repos))
        return sum(len(x.tags) for x in listings)

    return ours


def httpx_native(verify: object) -> httpx.AsyncBaseTransport:
    context = system_ssl_context() if verify is True else verify
    return httpx.AsyncHTTPTransport(verify=context, limits=httpx.Limits(max_connections=100))  # type: ignore[arg-type]


async def steady_state_requests(server: RegistryServer, repos: list[str]) -> float:
    settings = RegistrySettings().with_host(server.host, insecure=True)
    async with RegistryClient(settings=settings) as client:
        for repo in repos:
            await client.list_tags(f"{server.host}/{repo}")  # first scan
        second = [await client.list_tags(f"{server.host}/{repo}") for repo in repos]
    return sum(x.requests for x in second) / len(second)


async def measure(args: argparse.Namespace, server: RegistryServer, repos: list[str]) -> None:
    runners: dict[str, Callable[[RegistryServer, list[str], int], Awaitable[int]]] = {
        "aiohttp loop (baseline)": baseline,
        "RegistryClient (httpx-aiohttp)": ours_factory(None),
        "RegistryClient (httpx native)": ours_factory(httpx_native),
    }
    expected = len(repos) * args.tags
    names = list(runners)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for name, run in runners.items():  # warm-up: every runner once
        assert await run(server, repos, args.concurrency) == expected, name
    for round_number in range(args.rounds):
        # Alternate the order so no runner always follows the same one (load drifts here).
        order = names if round_number % 2 == 0 else names[::-1]
        for name in order:
            start = time.perf_counter()
            got = await runners[name](server, repos, args.concurrency)
            elapsed = time.perf_counter() - start
            assert got == expected, f"{name}: {got} tags, expected {expected}"
            rates[name].append(len(repos) / elapsed)
    base_name, ours_name = names[0], names[1]
    base = statistics.median(rates[base_name])
    print(f"repositories={len(repos)} tags={args.tags} concurrency={args.concurrency} ", end="")
    print(f"rounds={args.rounds}")
    for name, values in rates.items():
        median = statistics.median(values)
        paired = statistics.median(v / b for v, b in zip(values, rates[base_name], strict=True))
        print(
            f"  {name:32s} median {median:7.1f} repos/s  ratio of medians {median / base:4.2f}"
            f"  median per-round ratio {paired:4.2f}"
        )
    ratios = [o / b for o, b in zip(rates[ours_name], rates[base_name], strict=True)]
    ratio = statistics.median(ratios)
    print(f"  per-round ratios ours/baseline: {' '.join(f'{r:.2f}' for r in ratios)}")
    print(
        f"goal >= 0.80x baseline (median per-round ratio): {'met' if ratio >= 0.8 else 'NOT met'}"
    )
    per_repo = await steady_state_requests(server, repos)
    print(f"requests per unchanged repository (1 tag page): {per_repo:.2f} (goal 1.00)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--tags", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    with running_registry("anonymous") as server:
        repos = [f"bench/repo-{i:04d}" for i in range(args.repos)]
        start = time.perf_counter()
        populate(server, repos, args.tags)
        print(f"pushed {args.repos} x {args.tags} tags in {time.perf_counter() - start:.1f}s")
        asyncio.run(measure(args, server, repos))


if __name__ == "__main__":
    main()
