"""Real headless Chromium (Debian's package) driven by Playwright; no browser download."""

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from tests.support.clock import install_in_browser_context, is_shifted

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Flags from this environment's notes: no sandbox as root, and no background
# networking, which would try to reach hosts that a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    path = (
        os.environ.get("CHROMIUM_PATH")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )
    if not path:
        raise RuntimeError(
            "Chromium not found: install Debian's `chromium` package or set CHROMIUM_PATH."
        )
    return path


@contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        _share_the_session_clock(browser)
        try:
            yield browser
        finally:
            browser.close()


def _share_the_session_clock(browser) -> None:
    """Every page and context of this browser runs on the test session's clock
    (shifted with `--as-of`), so the page's countdowns agree with the server's."""
    if not is_shifted():
        return
    new_context, new_page = browser.new_context, browser.new_page

    def context_on_session_clock(**kwargs):
        context = new_context(**kwargs)
        install_in_browser_context(context)
        return context

    def page_on_session_clock(**kwargs):
        page = new_page(**kwargs)
        install_in_browser_context(page.context)
        return page

    browser.new_context, browser.new_page = context_on_session_clock, page_on_session_clock


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
