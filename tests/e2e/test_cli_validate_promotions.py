"""`validate` checks Promotion documents at file:line: an unknown stage, a cycle, a policy not
declared, a stage path holding no marker of its policies (in a git checkout), bad values."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from image_automation.cli import root
from image_automation.config.loading import load_paths
from image_automation.config.resolving import resolve
from image_automation.engine.automations import PlanContext
from image_automation.engine.promotion import plan_promotions

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = (
    ROOT / "policies/native/promotion.yaml",
    ROOT / "policies/native/promotion-branches.yaml",
)
POLICY = ROOT / "policies/native/nginx.yaml"

HEAD = """\
apiVersion: image-automation.io/v1alpha1
kind: Promotion
metadata: {name: web, namespace: apps}
spec:
  git: {url: "https://github.com/example/fleet.git"}
  policies: [nginx]
  stages:
"""


def validate(*args: str) -> tuple[int, list[str], str]:
    result = CliRunner().invoke(root, ["validate", *args])
    return result.exit_code, result.stdout.splitlines(), result.stderr


def test_the_example_promotions_are_valid_and_plan_their_stages() -> None:
    code, out, _ = validate(*map(str, EXAMPLES), str(POLICY))
    assert (code, out) == (0, []), out
    loaded = load_paths([*EXAMPLES, POLICY])
    planned = plan_promotions(loaded, PlanContext(), resolve(loaded).policies)
    assert planned.errors == []
    by_name = {p.name: p for p in planned.plans}
    directories = by_name["nginx"]
    assert [(s.name, s.path, s.source) for s in directories.stages] == [
        ("dev", "clusters/dev", None), ("staging", "clusters/staging", 0),
        ("prod", "clusters/prod", 1),
    ]  # fmt: skip
    prod = directories.stages[2]
    assert prod.checks == ("e2e",) and prod.soak.total_seconds() == 86400
    assert prod.automation.pull_request is not None
    assert prod.automation.pull_request.branch == "image-automation/promote-nginx-prod"
    assert prod.automation.pull_request.reviewers == ("release-managers",)
    branches = by_name["nginx-branches"]
    assert [s.repo.branch for s in branches.stages] == ["env/dev", "env/staging", "main"]
    assert branches.stages[2].source == 1 and branches.stages[2].elsewhere


BAD = [
    pytest.param(
        "    - {name: dev, path: a}\n    - {name: prod, from: qa, path: b}\n",
        "tmp.yaml:9: spec.stages[1].from: unknown stage 'qa' (stages: dev, prod)",
        id="unknown-stage",
    ),
    pytest.param(
        "    - {name: dev, from: prod, path: a}\n    - {name: prod, path: b}\n",
        "tmp.yaml:8: spec.stages[0].from: stages form a cycle: dev → prod → dev; one stage "
        "must come first",
        id="cycle",
    ),
    pytest.param(
        "    - {name: dev, path: a}\n    - {name: prod, path: a}\n",
        "tmp.yaml:9: spec.stages[1].path: stage 'prod' is in the same place as stage 'dev'",
        id="two-stages-one-place",
    ),
    pytest.param(
        "    - {name: dev, path: a}\n    - {name: Prod, path: b}\n",
        "tmp.yaml:9: spec.stages[1].name: stage name 'Prod' must be 1-40 lower-case letters",
        id="stage-name-not-a-branch-part",
    ),
    pytest.param(
        "    - {name: dev, path: a}\n    - {name: prod, path: ../b}\n",
        "tmp.yaml:9: spec.stages[1].path: path '../b' must be relative and stay inside",
        id="path-escapes",
    ),
    pytest.param(
        "    - {name: dev, path: a}\n    - {name: prod, path: b, soak: forever}\n",
        "tmp.yaml:9: spec.stages[1].soak: invalid duration 'forever'",
        id="soak-not-a-duration",
    ),
    pytest.param(
        "    - {name: dev, path: a}\n    - name: prod\n      path: b\n"
        "      windows: [{days: [Mon-Fri], start: '9am', timeZone: Mars/Olympus}]\n",
        "tmp.yaml:11: spec.stages[1].windows[0]: unknown time zone 'Mars/Olympus'",
        id="window-zone",
    ),
    pytest.param(
        "    - {name: dev, path: a}\n    - name: prod\n      path: b\n"
        "      gates: {http: [{url: 'https://user:pw@health.example.com/'}]}\n",
        "must not carry credentials",
        id="http-gate-with-credentials",
    ),
    pytest.param(
        "    - {name: dev, path: a}\n    - {name: prod, path: b, policies: [redis]}\n",
        "tmp.yaml:9: spec.stages[1].policies: not in spec.policies: redis",
        id="stage-policy-outside-the-promotion",
    ),
]


@pytest.mark.parametrize(("stages", "expected"), BAD)
def test_a_bad_promotion_is_reported_at_its_line(
    tmp_path: Path, stages: str, expected: str
) -> None:
    path = tmp_path / "tmp.yaml"
    path.write_text(HEAD + stages)
    code, out, _ = validate(str(path), str(POLICY))
    text = "\n".join(out).replace(str(tmp_path) + "/", "")
    assert code == 1 and expected in text, text


def test_a_policy_that_is_not_declared_is_named_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "tmp.yaml"
    path.write_text(
        HEAD.replace("[nginx]", "[nginx, nope]") + "    - {name: a}\n    - {name: b, path: b}\n"
    )
    code, out, _ = validate(str(path), str(POLICY))
    assert code == 1 and f"{path}:6: spec.policies[1]: no image policy apps/nope" in out, out


def test_a_stage_path_without_a_marker_of_its_policies_is_an_error_in_a_checkout(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "fleet"
    (repo / "clusters/dev").mkdir(parents=True)
    (repo / "clusters/prod").mkdir(parents=True)
    (repo / "clusters/dev/app.yaml").write_text(
        'image: nginx:1.25.3-alpine # {"$imagepolicy": "apps:nginx"}\n'
    )
    (repo / "clusters/prod/app.yaml").write_text("image: nginx:1.25.3-alpine\n")
    (repo / "nginx.yaml").write_text(POLICY.read_text())
    promotion = HEAD + "".join(
        f"    - {{name: {n}, path: clusters/{n}}}\n" for n in ("dev", "prod", "qa")
    )
    (repo / "promotion.yaml").write_text(promotion)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    code, out, _ = validate(str(repo))
    assert code == 1, out
    at = f"{repo}/promotion.yaml"
    no_marker = "stage 'prod': clusters/prod holds no marker of apps:nginx"
    assert f"{at}:9: spec.stages[1].path: {no_marker}" in out, out
    no_directory = "stage 'qa': no directory 'clusters/qa' in the repository"
    assert f"{at}:10: spec.stages[2].path: {no_directory}" in out, out
    assert not any("stage 'dev'" in line for line in out)
