"""scan --policies end to end: policy files → real registry → SQLite state → decisions.

Runs in all four registry set-ups with the credentials and CA handed over the way a Flux
cluster does: ``secretRef``/``certSecretRef`` secrets mounted as files under a secrets dir.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from functools import partial
from pathlib import Path

import pytest
from rich.console import Console

from image_automation.cli._scan_policies import (
    EXIT_OK,
    EXIT_SCAN_FAILED,
    PolicyScan,
    run_policy_scan,
)
from image_automation.domain import ImageRef
from image_automation.engine.registry_lister import open_registry_lister
from image_automation.engine.scanning import ScanTarget, TagLister, scan_repositories
from image_automation.registry import HostSettings, RegistrySettings, SecretsDir
from image_automation.registry.settings import RetrySettings
from image_automation.state.sqlite import SqliteStore
from tests.integration.conftest import LeakCheck
from tests.integration.fault_proxy import Fault, FaultProxy
from tests.integration.registry_fixtures import (
    PASSWORD,
    SECRETS,
    USERNAME,
    RegistryServer,
    push_image,
)

pytestmark = pytest.mark.integration

OLD = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
NEW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _repo() -> str:
    return f"scan/{uuid.uuid4().hex[:10]}"


def _secrets_for(server: RegistryServer, root: Path) -> tuple[Path, str]:
    """Write the secrets a cluster would mount; return the dir and the scan hints (YAML)."""
    root.mkdir()
    hints = []
    if server.ca is not None:
        (root / "registry-ca").mkdir()
        shutil.copy(server.ca.ca_file, root / "registry-ca" / "ca.crt")
        hints.append("certSecretRef: {name: registry-ca}")
    else:
        hints.append("insecure: true")
    if server.username:
        auth = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
        (root / "pull").mkdir()
        (root / "pull" / ".dockerconfigjson").write_text(
            json.dumps({"auths": {server.host: {"auth": auth}}})
        )
        hints.append("secretRef: {name: pull}")
    return root, "\n".join(f"  {h}" for h in hints)


def _policies(
    root: Path, *, server_host: str, semver_repo: str, newest_repo: str, hints: str
) -> Path:
    root.mkdir()
    scan_hints = hints.replace("\n  ", "\n    ")
    (root / "apps.yaml").write_text(
        f"""
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: web, namespace: apps}}
spec:
  image: {server_host}/{semver_repo}
{hints}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {{name: web, namespace: apps}}
spec:
  imageRepositoryRef: {{name: web}}
  policy: {{semver: {{range: "1.x"}}}}
---
apiVersion: image-automation.io/v1alpha1
kind: TrackedImage
metadata: {{name: edge, namespace: apps}}
spec:
  image: {server_host}/{newest_repo}
  scan:
  {scan_hints}
  select: {{newestBuild: {{}}}}
"""
    )
    return root


def _consoles() -> tuple[Console, io.StringIO, Console]:
    out_buf = io.StringIO()
    return (
        Console(file=out_buf, width=250, color_system=None),
        out_buf,
        Console(file=io.StringIO(), width=250, color_system=None),
    )


async def test_scan_policies_stores_tags_metadata_and_decisions(
    any_registry: RegistryServer, tmp_path: Path, leak_check: LeakCheck
) -> None:
    semver_repo, newest_repo = _repo(), _repo()
    with any_registry.push_client() as push:
        push_image(push, any_registry.url, semver_repo, ["1.0.0", "1.2.0", "2.0.0", "latest"])
        old = push_image(push, any_registry.url, newest_repo, ["main-aaa"], created=OLD)
        new = push_image(push, any_registry.url, newest_repo, ["main-bbb"], created=NEW, salt="b")
    secrets, hints = _secrets_for(any_registry, tmp_path / "secrets")
    policies = _policies(
        tmp_path / "policies",
        server_host=any_registry.host,
        semver_repo=semver_repo,
        newest_repo=newest_repo,
        hints=hints,
    )
    state = tmp_path / "state.db"
    job = PolicyScan(paths=(policies,), state=state)
    make_lister = partial(open_registry_lister, secrets=SecretsDir(secrets))

    out, out_buf, err = _consoles()
    code = await run_policy_scan(job, make_lister=make_lister, clock=lambda: NOW, out=out, err=err)
    leak_check.record(out_buf.getvalue())
    assert code == EXIT_OK, out_buf.getvalue()
    assert "apps/web: 1.2.0" in out_buf.getvalue()
    assert "apps/edge: main-bbb" in out_buf.getvalue()

    semver_name = f"{any_registry.host}/{semver_repo}"
    newest_name = f"{any_registry.host}/{newest_repo}"
    async with await SqliteStore.open(state) as store:
        plain = await store.tags(semver_name)
        rich = {t.name: t for t in await store.tags(newest_name)}
        statuses = {s.repository: s for s in await store.scan_statuses()}
        decisions = {d.policy: d.decision for d in await store.decisions()}
    # No policy over the semver repository needs metadata: names only, one listing.
    assert [(t.name, t.digest, t.created) for t in plain] == [
        ("1.0.0", None, None),
        ("1.2.0", None, None),
        ("2.0.0", None, None),
        ("latest", None, None),
    ]
    assert {n: (t.digest, t.created) for n, t in rich.items()} == {
        "main-aaa": (old.digest, OLD),
        "main-bbb": (new.digest, NEW),
    }
    assert all(t.first_seen == NOW for t in plain)
    assert statuses[semver_name].ok and statuses[newest_name].ok
    assert decisions["apps/edge"].tag == "main-bbb"
    assert decisions["apps/edge"].digest == new.digest

    # Steady state: the same scan again costs one tags/list for the plain repository and
    # one tags/list plus one HEAD per tag for the metadata one (times come from the store).
    out, out_buf, err = _consoles()
    later = NOW + dt.timedelta(hours=1)
    code = await run_policy_scan(
        job, make_lister=make_lister, clock=lambda: later, out=out, err=err
    )
    assert code == EXIT_OK
    async with await SqliteStore.open(state) as store:
        plain_status = await store.scan_status(semver_name)
        rich_status = await store.scan_status(newest_name)
        again = await store.tags(newest_name)
    # A fresh client settles a host's auth scheme once per host, paid by whichever repository
    # goes first: Basic costs one 401; a token costs one challenge for the host plus one
    # token per repository (scopes are per repository). So the sum is pinned, not the split.
    handshake = {"anonymous": 0, "tls": 0, "basic": 1, "token": 1 + 2}[any_registry.setup]
    assert plain_status is not None and rich_status is not None
    assert plain_status.requests + rich_status.requests == (1) + (1 + 2) + handshake
    assert plain_status.requests >= 1 and rich_status.requests >= 1 + 2
    assert [t.first_seen for t in again] == [NOW, NOW]  # first-seen kept across scans


async def test_failed_rescan_keeps_last_good_and_records_a_clean_error(
    registry_basic: RegistryServer, tmp_path: Path, leak_check: LeakCheck
) -> None:
    """Credentials rotated under us: the scan fails with 401, the last good tags stay."""
    repo = _repo()
    with registry_basic.push_client() as push:
        push_image(push, registry_basic.url, repo, ["1.0.0", "1.1.0"])
    secrets, hints = _secrets_for(registry_basic, tmp_path / "secrets")
    policies = tmp_path / "p"
    policies.mkdir()
    (policies / "r.yaml").write_text(
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\n"
        "metadata: {name: r, namespace: apps}\n"
        f"spec:\n  image: {registry_basic.host}/{repo}\n{hints}\n"
    )
    state = tmp_path / "state.db"
    no_retry = RegistrySettings(retry=RetrySettings(attempts=1))

    def make_lister(targets: Sequence[ScanTarget]) -> AbstractAsyncContextManager[TagLister]:
        return open_registry_lister(targets, settings=no_retry, secrets=SecretsDir(secrets))

    job = PolicyScan(paths=(policies,), state=state)
    out, _, err = _consoles()
    code = await run_policy_scan(job, make_lister=make_lister, clock=lambda: NOW, out=out, err=err)
    assert code == EXIT_OK

    wrong = "wrong-" + uuid.uuid4().hex
    SECRETS.add(wrong)
    auth = base64.b64encode(f"{USERNAME}:{wrong}".encode()).decode()
    (secrets / "pull" / ".dockerconfigjson").write_text(
        json.dumps({"auths": {registry_basic.host: {"auth": auth}}})
    )
    out, out_buf, err = _consoles()
    later = NOW + dt.timedelta(minutes=5)
    code = await run_policy_scan(
        job, make_lister=make_lister, clock=lambda: later, out=out, err=err
    )
    leak_check.record(out_buf.getvalue())
    assert code == EXIT_SCAN_FAILED
    name = f"{registry_basic.host}/{repo}"
    async with await SqliteStore.open(state) as store:
        tags = [t.name for t in await store.tags(name)]
        status = await store.scan_status(name)
    assert tags == ["1.0.0", "1.1.0"]
    assert status is not None
    assert status.last_error is not None
    assert "401" in status.last_error
    assert (status.last_success, status.last_attempt, status.tag_count) == (NOW, later, 2)
    leak_check.record(status.last_error)
    assert wrong not in status.last_error
    assert wrong not in out_buf.getvalue()


def test_scan_command_runs_as_a_program(registry_anonymous: RegistryServer, tmp_path: Path) -> None:
    repo = _repo()
    with registry_anonymous.push_client() as push:
        push_image(push, registry_anonymous.url, repo, ["0.9.0", "1.4.2", "1.10.0"])
    policies = _policies(
        tmp_path / "policies",
        server_host=registry_anonymous.host,
        semver_repo=repo,
        newest_repo=repo,
        hints="  insecure: true",
    )
    state = tmp_path / "state.db"
    program = str(Path(sys.executable).parent / "image-automation")
    done = subprocess.run(
        [program, "scan", "--policies", str(policies), "--state", f"sqlite:///{state}"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "250", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    assert "apps/web: 1.10.0" in done.stdout
    assert f"{registry_anonymous.host}/{repo}" in done.stdout


@pytest.mark.parametrize(
    ("fault", "expected_error", "temporary"),
    [
        (Fault("status", status=503, times=10), "503", True),
        (Fault("retry_after", retry_after="7", times=10), "429", True),
        (Fault("truncate", times=10), "not valid JSON", False),
    ],
    ids=["503", "429", "truncated"],
)
async def test_faulty_registry_keeps_the_last_good_scan(
    registry_anonymous: RegistryServer,
    fault_proxy: FaultProxy,
    tmp_path: Path,
    leak_check: LeakCheck,
    fault: Fault,
    expected_error: str,
    temporary: bool,
) -> None:
    repo = _repo()
    with registry_anonymous.push_client() as push:
        push_image(push, registry_anonymous.url, repo, ["1.0.0", "1.1.0"])
    target = ScanTarget(ImageRef.parse(f"{fault_proxy.host}/{repo}"), insecure=True)
    settings = RegistrySettings(retry=RetrySettings(attempts=1), defaults=HostSettings(max_wait=0))
    async with await SqliteStore.open(tmp_path / "state.db") as store:
        async with open_registry_lister([target], settings=settings) as lister:
            [good] = await scan_repositories(
                [target], lister=lister, store=store, clock=lambda: NOW
            )
        assert good.ok
        fault_proxy.add(fault)
        later = NOW + dt.timedelta(minutes=5)
        async with open_registry_lister([target], settings=settings) as lister:
            [bad] = await scan_repositories(
                [target], lister=lister, store=store, clock=lambda: later
            )
        status = await store.scan_status(target.repository)
        tags = [t.name for t in await store.tags(target.repository)]
    assert (bad.ok, bad.tag_count) == (False, 2)
    assert bad.error is not None and expected_error in bad.error
    # A temporary failure carries the registry client's suggested delay; a permanent none.
    assert (bad.retry_after is not None) == temporary
    assert tags == ["1.0.0", "1.1.0"]
    assert status is not None
    assert (status.last_success, status.last_attempt, status.last_error) == (NOW, later, bad.error)
    leak_check.record(bad.error)
