"""Benchmark: registry requests the signature gate adds, per new winner and per interval.

Against the real test registry (Debian docker-registry, distribution 2.8: no referrers API,
so referrers live in the tag-schema fallback index) and a referrers-API front of ours on top
of it (the tests' ``ReferrersFront``), for each place a signature lives: cosign's ``.sig``
tag, a referrer in the fallback index, a referrer through the API, and an unsigned winner.
Each case runs twice in the same process, on fresh state stores:

- baseline: the checker asks for every place (it does not trust the tag list: the ``.sig``
  tag, then the referrers API, then the fallback index);
- ours: the checker is told the tags are the repository's whole scan (what reconcile and
  the daemon give it), so a place whose tag the scan did not list is not asked for.

For each: requests for a new winner (the first selection after the winner appears) and for
the next interval (same tags, verdict stored). Goals: 0 per interval once cached, <= 2 per
new winner. Prints a table and the ratio ours/baseline of requests per new winner.

    .venv/bin/python bench/signatures.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from image_automation.config.loading import load_paths
from image_automation.config.resolving import ResolvedPolicy, resolve
from image_automation.domain import TagInfo
from image_automation.engine.signatures import SignatureChecker
from image_automation.registry import RegistryClient, RegistrySettings
from image_automation.state import open_store
from tests.integration.gates.test_signatures import ReferrersFront
from tests.integration.image_push import push_image
from tests.integration.registry_fixtures import RegistryServer, running_registry
from tests.integration.signing import new_key, public_pem, sign_referrer, sign_tag

NOW = datetime(2026, 5, 4, tzinfo=UTC)
VERSIONS = ("1.0.0", "1.1.0", "1.2.0")


def policy(folder: Path, image: str) -> ResolvedPolicy:
    doc = folder / "policy.yaml"
    doc.write_text(f"""\
apiVersion: image-automation.io/v1alpha1
kind: TrackedImage
metadata: {{name: app, namespace: apps}}
spec:
  image: {image}
  select: {{semver: {{range: ">=1.0.0"}}}}
  verify: {{secretRef: {{name: cosign}}}}
""")
    return resolve(load_paths([doc])).policies[0]


def prepare(server: RegistryServer, layout: str, key: Any) -> tuple[str, dict[str, str], Any]:
    """Push the versions; sign 1.2.0 as ``layout``; the repo, digests, an API descriptor."""
    repo = f"bench/sig-{uuid.uuid4().hex[:8]}"
    with server.push_client() as push:
        digests = {v: push_image(push, server.url, repo, [v], salt=v).digest for v in VERSIONS}
        winner = digests["1.2.0"]
        descriptor = None
        if layout == "sig-tag":
            sign_tag(push, server.url, repo, winner, key)
        elif layout == "fallback-referrer":
            sign_referrer(push, server.url, repo, winner, key)
        elif layout == "api-referrer":
            descriptor = sign_referrer(push, server.url, repo, winner, key, fallback=False)
    return repo, digests, descriptor


async def scanned(client: RegistryClient, image: str, digests: dict[str, str]) -> list[TagInfo]:
    """The repository's whole tag list, as a scan stores it (signature tags included)."""
    listing = await client.list_tags(image)
    return [TagInfo(t, digest=digests.get(t)) for t in listing.tags]


async def one(
    *, host: str, repo: str, digests: dict[str, str], key: Any, whole_lists: bool, work: Path
) -> tuple[int, int, str | None]:
    """(requests for the new winner, requests the next interval, the winner)."""
    folder = work / uuid.uuid4().hex
    (folder / "secrets" / "cosign").mkdir(parents=True)
    (folder / "secrets" / "cosign" / "k.pub").write_bytes(public_pem(key))
    resolved = policy(folder, f"{host}/{repo}")
    settings = RegistrySettings().with_host(host, insecure=True)
    async with await open_store(folder / "state.db") as store:
        async with RegistryClient(settings=settings) as lister:
            tags = await scanned(lister, f"{host}/{repo}", digests)
        counts: list[int] = []
        winner = None
        for _ in range(2):  # the new winner, then the next interval (a fresh client: a run)
            async with RegistryClient(settings=settings) as client:
                checker = SignatureChecker(client=client, store=store,
                                           secrets_dir=folder / "secrets",
                                           whole_lists=whole_lists)  # fmt: skip
                decision = await checker.decide(resolved, tags, now=NOW)
                counts.append(client.requests)
                winner = decision.tag
    return counts[0], counts[1], winner


LAYOUTS = ("sig-tag", "fallback-referrer", "api-referrer", "unsigned")


async def measure(server: RegistryServer, rounds: int) -> None:
    front = ReferrersFront(server.url)
    api_host = await front.start()
    rows: dict[tuple[str, bool], list[tuple[int, int, str | None]]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(rounds):
                for layout in LAYOUTS:
                    key = new_key()
                    repo, digests, descriptor = prepare(server, layout, key)
                    host = server.host
                    if layout == "api-referrer":
                        front.referrers[digests["1.2.0"]] = [descriptor]
                        host = api_host
                    for whole in (False, True):
                        got = await one(host=host, repo=repo, digests=digests, key=key,
                                        whole_lists=whole, work=Path(tmp))  # fmt: skip
                        rows.setdefault((layout, whole), []).append(got)
    finally:
        await front.stop()
    report(rows)


def report(rows: dict[tuple[str, bool], list[tuple[int, int, str | None]]]) -> None:
    print(f"{'layout':<18} {'checker':<22} {'new winner':>10} {'next interval':>13}  winner")
    total: dict[bool, int] = {False: 0, True: 0}
    for layout in LAYOUTS:
        for whole in (False, True):
            runs = rows[layout, whole]
            new = max(r[0] for r in runs)
            steady = max(r[1] for r in runs)
            winners = {r[2] for r in runs}
            total[whole] += new
            name = "trusts the tag list" if whole else "asks every place"
            print(f"{layout:<18} {name:<22} {new:>10} {steady:>13}  {', '.join(map(str, winners))}")
    ratio = total[True] / total[False]
    print(f"requests per new winner, all layouts: ours {total[True]}, baseline {total[False]},"
          f" ratio {ratio:.2f}")  # fmt: skip


def main(argv: list[str] | None = None, *, run: Callable[..., Any] = asyncio.run) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with running_registry("anonymous") as server:
        run(measure(server, args.rounds))


if __name__ == "__main__":
    main()
