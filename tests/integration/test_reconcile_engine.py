"""reconcile_once against a real git remote with a fake tag source (no registry needed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from image_automation.config.resolving import ResolvedPolicy
from image_automation.domain import TagInfo
from image_automation.engine.automations import RepoTarget
from image_automation.engine.reconcile import FoundTags, ReconcileRequest, reconcile_once
from tests.integration.git_fixtures import make_remote

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 22, tzinfo=UTC)


def _docs(name: str, namespace: str, image: str) -> str:
    return f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: {name}, namespace: {namespace}}}
spec: {{image: {image}}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  imageRepositoryRef: {{name: {name}}}
  policy: {{semver: {{range: ">=1.0.0"}}}}
---
"""


FILES = {
    "deploy/app.yaml": 'a: registry.local/app:1.0.0 # {"$imagepolicy": "apps:app"}\n'
    'b: registry.local/down:1.0.0 # {"$imagepolicy": "apps:down"}\n',
    "policies.yaml": _docs("app", "apps", "registry.local/app")
    + _docs("down", "apps", "registry.local/down")
    + _docs("elsewhere", "other", "registry.local/elsewhere")
    + """\
apiVersion: image-automation.io/v1alpha1
kind: ImageAutomation
metadata: {name: auto, namespace: apps}
spec:
  commit: {author: {email: bot@example.test}}
  update: {path: deploy}
""",
}


class FakeTags:
    """Serves fixed tags; ``registry.local/down`` fails; records what it was asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def scan(self, policies: Sequence[ResolvedPolicy], *, now: datetime) -> FoundTags:
        self.asked = sorted(p.key for p in policies)
        tags = {"registry.local/app": [TagInfo("1.0.0"), TagInfo("1.4.0")]}
        return FoundTags(tags=tags, errors={"registry.local/down": "HTTP 503"})


async def test_failed_scan_fails_the_automation_but_other_images_still_land(
    tmp_path: Path,
) -> None:
    remote = make_remote(tmp_path / "remote.git", FILES)
    fake = FakeTags()
    request = ReconcileRequest(
        work_dir=tmp_path / "work", repo=RepoTarget(url=remote.url, branch="main")
    )
    report = await reconcile_once(request, tags=fake, clock=lambda: NOW)
    (outcome,) = report.automations
    assert fake.asked == ["apps/app", "apps/down"]  # only what the automation needs
    assert not report.ok
    assert outcome.errors[0].startswith("policy apps/down: scan of registry.local/down failed")
    assert outcome.commit == remote.head()
    assert [(c.file, c.old, c.new) for c in outcome.changes] == [
        ("deploy/app.yaml", "registry.local/app:1.0.0", "registry.local/app:1.4.0")
    ]
    assert outcome.decisions["apps/app"].tag == "1.4.0"


async def test_no_automation_is_a_warning_and_nothing_is_scanned(tmp_path: Path) -> None:
    files = {"deploy/app.yaml": FILES["deploy/app.yaml"], "p.yaml": _docs("app", "apps", "r/a")}
    remote = make_remote(tmp_path / "remote.git", files)
    fake = FakeTags()
    request = ReconcileRequest(
        work_dir=tmp_path / "work", repo=RepoTarget(url=remote.url, branch="main")
    )
    report = await reconcile_once(request, tags=fake, clock=lambda: NOW)
    assert report.ok and report.automations == []
    assert report.warnings == ["no automation documents found"]
    assert fake.asked == []


DOCKERFILE = '# {"$imagepolicy": "apps:app"}\nFROM registry.local/app:1.0.0\n'


@pytest.mark.parametrize(
    ("line_include", "expected"),
    [
        ("[Dockerfile]", "FROM registry.local/app:1.4.0\n"),
        ('["*.env"]', "FROM registry.local/app:1.0.0\n"),
        ("[]", "FROM registry.local/app:1.0.0\n"),
    ],
)
async def test_a_marked_dockerfile_is_updated_only_when_line_include_matches_it(
    tmp_path: Path, line_include: str, expected: str
) -> None:
    automation = f"""\
apiVersion: image-automation.io/v1alpha1
kind: ImageAutomation
metadata: {{name: auto, namespace: apps}}
spec:
  commit: {{author: {{email: bot@example.test}}}}
  update: {{path: deploy, lineInclude: {line_include}}}
"""
    files = {
        "deploy/Dockerfile": DOCKERFILE,
        "policies.yaml": _docs("app", "apps", "registry.local/app") + automation,
    }
    remote = make_remote(tmp_path / "remote.git", files)
    request = ReconcileRequest(
        work_dir=tmp_path / "work", repo=RepoTarget(url=remote.url, branch="main")
    )
    report = await reconcile_once(request, tags=FakeTags(), clock=lambda: NOW)
    assert report.ok, report
    assert remote.read("deploy/Dockerfile").splitlines(keepends=True)[1] == expected
    (outcome,) = report.automations
    assert (outcome.commit is not None) == ("1.4.0" in expected)


FLUX_AUTOMATION = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {name: auto, namespace: apps}
spec:
  interval: 10m
  sourceRef: {kind: GitRepository, name: fleet}
  git:
    commit:
      author: {email: bot@example.test}
      messageTemplate: '{{range .Changed.Changes}}{{.OldValue}} -> {{.NewValue}}{{end}}'
  update: {path: deploy}
"""


@pytest.mark.parametrize(
    ("current", "commits"),
    [("1.4.0", 0), ("1.0.0", 1)],
    ids=["nothing-to-commit", "one-change"],
)
async def test_a_template_that_renders_empty_without_changes_does_not_fail_a_no_change_run(
    tmp_path: Path, current: str, commits: int
) -> None:
    files = {
        "deploy/app.yaml": f'a: registry.local/app:{current} # {{"$imagepolicy": "apps:app"}}\n',
        "policies.yaml": _docs("app", "apps", "registry.local/app") + FLUX_AUTOMATION,
    }
    remote = make_remote(tmp_path / "remote.git", files)
    seed = remote.head()
    request = ReconcileRequest(
        work_dir=tmp_path / "work", repo=RepoTarget(url=remote.url, branch="main")
    )
    report = await reconcile_once(request, tags=FakeTags(), clock=lambda: NOW)
    assert report.ok, report
    (outcome,) = report.automations
    assert (outcome.commit is not None) == bool(commits)
    log = remote.commits()
    assert len(log) == 1 + commits and log[-1].sha == seed
    if commits:
        assert log[0].body.strip() == (
            f"registry.local/app:{current} -> registry.local/app:1.4.0\n\n"
            "Image-Automation: apps/auto"
        )
