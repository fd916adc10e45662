"""docs/pull-requests.md "Modes", "Grouping", "Limits", "Dry run": the automations plan as the
page says, and the report it shows is what ``reconcile --once`` prints (against the GitHub
fake; hosts, repository names and numbers aside)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from image_automation.config.loading import load_bytes
from image_automation.engine.automations import PlanContext, RepoTarget, plan_automations
from tests.e2e.pullrequests.fleet import (
    NAMESPACE,
    SECRET,
    PrFleet,
    manifest,
    native_automation,
    policy_docs,
)

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[3] / "docs" / "pull-requests.md"


def section(name: str) -> str:
    return DOC.read_text().split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]


def blocks(kind: str, text: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize(("name", "grouping"), [("Modes", "automation"), ("Grouping", "policy")])
def test_the_pages_automations_deliver_by_pull_request(name: str, grouping: str) -> None:
    (yaml,) = blocks("yaml", section(name))
    loaded = load_bytes(yaml.encode(), file="doc.yaml")
    repo = RepoTarget("https://github.com/example/fleet.git", "main", "fleet-git")
    plans = plan_automations(loaded, PlanContext(repo=repo, check_secret_files=False))
    assert plans.errors == []
    (plan,) = plans.plans
    assert plan.pull_request is not None and plan.pull_request.grouping == grouping
    assert plan.repo.branch == "main"


def _normal(text: str, fleet: PrFleet) -> list[str]:
    """Report lines with the run's hosts, names and numbers made the page's."""
    for policy, repository in fleet.images.items():
        text = text.replace(
            f"{fleet.registry.host}/{repository}", f"registry.example.com/team/{policy}"
        )
    text = re.sub(r"#\d+ http://127\.0\.0\.1:\d+/fleet-org/fleet/pull/\d+", "#N URL", text)
    text = re.sub(r"#\d+ https://github\.com/example/fleet/pull/\d+", "#N URL", text)
    return [line for line in text.splitlines() if line and not line.startswith("$ ")]


def test_the_grouping_limits_and_dry_run_reports_are_what_the_cli_prints(
    github_fleet: PrFleet,
) -> None:
    fleet = github_fleet
    limits = "    grouping: policy\n    limits: {perHour: 1}\n"
    fleet.seed(native_automation(fleet.fake, pull_request=limits), policies=("web", "api"))
    fleet.push("1.5.0", policy="web")
    fleet.push("2.1.0", policy="api")
    dry = _normal(fleet.reconcile("--dry-run").stdout, fleet)
    (shown,) = blocks("console", section("Dry run"))
    page = _normal(shown, fleet)
    page = page[page.index("ImageAutomation/apps/fleet: pull requests") :]  # the report
    web = dry.index("  branch image-automation/fleet-web: would-open")
    assert dry[:1] + dry[web : web + len(page) - 1] == page

    run = _normal(fleet.reconcile().stdout, fleet)
    (limited,) = blocks("text", section("Limits"))
    assert run == _normal(limited, fleet)
    (grouped,) = blocks("text", section("Grouping"))
    expected = _normal(grouped, fleet)
    assert run[:3] == expected[:3]  # the opened one; the other waits for the limit here


def _readme_part() -> str:
    readme = (DOC.parents[1] / "README.md").read_text()
    return readme.split("\n## Pull requests instead of pushes\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_shows_the_report_the_page_explains() -> None:
    (report,) = blocks("text", _readme_part())
    (console,) = blocks("console", section("Modes"))
    assert report.strip() in console


def test_the_readme_snippet_is_the_pages_automation_cut_short() -> None:
    (snippet,) = blocks("yaml", _readme_part())
    (full,) = blocks("yaml", section("Modes"))
    lines = full.splitlines()
    assert [line for line in lines if line in snippet.splitlines()] == snippet.splitlines()


def test_the_readme_example_prints_the_report_it_shows(github_fleet: PrFleet) -> None:
    """The Modes page's Flux automation, as written plus the fake's forge and API URL (its
    host is no github.com), opens the pull request whose report the README shows."""
    fleet = github_fleet
    (yaml,) = blocks("yaml", section("Modes"))
    opt_in = '    image-automation.io/pull-request: "true"\n'
    forge = (
        f"    image-automation.io/forge: github\n"
        f'    image-automation.io/forge-api-url: "{fleet.fake.api_url}"\n'
    )
    assert opt_in in yaml
    fleet.images["web"] = f"team/web-{os.urandom(4).hex()}"
    fleet.push("1.4.2", "1.5.0", policy="web")
    ours = (f"namespace: {NAMESPACE}", f'"{NAMESPACE}:web"')
    theirs = ("namespace: flux-system", '"flux-system:web"')
    marked = manifest(f"{fleet.image('web')}:1.4.2", "web").replace(ours[1], theirs[1])
    policies = policy_docs(fleet.image("web"), "web").replace(ours[0], theirs[0])
    secret = fleet.root / "secrets" / SECRET
    secret.mkdir(parents=True)
    (secret / "bearerToken").write_text(fleet.fake.token + "\n")
    fleet.fake.move_base(
        {
            "clusters/prod/web.yaml": marked,
            "automation/policies.yaml": policies,
            "automation/automation.yaml": yaml.replace(opt_in, opt_in + forge),
        },
        "the fleet",
    )
    (report,) = blocks("text", _readme_part())
    assert _normal(fleet.reconcile().stdout, fleet) == _normal(report, fleet)
    (pr,) = fleet.pulls()
    assert pr.head == "image-automation/apps" and pr.base == "main"
