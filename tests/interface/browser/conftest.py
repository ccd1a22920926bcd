"""Browser tests: Playwright drives Debian's Chromium against a live server.

While Playwright's sync API is started, an event loop runs in the test
thread, which makes Django refuse ORM calls there (``SynchronousOnlyOperation``).
The tests only use the ORM between browser steps, never concurrently, so
``DJANGO_ALLOW_ASYNC_UNSAFE`` is set for as long as the browser runs (one per
module), and unset afterwards so no other test or subprocess inherits it.
"""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
outcome_key = pytest.StashKey[pytest.TestReport]()

expect.set_options(timeout=10_000)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each test's outcome on the item, for the screenshot on failure."""
    report = yield
    if report.when == "call":
        item.stash[outcome_key] = report
    return report


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, one per test module."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup (it installs Debian's chromium package)")
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, live_server, request):
    """Open a page in a fresh browser context (its own cookies: one person);
    every page opened is screenshotted into test-artifacts/ if the test fails."""
    pages: list[Page] = []

    def open_page(path: str = "/") -> Page:
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.goto(path)
        pages.append(page)
        return page

    yield open_page

    outcome = request.node.stash.get(outcome_key, None)
    if outcome is not None and outcome.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]", "_", request.node.name)
        for index, page in enumerate(pages):
            page.screenshot(path=ARTIFACTS / f"{name}-{index}.png", full_page=True)
    for page in pages:
        page.context.close()
