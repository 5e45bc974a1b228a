#!/usr/bin/env python3
"""Take the screenshots of docs/ (the README embeds them) from the demo organization.

Run through `scripts/screenshots`, which prepares the environment and seeds the demo first.
Starts the web server on a free port, signs in as the demo people in headless Chromium
(Debian's package, as the browser tests) and writes one PNG per main page.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PASSWORD = "handoff-demo-2026"  # noqa: S105 - the published demo login (seed_demo.py)
DESKTOP = {"viewport": {"width": 1366, "height": 860}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}

# (file, who, path, context, full page?, element to wait for)
SHOTS = [
    ("landing-rep.png", "rep1", "/", DESKTOP, True, ".headline-numbers"),
    ("scorecard.png", "cro", "/dashboards/", DESKTOP, True, ".spark.figure-ready"),
    ("charts.png", "cro", "/dashboards/charts/", DESKTOP, False, ".figure-ready"),
    ("drilldown.png", "cro", None, DESKTOP, False, "table.drilldown"),
    ("rep-queue.png", "rep1", "/queue/", DESKTOP, False, "tr.queue-row"),
    ("queue-phone.png", "rep1", "/queue/", PHONE, False, "tr.queue-row"),
    ("landing-sales-leader.png", "sales", "/", DESKTOP, True, ".to-sign"),
    ("sla-document.png", "marketing", "/sla/document/", DESKTOP, True, "article.sla-document"),
    ("audit-log.png", "admin", "/accounts/audit/", DESKTOP, False, "table.audit"),
    ("feedback.png", "marketing", "/queue/feedback/", DESKTOP, False, "h1"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _chromium() -> str:
    for candidate in (
        os.environ.get("CHROMIUM_PATH"),
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
    ):
        if candidate and Path(candidate).exists():
            return candidate
    sys.exit("Chromium not found: install Debian's chromium package or set CHROMIUM_PATH.")


def _server(port: int) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_DEBUG": "true", "SITE_PORT": str(port)}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(150):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    sys.exit("the web server did not start")


def _sign_in(browser, base: str, who: str, context: dict):
    page = browser.new_context(**context).new_page()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", f"{who}@acme.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def main() -> None:
    port = _free_port()
    base = f"http://acme.localhost:{port}"
    server = _server(port)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=_chromium(), headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            for name, who, path, context, full, ready in SHOTS:
                page = _sign_in(browser, base, who, context)
                if path is None:  # the leads behind the first-contact tile
                    page.goto(f"{base}/dashboards/?period=last_week")
                    page.locator(".tile", has_text="acts on leads").locator("a.tile-link").click()
                else:
                    page.goto(base + path)
                page.wait_for_selector(ready, timeout=30000)
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(DOCS / name), full_page=full)
                print(f"  docs/{name}")
                page.context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=15)


if __name__ == "__main__":
    main()
