"""What is the same on every forge, shown once on the GitHub fake: compare links from the
images' OCI labels, the cost of a steady-state run, a pull request that is not ours, and a
forge that refuses the token."""

from __future__ import annotations

import pytest

from tests.e2e.pullrequests.fleet import PrFleet, flux_automation, native_automation

pytestmark = pytest.mark.integration

HEAD = "image-automation/fleet"
SOURCE = "https://github.com/example/app"
LABELS = {
    "org.opencontainers.image.source": SOURCE,
    "org.opencontainers.image.revision": "0123abc{tag}",
}


def test_oci_source_and_revision_labels_give_a_compare_link(github_fleet: PrFleet) -> None:
    fleet = github_fleet
    fleet.seed(
        flux_automation(fleet.fake),
        labels={k: v.replace("{tag}", "100") for k, v in LABELS.items()},
    )
    fleet.push("1.1.0", labels={k: v.replace("{tag}", "110") for k, v in LABELS.items()})
    fleet.reconcile()
    (pr,) = fleet.pulls()
    assert f"{SOURCE}/compare/0123abc100...0123abc110" in pr.body, pr.body


def test_images_without_labels_get_no_link_and_the_run_goes_on(github_fleet: PrFleet) -> None:
    fleet = github_fleet
    fleet.seed(flux_automation(fleet.fake))
    fleet.push("1.1.0")
    fleet.reconcile()
    (pr,) = fleet.pulls()
    assert "/compare/" not in pr.body and fleet.image() in pr.body


def test_a_steady_state_run_costs_one_forge_request(github_fleet: PrFleet) -> None:
    fleet = github_fleet
    fleet.seed(flux_automation(fleet.fake))
    fleet.push("1.1.0")
    fleet.reconcile()
    fleet.fake.reset_requests()
    fleet.reconcile()
    seen = [(s.method, s.operation) for s in fleet.fake.requests]
    assert seen == [("GET", "GET /repos/{owner}/{repo}/pulls/{pull_number}")]


def test_a_pull_request_on_our_branch_that_we_did_not_open_is_left_alone(
    github_fleet: PrFleet,
) -> None:
    fleet = github_fleet
    fleet.seed(flux_automation(fleet.fake))
    fleet.push("1.1.0")
    theirs = fleet.fake.human_push(HEAD, {"NOTES.md": "mine\n"}, "a human's own work")
    with fleet.fake.lock:
        fleet.fake.open_pull(
            head=HEAD, base="main", title="mine", body="hands off", author="a-human"
        )
    done = fleet.reconcile()
    assert "held" in done.stdout and "not opened by us" in done.stdout, done.stdout
    (pr,) = fleet.pulls()
    assert (pr.title, pr.body) == ("mine", "hands off") and fleet.fake.repo.sha(HEAD) == theirs
    assert fleet.writes() == []


def test_a_refused_token_fails_the_automation_naming_the_forge_not_the_token(
    github_fleet: PrFleet,
) -> None:
    fleet = github_fleet
    fleet.seed(flux_automation(fleet.fake))
    fleet.push("1.1.0")
    forge = fleet.root / "secrets" / "forge-only"
    forge.mkdir(parents=True)
    (forge / "bearerToken").write_text("ghp_" + "x" * 36)
    annotated = flux_automation(
        fleet.fake, extra="    image-automation.io/forge-secret: forge-only\n"
    )
    fleet.fake.move_base({"automation/automation.yaml": annotated}, "a wrong forge token")
    done = fleet.reconcile(ok=False)
    assert done.returncode == 1
    assert "401" in done.stdout and "FAILED" in done.stdout, done.stdout
    assert "x" * 36 not in done.stdout + done.stderr
    assert fleet.pulls() == []


def test_grouping_per_image_names_each_head_after_its_image(github_fleet: PrFleet) -> None:
    fleet = github_fleet
    fleet.seed(
        native_automation(fleet.fake, pull_request="    grouping: image\n"), policies=("web", "api")
    )
    fleet.push("1.1.0", policy="web")
    fleet.push("1.1.0", policy="api")
    fleet.reconcile()
    slug = fleet.registry.host.replace(":", "-")
    heads = sorted(p.head for p in fleet.pulls())
    assert heads == sorted(
        f"{HEAD}-{slug}-{fleet.images[p].replace('/', '-')}" for p in ("web", "api")
    )
