"""The policy files of a checkout: charts, templates, big and dangling files skip quietly."""

from __future__ import annotations

from pathlib import Path

from image_automation.config.loading import MAX_FILE_BYTES
from image_automation.engine.discovery import load_files
from tests.unit.config.test_flux_parity import HELM_TEMPLATE
from tests.unit.config.test_loading import POLICY, REPO


def test_charts_templates_big_files_and_dangling_links_do_not_fail_discovery(
    tmp_path: Path,
) -> None:
    files = {
        "fleet/policies.yaml": f"{REPO}---\n{POLICY}",
        "charts/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 1.0.0\n",
        "charts/app/templates/policy.yaml": HELM_TEMPLATE,
        "templated/policy.yaml": HELM_TEMPLATE,
        "bundle/crds.yaml": "kind: CustomResourceDefinition\n" + "#" * MAX_FILE_BYTES,
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "fleet/gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    names = [*files, "fleet/gone.yaml"]
    size = (tmp_path / "bundle/crds.yaml").stat().st_size

    result = load_files(tmp_path, names)

    assert result.errors == []
    assert sorted(result.warnings) == [
        f"bundle/crds.yaml: skipped: {size} bytes is over the {MAX_FILE_BYTES}-byte limit",
        "fleet/gone.yaml: dangling symlink; skipped",
    ]
    assert [d.file for d in result.documents] == ["fleet/policies.yaml"] * 2
