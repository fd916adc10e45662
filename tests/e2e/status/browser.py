"""Debian's headless Chromium driven by Selenium, with console capture, screenshots and axe.

Facts from /work/shared/TESTBED.md: as root Chromium needs ``--no-sandbox``; the driver and the
binary are passed explicitly so Selenium Manager never reaches for the network. A start that
fails raises (the fixture errors, the test never skips). axe-core is the vendored, checksummed
copy in tests/fixtures/axe (see its PROVENANCE.md); it is injected into the page under test,
never served by the daemon.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
AXE = ROOT / "tests" / "fixtures" / "axe" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
WIDTH = 1280
MAX_HEIGHT = 2400


def output_dir() -> Path:
    """Where screenshots go: ``$IA_TEST_OUTPUT/status`` or ``test-output/status``."""
    base = Path(os.environ.get("IA_TEST_OUTPUT") or ROOT / "test-output")
    path = base / "status"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Browser:
    driver: webdriver.Chrome

    def visit(self, url: str) -> list[dict[str, Any]]:
        """Load ``url``; the console's errors (and failed loads) since the last visit."""
        self.driver.get_log("browser")  # drop what earlier pages left
        self.driver.get(url)
        self.driver.execute_script("return document.readyState")
        return [e for e in self.driver.get_log("browser") if e.get("level") == "SEVERE"]

    def links(self) -> list[str]:
        found = self.driver.execute_script(
            "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"
        )
        return [str(h) for h in found]

    def text(self) -> str:
        return str(self.driver.execute_script("return document.body.innerText"))

    def screenshot(self, name: str) -> Path:
        """The whole page (up to :data:`MAX_HEIGHT` px) as ``output_dir()/name.png``."""
        height = int(self.driver.execute_script("return document.documentElement.scrollHeight"))
        self.driver.set_window_size(WIDTH, min(max(height, 400), MAX_HEIGHT))
        path = output_dir() / f"{name}.png"
        if not self.driver.save_screenshot(str(path)):
            raise AssertionError(f"no screenshot of {name}")
        self.driver.set_window_size(WIDTH, 900)
        return path

    def axe(self) -> list[dict[str, Any]]:
        """axe-core's violations on the current page (WCAG 2 A/AA and best practices)."""
        source = AXE.read_bytes()
        digest = hashlib.sha256(source).hexdigest()
        if digest != AXE_SHA256:
            raise AssertionError(f"{AXE} changed (sha256 {digest}); see PROVENANCE.md")
        self.driver.execute_script(source.decode("utf-8"))
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(r => done(r.violations), e => done([{id: 'axe-error', help: String(e)}]));"
        )
        return list(result)


@contextmanager
def open_browser() -> Iterator[Browser]:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            raise RuntimeError(f"{path} is missing: `make sysdeps` installs chromium and "
                               "chromium-driver")  # fmt: skip
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={WIDTH},900", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    except WebDriverException as exc:
        raise RuntimeError(f"headless Chromium did not start: {exc.msg}") from exc
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    try:
        yield Browser(driver)
    finally:
        driver.quit()
