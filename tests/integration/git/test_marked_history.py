"""The history of marked lines, from real git: what a promotion learns of a stage — when its
value landed (a merge counts when it was merged), what it rolled back from, how far back it
read — and the stage's current image from its markers."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from image_automation.config.loading import load_bytes
from image_automation.config.resolving import resolve
from image_automation.engine._promo_read import parse_marked_line, read_stage
from image_automation.engine.automations import PlanContext, RepoTarget
from image_automation.engine.promotion import plan_promotions
from image_automation.git import RepoSpec, Workspace
from image_automation.policy._promote import ranker
from tests.integration.git_fixtures import GitRemote, make_remote

pytestmark = pytest.mark.integration

WEB = "registry.example.test/team/web"
A, B, C = "sha256:" + "a" * 64, "sha256:" + "b" * 64, "sha256:" + "c" * 64


def line(value: str, setter: str = "apps:web", key: str = "image") -> str:
    return f'          {key}: {value} # {{"$imagepolicy": "{setter}"}}\n'


def deployment(*lines: str) -> str:
    return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n" + "".join(lines)


def commit(remote: GitRemote, files: Mapping[str, str], message: str, *, when: int,
           branch: str = "main", parents: tuple[str, ...] | None = None) -> str:  # fmt: skip
    """A commit at unix time ``when`` on ``branch`` (a merge when given two ``parents``)."""
    env = {"GIT_INDEX_FILE": str(remote.path / "t-index"), "GIT_AUTHOR_NAME": "Human",
           "GIT_AUTHOR_EMAIL": "h@example.test", "GIT_COMMITTER_NAME": "Human",
           "GIT_COMMITTER_EMAIL": "h@example.test", "GIT_COMMITTER_DATE": f"{when} +0000",
           "GIT_AUTHOR_DATE": f"{when} +0000"}  # fmt: skip
    parents = parents or (remote.head(branch),)
    remote.git("read-tree", parents[0], env=env)
    for name, text in files.items():
        blob = subprocess.run(["git", "--git-dir", str(remote.path), "hash-object", "-w",
                               "--stdin"], input=text, capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip
        remote.git("update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", env=env)
    tree = remote.git("write-tree", env=env).strip()
    args = [a for p in parents for a in ("-p", p)]
    sha = remote.git("commit-tree", tree, *args, "-m", message, env=env).strip()
    (remote.path / "t-index").unlink()
    remote.git("update-ref", f"refs/heads/{branch}", sha)
    return sha


PROMOTION = """\
apiVersion: image-automation.io/v1alpha1
kind: Promotion
metadata: {name: web, namespace: apps}
spec:
  policies: [web]
  pullRequest: {provider: github, apiURL: "https://forge.example.test/api/v3"}
  stages:
    - {name: dev, path: dev}
    - {name: prod, path: prod}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: web, namespace: apps}
spec: {image: registry.example.test/team/web}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: web, namespace: apps}
spec:
  imageRepositoryRef: {name: web}
  policy: {semver: {range: ">=0.0.0"}}
"""


async def _read(remote: GitRemote, tmp_path: Path, stage: int = 0):  # type: ignore[no-untyped-def]
    loaded = load_bytes(PROMOTION.encode(), file="p.yaml")
    # Planned for a forge's URL (a file:// one has no forge); read from the local remote.
    context = PlanContext(repo=RepoTarget("https://github.com/org/fleet.git", "main"))
    (plan,) = plan_promotions(loaded, context, resolve(loaded).policies).plans
    rank = {"web": ranker(plan.policies["web"].spec)}
    async with Workspace.open(RepoSpec(remote.url, "main"), work_dir=tmp_path / "w") as ws:
        head = await ws.prepare()
        return await read_stage(ws, plan.stages[stage], plan, rank=rank, head=head)


async def test_a_value_landed_with_the_merge_that_brought_it_not_its_own_commit(
    tmp_path: Path,
) -> None:
    remote = make_remote(tmp_path / "r.git", {"dev/app.yaml": deployment(line(f"{WEB}:1.0.0@{A}"))})
    base = remote.head()
    side = commit(remote, {"dev/app.yaml": deployment(line(f"{WEB}:1.1.0@{B}"))}, "bump",
                  when=1_700_000_000, branch="topic", parents=(base,))  # fmt: skip
    commit(remote, {"README": "x"}, "unrelated", when=1_700_000_100)
    merge = commit(remote, {"dev/app.yaml": deployment(line(f"{WEB}:1.1.0@{B}"))}, "merge topic",
                   when=1_700_003_600, parents=(remote.head(), side))  # fmt: skip
    commit(remote, {"README": "y"}, "later, unrelated", when=1_700_009_000)
    read = await _read(remote, tmp_path)
    view = read.view("web")
    assert view.image is not None and (view.image.tag, view.image.digest) == ("1.1.0", B)
    assert view.landing is not None and view.landing.sha == merge
    assert int(view.landing.at.timestamp()) == 1_700_003_600 and view.landing.exact
    assert [s.where for s in read.sites["web"]] == ["dev/app.yaml:5"]


async def test_a_step_back_is_a_rollback_and_the_history_read_is_bounded(tmp_path: Path) -> None:
    remote = make_remote(tmp_path / "r.git", {"dev/app.yaml": deployment(line(f"{WEB}:1.0.0@{A}"))})
    for when, value in [(1, f"1.1.0@{B}"), (2, f"1.0.0@{A}"), (3, f"1.1.0@{B}")]:
        commit(remote, {"dev/app.yaml": deployment(line(f"{WEB}:{value}"))}, value,
               when=1_700_000_000 + when * 60)  # fmt: skip
    view = (await _read(remote, tmp_path)).view("web")
    assert [(r.image.tag, r.to.tag) for r in view.rollbacks] == [("1.1.0", "1.0.0")]
    assert view.landing is not None and int(view.landing.at.timestamp()) == 1_700_000_180
    assert [h.tag for h in view.earlier] == ["1.0.0"]

    loaded = load_bytes(PROMOTION.encode(), file="p.yaml")
    async with Workspace.open(RepoSpec(remote.url, "main"), work_dir=tmp_path / "w2") as ws:
        await ws.prepare()
        short = await ws.marked_history(branch="main", path="dev", max_commits=2)
        full = await ws.marked_history(branch="main", path="dev")
    assert (len(short.commits), short.complete) == (2, False)
    assert (len(full.commits), full.complete) == (4, True)
    assert loaded.errors == []


async def test_split_markers_make_one_image_and_disagreeing_ones_are_a_problem(
    tmp_path: Path,
) -> None:
    split = deployment(
        line(WEB, "apps:web:name", "repository"), line("1.2.0", "apps:web:tag", "tag"),
        line(f'"{C}"', "apps:web:digest", "digest"),
    )  # fmt: skip
    remote = make_remote(tmp_path / "r.git", {
        "dev/values.yaml": split,
        "prod/a.yaml": deployment(line(f"{WEB}:1.0.0@{A}")),
        "prod/b.yaml": deployment(line(f"{WEB}:1.1.0@{B}")),
    })  # fmt: skip
    dev = (await _read(remote, tmp_path)).view("web")
    assert dev.image is not None and (dev.image.name, dev.image.tag, dev.image.digest) == (
        WEB, "1.2.0", C,
    )  # fmt: skip
    assert dev.landing is not None  # every split line was found in history
    prod = (await _read(remote, tmp_path, stage=1)).view("web")
    assert prod.image is None and "markers of apps:web disagree" in prod.problem


async def test_file_names_git_quotes_are_read_back(tmp_path: Path) -> None:
    name = 'dev/na\tme "ü".yaml'
    remote = make_remote(tmp_path / "r.git", {name: deployment(line(f"{WEB}:1.0.0@{A}"))})
    async with Workspace.open(RepoSpec(remote.url, "main"), work_dir=tmp_path / "w") as ws:
        await ws.prepare()
        history = await ws.marked_history(branch="main", path="dev")
    (first,) = history.commits
    assert [m.file for m in first.lines] == [name]


LINES = [
    pytest.param('image: a/b:1.0 # {"$imagepolicy": "ns:p"}', ("ns:p", "a/b:1.0"), id="key"),
    pytest.param('- a/b:1.0 # {"$imagepolicy": "ns:p"}', ("ns:p", "a/b:1.0"), id="list-item"),
    pytest.param('tag: "1.0" # {"$imagepolicy": "ns:p:tag"}', ("ns:p:tag", "1.0"), id="quoted"),
    pytest.param(
        "tag: 'it''s' # {\"$imagepolicy\": \"ns:p:tag\"}", ("ns:p:tag", "it's"), id="single-quoted"
    ),
    pytest.param(
        'image: reg:5000/a:1 # {"$imagepolicy": "ns:p"}',
        ("ns:p", "reg:5000/a:1"),
        id="port-in-value",
    ),
    pytest.param('"my key": x:1 # {"$imagepolicy": "ns:p"}', ("ns:p", "x:1"), id="quoted-key"),
    pytest.param('image: a:1 # {"$imagepolicy": "broken', None, id="malformed-marker"),
    pytest.param('image: # {"$imagepolicy": "ns:p"}', None, id="no-value"),
    pytest.param("image: a:1", None, id="no-marker"),
]


@pytest.mark.parametrize(("text", "expected"), LINES)
def test_a_marked_line_gives_its_setter_and_value(text: str, expected: object) -> None:
    assert parse_marked_line(text) == expected
