"""The bare repository behind the fakes merges the way forges do, with git itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.forges.repo import ForgeRepo, MergeConflict

pytestmark = pytest.mark.integration
MARKED = "deploy/app.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> ForgeRepo:
    repo = ForgeRepo.create(tmp_path / "r.git")
    repo.commit_files("topic", {MARKED: "image: 2\n"}, "one")
    repo.commit_files("topic", {"NOTES.md": "two\n"}, "two")
    return repo


@pytest.mark.parametrize(
    ("method", "parents", "subjects"),
    [
        ("merge", 2, ["msg", "two", "one", "Initial commit"]),
        ("squash", 1, ["msg", "Initial commit"]),
        ("rebase", 1, ["two", "one", "Initial commit"]),
        ("ff", 1, ["two", "one", "Initial commit"]),
    ],
)
def test_each_merge_method_lands_heads_tree_on_the_base(
    repo: ForgeRepo, method: str, parents: int, subjects: list[str]
) -> None:
    new = repo.merge(base="main", head="topic", method=method, message="msg")  # type: ignore[arg-type]
    assert repo.sha("main") == new
    assert len(repo.parents(new)) == parents
    assert sorted(repo.subjects("main")) == sorted(subjects)
    assert (repo.read(MARKED, "main"), repo.read("NOTES.md", "main")) == ("image: 2\n", "two\n")


def test_a_conflict_is_reported_and_the_base_stays_where_it_was(repo: ForgeRepo) -> None:
    moved = repo.commit_files("main", {MARKED: "image: 9\n"}, "elsewhere")
    assert not repo.mergeable("main", "topic")
    for method in ("merge", "squash", "rebase", "ff"):
        with pytest.raises(MergeConflict):
            repo.merge(base="main", head="topic", method=method, message="m")  # type: ignore[arg-type]
    assert repo.sha("main") == moved


def test_a_branch_delete_removes_the_ref_and_a_missing_one_says_so(repo: ForgeRepo) -> None:
    assert repo.delete_branch("topic") and repo.sha("topic") is None
    assert not repo.delete_branch("topic")
