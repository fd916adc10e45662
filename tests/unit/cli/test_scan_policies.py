"""``scan --policies``: files → scan → state → table, with a fake registry behind it."""

from __future__ import annotations

import io
from collections.abc import Mapping
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console

from image_automation.cli._scan import scan
from image_automation.cli._scan_policies import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_SCAN_FAILED,
    PolicyScan,
    run_policy_scan,
)
from image_automation.domain import TagInfo
from image_automation.engine.scanning import ScanTarget, TagListing
from image_automation.errors import RegistryUnavailable
from image_automation.state.sqlite import SqliteStore

T0 = datetime(2026, 5, 1, tzinfo=UTC)

POLICIES = """
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: podinfo, namespace: apps}
spec: {image: ghcr.io/stefanprodan/podinfo}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: podinfo, namespace: apps}
spec:
  imageRepositoryRef: {name: podinfo}
  policy: {semver: {range: ">=6.0.0"}}
---
apiVersion: image-automation.io/v1alpha1
kind: TrackedImage
metadata: {name: nginx, namespace: apps}
spec:
  image: nginx
  select: {semver: {range: "1.x"}}
"""


class Lister:
    def __init__(self, answers: dict[str, list[str] | Exception]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    async def list_tags(self, target: ScanTarget, *, known: Mapping[str, TagInfo]) -> TagListing:
        self.calls.append(target.repository)
        answer = self.answers[target.repository]
        if isinstance(answer, Exception):
            raise answer
        return TagListing(tuple(TagInfo(t) for t in answer), requests=1)


def consoles() -> tuple[Console, io.StringIO, Console, io.StringIO]:
    out_buf, err_buf = io.StringIO(), io.StringIO()
    out = Console(file=out_buf, width=200, color_system=None)
    err = Console(file=err_buf, width=200, color_system=None)
    return out, out_buf, err, err_buf


def policy_dir(tmp_path: Path, text: str = POLICIES) -> Path:
    root = tmp_path / "policies"
    root.mkdir()
    (root / "all.yaml").write_text(text)
    return root


async def test_scan_stores_every_repository_and_prints_a_table(tmp_path: Path) -> None:
    lister = Lister(
        {
            "ghcr.io/stefanprodan/podinfo": ["6.0.0", "6.5.4"],
            "docker.io/library/nginx": ["1.25.0", "1.26.1", "latest"],
        }
    )
    out, out_buf, err, _ = consoles()
    state = tmp_path / "state.db"
    code = await run_policy_scan(
        PolicyScan(paths=(policy_dir(tmp_path),), state=state),
        make_lister=lambda _: nullcontext(lister),
        clock=lambda: T0,
        out=out,
        err=err,
    )
    assert code == EXIT_OK
    assert sorted(lister.calls) == ["docker.io/library/nginx", "ghcr.io/stefanprodan/podinfo"]
    table = out_buf.getvalue()
    assert "apps/nginx: 1.26.1" in table
    assert "apps/podinfo: 6.5.4" in table
    rows = [line for line in table.splitlines() if "ghcr.io/stefanprodan/podinfo" in line]
    assert len(rows) == 1
    assert " 2 " in rows[0]
    async with await SqliteStore.open(state) as store:
        assert [t.name for t in await store.tags("ghcr.io/stefanprodan/podinfo")] == [
            "6.0.0",
            "6.5.4",
        ]
        stored = await store.decision("apps/podinfo")
        assert stored is not None
        assert (stored.decision.tag, stored.repository) == ("6.5.4", "ghcr.io/stefanprodan/podinfo")


async def test_failed_repository_shows_its_error_and_last_good_count(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    root = policy_dir(tmp_path)
    good = {"ghcr.io/stefanprodan/podinfo": ["6.0.0"], "docker.io/library/nginx": ["1.25.0"]}
    out, _, err, _ = consoles()
    job = PolicyScan(paths=(root,), state=state)
    assert (
        await run_policy_scan(
            job, make_lister=lambda _: nullcontext(Lister(good)), clock=lambda: T0, out=out, err=err
        )
        == 0
    )

    bad = dict(good, **{"docker.io/library/nginx": RegistryUnavailable("429 Too Many Requests")})
    out, out_buf, err, _ = consoles()
    code = await run_policy_scan(
        job, make_lister=lambda _: nullcontext(Lister(bad)), clock=lambda: T0, out=out, err=err
    )
    assert code == EXIT_SCAN_FAILED
    [row] = [line for line in out_buf.getvalue().splitlines() if "nginx" in line]
    assert "429 Too Many Requests" in row
    assert " 1 " in row  # the last good tag count is kept
    assert "apps/nginx: 1.25.0" in row  # and the policy still selects from it


async def test_repository_never_scanned_shows_no_selection(tmp_path: Path) -> None:
    lister = Lister(
        {
            "ghcr.io/stefanprodan/podinfo": ["6.0.0"],
            "docker.io/library/nginx": RegistryUnavailable("connection refused"),
        }
    )
    out, out_buf, err, _ = consoles()
    job = PolicyScan(paths=(policy_dir(tmp_path),), state=tmp_path / "s.db")
    code = await run_policy_scan(
        job, make_lister=lambda _: nullcontext(lister), clock=lambda: T0, out=out, err=err
    )
    assert code == EXIT_SCAN_FAILED
    [row] = [line for line in out_buf.getvalue().splitlines() if "nginx" in line]
    assert "apps/nginx: (not scanned)" in row
    assert "connection refused" in row


async def test_bad_document_is_reported_and_the_rest_still_scanned(tmp_path: Path) -> None:
    broken = POLICIES + "---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\n"
    broken += "metadata: {name: x}\nspec: {imag: typo}\n"
    lister = Lister({"ghcr.io/stefanprodan/podinfo": ["1"], "docker.io/library/nginx": ["1"]})
    out, _, err, err_buf = consoles()
    code = await run_policy_scan(
        PolicyScan(paths=(policy_dir(tmp_path, broken),), state=tmp_path / "s.db"),
        make_lister=lambda _: nullcontext(lister),
        clock=lambda: T0,
        out=out,
        err=err,
    )
    assert code == EXIT_INVALID
    assert "all.yaml:" in err_buf.getvalue()
    assert len(lister.calls) == 2


async def test_directory_without_repositories_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    out, _, err, err_buf = consoles()
    code = await run_policy_scan(
        PolicyScan(paths=(root,), state=tmp_path / "s.db"),
        make_lister=lambda _: nullcontext(Lister({})),
        clock=lambda: T0,
        out=out,
        err=err,
    )
    assert code == EXIT_INVALID
    assert "no image repositories" in err_buf.getvalue()
    assert not (tmp_path / "s.db").exists()


def test_policies_and_image_together_are_a_usage_error(tmp_path: Path) -> None:
    root = policy_dir(tmp_path)
    both = CliRunner().invoke(scan, ["--policies", str(root), "nginx"])
    assert both.exit_code == 2
    assert "not both" in both.output
    flags = CliRunner().invoke(scan, ["--policies", str(root), "--insecure"])
    assert flags.exit_code == 2
    assert "--insecure: only for IMAGE" in flags.output
    assert not (tmp_path / "state.db").exists()
