"""The status page in a real headless Chromium, against a daemon on a real registry and remote.

Every page loads with no console error, passes axe-core (WCAG 2 A/AA and best practices),
links lead where they say, a hostile commit subject shows as text and runs nothing, and the
script's poll offers a reload when the data changed. Screenshots go to the test output dir
(browser.output_dir); ``IA_UPDATE_DOCS_SCREENSHOTS=1`` also copies them to docs/status/.
"""

from __future__ import annotations

import os
import shutil
from urllib.parse import urlsplit

import httpx
import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.daemon.harness import Fleet
from tests.e2e.status.browser import ROOT, Browser
from tests.e2e.status.scenario import HOSTILE_SUBJECT, POLICY, settled, with_history

DOCS = ROOT / "docs" / "status"


def clean(browser: Browser, name: str) -> None:
    """No alert opened, axe finds nothing, and a screenshot is saved."""
    with pytest.raises(NoAlertPresentException):
        browser.driver.switch_to.alert.text  # noqa: B018 - raises when no alert is open
    violations = browser.axe()
    assert not violations, [(v["id"], v.get("help"), len(v.get("nodes", []))) for v in violations]
    shot = browser.screenshot(name)
    if os.environ.get("IA_UPDATE_DOCS_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS / shot.name)


def test_pages_load_clean_links_work_and_hostile_text_stays_text(
    fleet: Fleet, browser: Browser
) -> None:
    with_history(fleet)
    fleet.start()
    settled(fleet)
    pages = {
        "overview": f"{fleet.url}/status",
        "policy": f"{fleet.url}/status/policies/{POLICY}",
        "events": f"{fleet.url}/status/events",
        "events-filtered": f"{fleet.url}/status/events?kind=commit_pushed",
    }
    links: set[str] = set()
    for name, url in pages.items():
        assert browser.visit(url) == [], name
        clean(browser, name)
        links.update(h for h in browser.links() if urlsplit(h).netloc == urlsplit(fleet.url).netloc)
    for href in sorted(links):  # every link the pages show answers (the API's JSON too)
        assert httpx.get(href, timeout=10).status_code == 200, href

    browser.visit(pages["overview"])
    browser.driver.find_element(By.LINK_TEXT, POLICY).click()
    WebDriverWait(browser.driver, 30).until(lambda d: d.current_url == pages["policy"])
    assert browser.driver.find_element(By.TAG_NAME, "h1").text == f"Policy {POLICY}"
    assert HOSTILE_SUBJECT in browser.text()  # shown as text, not run
    svg = browser.driver.find_element(By.CSS_SELECTOR, "svg.timeline")
    assert len(svg.find_elements(By.CSS_SELECTOR, "circle.point")) == 4
    browser.driver.find_element(By.LINK_TEXT, "Events").click()
    WebDriverWait(browser.driver, 30).until(lambda d: d.current_url == pages["events"])
    select = browser.driver.find_element(By.ID, "kind")
    select.find_element(By.CSS_SELECTOR, "option[value=commit_pushed]").click()
    browser.driver.find_element(By.CSS_SELECTOR, "form.filters button").click()
    WebDriverWait(browser.driver, 30).until(lambda d: "kind=commit_pushed" in d.current_url)
    rows = browser.driver.find_elements(By.CSS_SELECTOR, "main table tbody tr")
    assert rows and all("commit_pushed" in r.text for r in rows)


def test_the_script_offers_a_reload_when_the_api_says_the_data_changed(
    fleet: Fleet, browser: Browser
) -> None:
    with_history(fleet)
    fleet.start()
    settled(fleet)
    assert browser.visit(f"{fleet.url}/status") == []
    notice = browser.driver.find_element(By.ID, "refresh")
    assert not notice.is_displayed()
    same = browser.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/api/v1/status', {headers: {'If-None-Match': document.body.dataset.etag},"
        " cache: 'no-store'}).then(r => done(r.status), e => done(String(e)));"
    )
    assert same == 304  # what the poll sees while nothing changed
    browser.driver.execute_script("document.body.dataset.etag = 'W/\"stale\"'")
    WebDriverWait(browser.driver, 60).until(lambda d: notice.is_displayed())
    assert browser.driver.get_log("browser") == []
