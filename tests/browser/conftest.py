"""The console in a real browser: Playwright driving the system's Chromium against a stack.

``playwright install`` cannot download a browser here, so the tests launch
Debian's Chromium (``apt-get install chromium``; ``.ci/run`` installs it).
Without it the tests are skipped on a developer's machine and fail in CI
(``CI=true``), so a missing browser never passes as green. Screenshots of every
page go to ``.test-output/browser/`` (git-ignored).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.conftest import Stack
from tests.helpers import PASSWORDS

CHROMIUM = os.environ.get("SCHEDULER_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".test-output" / "browser"


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium binary to drive: missing, the browser tests skip (fail under CI)."""
    found = shutil.which(CHROMIUM)
    if found is None:
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


# Module-scoped: while the sync driver runs, its event loop is this thread's
# running loop, and a later test's asyncio.run() would refuse to start.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright, chromium: str) -> Iterator[Browser]:
    launched = playwright.chromium.launch(
        executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
    )
    yield launched
    launched.close()


@pytest.fixture
def context(browser: Browser, stack: Stack) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies) pointed at the stack's API."""
    made = browser.new_context(base_url=stack.base_url, viewport={"width": 1400, "height": 900})
    made.set_default_timeout(15_000)
    yield made
    made.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


def sign_in(page: Page, username: str) -> None:
    """Sign in through the form, as a person would."""
    page.goto("/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORDS[username])
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/tasks")


def screenshot(page: Page, name: str) -> Path:
    """A full-page screenshot in the git-ignored output folder."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
