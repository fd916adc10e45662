"""Directory-per-environment, end to end on GitHub, GitLab and Gitea fakes: a new tag reaches
dev by the automation's commit; after the (test-clock) soak a staging pull request carries
dev's digest; a newer dev image updates it in place; merged, prod waits for its own soak
and for a green status on staging's commit (a red one holds it, the reason shown); and what
dev rolled back from is never promoted."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.promotion.fleet import (
    DIRECTORY_STAGES,
    IMAGE,
    PromoFleet,
    digest,
    policy_doc,
    promotion_doc,
)
from tests.integration.image_push import push_image
from tests.integration.registry_fixtures import RegistryServer

pytestmark = pytest.mark.integration

STAGING = "image-automation/promote-web-staging"
PROD = "image-automation/promote-web-prod"
DEV_AUTOMATION = """\
apiVersion: image-automation.io/v1alpha1
kind: ImageAutomation
metadata: {name: dev, namespace: apps}
spec:
  commit:
    author: {name: Image Bot, email: bot@example.test}
  update: {path: ./clusters/dev}
---
"""


def _reconcile(fleet: PromoFleet) -> str:
    """The dev automation, through ``reconcile --once``."""
    argv = [a if a != "promote" else "reconcile" for a in fleet.argv()]
    from click.testing import CliRunner

    from image_automation.cli import root

    result = CliRunner().invoke(root, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.stdout


def _push(registry: RegistryServer, repository: str, tag: str) -> str:
    with registry.push_client() as client:
        return push_image(client, registry.url, repository, [tag], salt=tag).digest


def test_a_dev_commit_soaks_into_staging_then_prod_after_a_green_status(
    fleet: PromoFleet, registry_anonymous: RegistryServer
) -> None:
    repository = f"team/web-{fleet.fake.provider}-{id(fleet) % 10**6}"
    image = f"{registry_anonymous.host}/{repository}"
    first = _push(registry_anonymous, repository, "1.0.0")
    files = fleet.stage_files(["dev", "staging", "prod"], f"{image}:1.0.0@{first}")
    files["automation/policies.yaml"] = policy_doc(image)
    files["automation/dev.yaml"] = DEV_AUTOMATION
    files["automation/promotion.yaml"] = promotion_doc(fleet.fake, DIRECTORY_STAGES)
    fleet.seed(files)

    built = _push(registry_anonymous, repository, "1.1.0")
    assert "committed" in _reconcile(fleet)  # the tag reaches dev by commit
    assert fleet.marked("dev") == f"{image}:1.1.0@{built}"
    early = fleet.promote()
    assert any("waiting: soak 1h: dev has had it for" in line for line in early), early
    assert fleet.pulls() == []

    fleet.offset = timedelta(hours=2)
    opened = "\n".join(fleet.promote())
    (pr,) = fleet.pulls()
    assert f"branch {STAGING}: opened #{pr.number}" in opened, opened
    assert fleet.marked("staging", STAGING) == f"{image}:1.1.0@{built}"  # dev's digest
    assert built in pr.body and "### Chain so far" in pr.body and "soak 1h" in pr.body
    assert pr.title == f"promote(staging): {image} 1.1.0 from dev"

    newer = _push(registry_anonymous, repository, "1.2.0")
    _reconcile(fleet)
    fleet.offset = timedelta(0)  # commits are made in real time: the clock is relative to it
    waiting = "\n".join(fleet.promote())  # dev has had 1.2.0 for no time at all yet
    assert "keeps 1.1.0" in waiting, waiting  # re-created on the moved base, still 1.1.0
    assert fleet.marked("staging", STAGING) == f"{image}:1.1.0@{built}"
    assert "`apps/web`: soak 1h: dev has had it since" in fleet.fake.pull(pr.number).body
    assert f"unchanged #{pr.number}" in "\n".join(fleet.promote())  # the body stays as it is
    fleet.offset = timedelta(hours=2)
    updated = "\n".join(fleet.promote())
    assert f"branch {STAGING}: updated #{pr.number}" in updated, updated
    assert [p.number for p in fleet.pulls()] == [pr.number]  # in place, not a second one
    assert fleet.marked("staging", STAGING) == f"{image}:1.2.0@{newer}"

    merged = fleet.fake.human_merge(pr.number)
    fleet.offset = timedelta(hours=1)
    soaking = "\n".join(fleet.promote())
    assert "prod (from staging):" in soaking and "waiting: soak 24h" in soaking, soaking
    fleet.offset = timedelta(hours=30)
    pending = "\n".join(fleet.promote())
    assert "check e2e: has not reported on staging's commit" in pending, pending
    fleet.fake.set_status(merged, "e2e", "failure", target_url="https://ci.example.test/e2e/7")
    red = "\n".join(fleet.promote())
    assert "held: gate failed: check e2e: failure on staging's commit " + merged[:12] in red, red
    assert [p.head for p in fleet.pulls("open")] == []
    fleet.fake.set_status(merged, "e2e", "success", target_url="https://ci.example.test/e2e/8")
    green = "\n".join(fleet.promote())
    (prod,) = fleet.pulls("open")
    assert f"branch {PROD}: opened #{prod.number}" in green, green
    assert fleet.marked("prod", PROD) == f"{image}:1.2.0@{newer}"
    assert "https://ci.example.test/e2e/8" in prod.body and "staging `1.2.0` since" in prod.body

    fleet.fake.reset_requests()
    steady = fleet.promote()
    assert fleet.writes() == [], steady  # nothing new: nothing pushed, nothing written


def test_an_image_dev_rolled_back_from_is_never_promoted(fleet: PromoFleet) -> None:
    one, two = f"{IMAGE}:1.0.0@{digest('1.0.0')}", f"{IMAGE}:1.1.0@{digest('1.1.0')}"
    files = fleet.stage_files(["dev", "staging", "prod"], one)
    files["automation/policies.yaml"] = policy_doc()
    files["automation/promotion.yaml"] = promotion_doc(fleet.fake, DIRECTORY_STAGES)
    fleet.seed(files)
    fleet.set_stage("dev", two)
    fleet.offset = timedelta(hours=2)
    fleet.promote()
    (pr,) = fleet.pulls()
    assert fleet.marked("staging", STAGING) == two

    fleet.set_stage("dev", one, message="Revert: 1.1.0 breaks dev")  # a human reverts dev
    reverted = "\n".join(fleet.promote())
    assert f"closed #{pr.number}" in reverted, reverted  # it would promote what dev left
    fleet.set_stage("dev", two, message="the automation bumps it again")
    fleet.offset = timedelta(hours=6)
    again = "\n".join(fleet.promote())
    assert "held: dev rolled back from 1.1.0" in again and "never promoted" in again, again
    assert fleet.pulls("open") == []
    assert fleet.marked("staging") == one


def test_a_closed_promotion_window_opens_nothing_and_says_when_it_opens(fleet: PromoFleet) -> None:
    one, two = f"{IMAGE}:1.0.0@{digest('1.0.0')}", f"{IMAGE}:1.1.0@{digest('1.1.0')}"
    berlin = ZoneInfo("Europe/Berlin")
    today = datetime.now(berlin).date()
    noon = datetime.combine(today + timedelta(days=3), time(12), tzinfo=berlin)
    name = noon.strftime("%a")  # a day that is neither today nor tomorrow
    stages = f"""\
    - {{name: dev, path: clusters/dev}}
    - name: staging
      path: clusters/staging
      soak: 1h
      windows: [{{days: [{name}], start: "00:00", end: "24:00", timeZone: Europe/Berlin}}]
"""
    files = fleet.stage_files(["dev", "staging"], one)
    files["automation/policies.yaml"] = policy_doc()
    files["automation/promotion.yaml"] = promotion_doc(fleet.fake, stages)
    fleet.seed(files)
    fleet.set_stage("dev", two)
    fleet.offset = timedelta(hours=2)
    closed = "\n".join(fleet.promote())
    assert "waiting: promotion window closed: outside the update windows; opens " in closed
    assert fleet.pulls() == [] and fleet.writes() == [], closed

    fleet.offset = noon - datetime.now(UTC)  # midday of that day in Berlin
    opened = "\n".join(fleet.promote())
    (pr,) = fleet.pulls()
    assert f"opened #{pr.number}" in opened and f"window {name} 00:00-24:00" in pr.body, opened
