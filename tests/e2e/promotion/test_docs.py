"""docs/promotion.md's walk-through, replayed against the GitHub fake: its Promotion plans as
the page says, and each report it shows is what an evaluation prints at that point (hosts,
commit ids and durations aside)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from image_automation.config.loading import load_bytes
from image_automation.config.resolving import resolve
from image_automation.engine.automations import PlanContext, RepoTarget
from image_automation.engine.promotion import plan_promotions
from tests.e2e.promotion.fleet import PromoFleet, manifest, policy_doc

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[3] / "docs" / "promotion.md"
IMAGE = "registry.example.com/team/web"
OLD, NEW = f"{IMAGE}:1.0.0@sha256:{'1' * 64}", f"{IMAGE}:1.1.0@sha256:{'2' * 64}"


def section(name: str) -> str:
    return DOC.read_text().split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]


def blocks(kind: str, text: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", text, flags=re.S)


def normal(text: str) -> list[str]:
    text = re.sub(r"http://127\.0\.0\.1:\d+/fleet-org/fleet/", "https://github.com/example/fleet/",
                  text)  # fmt: skip
    text = re.sub(r"commit [0-9a-f]{12}", "commit C", text)
    text = re.sub(r"for [0-9hms]+( \(|$)", r"for D\1", text, flags=re.M)
    text = re.sub(r"\([0-9hms]+ to go\)", "(D to go)", text)
    return [line for line in text.splitlines() if line and not re.match(r"(\$ |\s+--)", line)]


def test_the_walk_through_promotion_plans_as_the_page_says() -> None:
    (yaml,) = blocks("yaml", section("Walk-through: a directory per environment"))
    loaded = load_bytes((yaml + "---\n" + policy_doc(IMAGE)).encode(), file="doc.yaml")
    repo = RepoTarget("https://github.com/example/fleet.git", "main", "fleet-git")
    planned = plan_promotions(loaded, PlanContext(repo=repo), resolve(loaded).policies)
    assert planned.errors == []
    (plan,) = planned.plans
    assert [(s.name, s.path, s.soak.total_seconds()) for s in plan.stages] == [
        ("dev", "clusters/dev", 0), ("staging", "clusters/staging", 3600),
        ("prod", "clusters/prod", 86400),
    ]  # fmt: skip
    assert plan.stages[2].checks == ("e2e",)


def test_the_walk_through_reports_are_what_an_evaluation_prints(github_fleet: PromoFleet) -> None:
    fleet = github_fleet
    walk = section("Walk-through: a directory per environment")
    (yaml,) = blocks("yaml", walk)
    first, second, third, fourth = (normal(b) for b in blocks("console", walk))
    forge = f'  pullRequest: {{provider: github, apiURL: "{fleet.fake.api_url}"}}\n'
    promotion = yaml.replace("spec:\n", "spec:\n" + forge, 1)
    files = {f"clusters/{s}/app.yaml": manifest(OLD) for s in ("dev", "staging", "prod")}
    files |= {"clusters/policies.yaml": policy_doc(IMAGE), "clusters/promotion.yaml": promotion}
    fleet.seed(files)
    fleet.set_stage("dev", NEW)

    assert normal("\n".join(fleet.promote())) == first
    fleet.offset = timedelta(hours=2)
    assert normal("\n".join(fleet.promote())) == second
    (pr,) = fleet.pulls()
    assert pr.title == f"promote(staging): {IMAGE} 1.1.0 from dev"
    assert "passed: `soak 1h`: dev has had it for 2h" in pr.body
    merged = fleet.fake.human_merge(pr.number)
    fleet.offset = timedelta(hours=30)
    assert normal("\n".join(fleet.promote())) == third
    fleet.fake.set_status(merged, "e2e", "failure")
    red = normal("\n".join(fleet.promote()))
    said = re.search(r"`(held: gate failed: [^`]+)`", walk)
    assert said is not None and any(normal(said.group(1))[0] in line for line in red), red
    fleet.fake.set_status(merged, "e2e", "success")
    assert normal("\n".join(fleet.promote())) == fourth
