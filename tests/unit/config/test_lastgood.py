"""A policy file that breaks keeps its last good version; the problem is reported."""

from __future__ import annotations

from pathlib import Path

from image_automation.config.lastgood import LastGoodFiles
from image_automation.config.models import ImagePolicy

POLICY = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {{name: {name}, namespace: apps}}
spec:
  imageRepositoryRef: {{name: app}}
  policy: {{semver: {{range: "{range}"}}}}
"""


def ranges(result: object) -> dict[str, str]:
    out = {}
    for doc in result.documents:  # type: ignore[attr-defined]
        assert isinstance(doc.obj, ImagePolicy)
        assert doc.obj.spec.policy.semver is not None
        out[doc.file] = doc.obj.spec.policy.semver.range
    return out


def test_broken_file_keeps_its_last_good_version(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    a, b = tmp_path / "policies" / "a.yaml", tmp_path / "b.yaml"
    a.write_text(POLICY.format(name="a", range=">=1.0.0"))
    b.write_text(POLICY.format(name="b", range=">=2.0.0"))
    files = LastGoodFiles()
    first = files.load(tmp_path)
    assert first.errors == []
    assert ranges(first) == {"policies/a.yaml": ">=1.0.0", "b.yaml": ">=2.0.0"}

    a.write_text(POLICY.format(name="a", range=">=1.0.0").replace("semver", "semverr"))
    b.write_text(POLICY.format(name="b", range=">=2.5.0"))
    second = files.load(tmp_path)
    assert ranges(second) == {"policies/a.yaml": ">=1.0.0", "b.yaml": ">=2.5.0"}
    assert [str(e).split(":")[0] for e in second.errors] == ["policies/a.yaml"]
    assert any("policies/a.yaml" in w and "last good" in w for w in second.warnings)

    a.write_text(POLICY.format(name="a", range=">=1.1.0"))
    assert ranges(files.load(tmp_path)) == {"policies/a.yaml": ">=1.1.0", "b.yaml": ">=2.5.0"}


def test_a_file_never_good_contributes_only_its_valid_documents(tmp_path: Path) -> None:
    good = POLICY.format(name="ok", range=">=1.0.0")
    (tmp_path / "p.yaml").write_text(f"{good}---\nkind: ImagePolicy\napiVersion: x: y\n")
    result = LastGoodFiles().load(tmp_path)
    assert ranges(result) == {"p.yaml": ">=1.0.0"}
    assert len(result.errors) == 1


def test_a_deleted_file_is_forgotten(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(POLICY.format(name="a", range=">=1.0.0"))
    files = LastGoodFiles()
    files.load(tmp_path)
    path.unlink()
    assert files.load(tmp_path).documents == []
    path.write_text("kind: [")
    assert files.load(tmp_path).documents == []


def test_dot_directories_are_skipped(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.yaml").write_text(POLICY.format(name="x", range=">=1.0.0"))
    assert LastGoodFiles().load(tmp_path).documents == []


def test_an_unchanged_file_is_not_parsed_again_and_a_changed_one_is(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(POLICY.format(name="a", range=">=1.0.0"))
    b.write_text(POLICY.format(name="b", range=">=2.0.0"))
    files = LastGoodFiles()
    first = files.load(tmp_path)
    b.write_text(POLICY.format(name="b", range=">=3.0.0"))  # same size, other bytes
    second = files.load(tmp_path)
    assert second.documents[0] is first.documents[0]  # a.yaml: the same parsed document
    assert ranges(second) == {"a.yaml": ">=1.0.0", "b.yaml": ">=3.0.0"}
