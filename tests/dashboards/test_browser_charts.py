"""Every chart, drawn by plotly.js in a real headless Chromium at desktop (1440x900) and phone
(390x844) widths: no legend over a title, no text outside its figure, no two data labels on
top of each other, every funnel label whole; a new organization sees empty states, not
all-zero bars. Screenshots go to test-artifacts/charts-<width>.png."""

import re
import subprocess

import pytest
from playwright.sync_api import expect

from tests.dashboards.browser_setup import PASSWORD
from tests.support.browser import ARTIFACTS, chromium, screenshot
from tests.support.processes import ROOT, child_env, live_server, python_argv

pytestmark = [pytest.mark.browser]

WITH_DATA = "chartlayout"
EMPTY = "chartfresh"
VIEWPORTS = {"desktop": (1440, 900), "phone": (390, 844)}


def _setup(action: str, subdomain: str) -> None:
    subprocess.run(
        python_argv("-m", "tests.dashboards.browser_setup", action, subdomain),
        cwd=ROOT,
        env=child_env(),
        check=True,
        timeout=300,
    )


@pytest.fixture
def organizations(db):
    for subdomain in (WITH_DATA, EMPTY):
        _setup("drop", subdomain)  # a previous run that was interrupted
    _setup("create", WITH_DATA)
    _setup("create-empty", EMPTY)
    yield
    for subdomain in (WITH_DATA, EMPTY):
        _setup("drop", subdomain)


# Geometry of every drawn figure, measured in the page: the boxes plotly.js really drew.
MEASURE = """
() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; };
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || !el.textContent.trim()) return false;
    const style = getComputedStyle(el);
    return style.display !== 'none' && style.visibility !== 'hidden' && Number(style.opacity || 1) > 0.05;
  };
  return Array.from(document.querySelectorAll('.figure.figure-ready')).map((fig) => {
    const svg = fig.querySelector('svg.main-svg');
    const legend = fig.querySelector('.legend');
    const titles = Array.from(new Set(fig.querySelectorAll('.g-gtitle text, text.gtitle, text.gtitle-subtitle'))).filter(shown);
    const texts = Array.from(fig.querySelectorAll('svg text')).filter(shown);
    const labels = Array.from(fig.querySelectorAll('text.bartext, .textpoint text, .annotation-text')).filter(shown);
    return {
      chart: fig.closest('section') ? fig.closest('section').id : '',
      svg: box(svg),
      legend: legend && shown(legend) ? box(legend.querySelector('.bg') || legend) : null,
      titles: titles.map((t) => ({text: t.textContent, box: box(t)})),
      texts: texts.map((t) => ({text: t.textContent, box: box(t)})),
      labels: labels.map((t) => ({text: t.textContent, box: box(t)})),
      funnel: Array.from(fig.querySelectorAll('.funnellayer text.bartext')).map((t) => ({
        text: t.textContent, size: parseFloat(getComputedStyle(t).fontSize), box: box(t)})),
    };
  });
}
"""


def _overlap(a, b, slack=1.0) -> bool:
    return (
        a["x"] + slack < b["x"] + b["w"]
        and b["x"] + slack < a["x"] + a["w"]
        and a["y"] + slack < b["y"] + b["h"]
        and b["y"] + slack < a["y"] + a["h"]
    )


def _inside(inner, outer, slack=1.0) -> bool:
    return (
        inner["x"] >= outer["x"] - slack
        and inner["y"] >= outer["y"] - slack
        and inner["x"] + inner["w"] <= outer["x"] + outer["w"] + slack
        and inner["y"] + inner["h"] <= outer["y"] + outer["h"] + slack
    )


def _problems(figures) -> list[str]:
    found = []
    for fig in figures:
        name = fig["chart"]
        if fig["legend"]:
            found += [
                f"{name}: the legend covers the title “{t['text']}”"
                for t in fig["titles"]
                if _overlap(fig["legend"], t["box"])
            ]
        found += [
            f"{name}: “{t['text']}” is cut off at the figure's edge"
            for t in fig["texts"]
            if not _inside(t["box"], fig["svg"])
        ]
        labels = fig["labels"]
        found += [
            f"{name}: “{a['text']}” runs into the title “{t['text']}”"
            for a in labels
            for t in fig["titles"]
            if _overlap(a["box"], t["box"])
        ]
        for i, a in enumerate(labels):
            found += [
                f"{name}: “{a['text']}” and “{b['text']}” overlap"
                for b in labels[i + 1 :]
                if _overlap(a["box"], b["box"])
            ]
        # plotly scales a label down (an SVG transform) when it does not fit its bar.
        found += [
            f"{name}: funnel label “{t['text']}” shrunk to fit ({t['box']['h']:.0f}px high)"
            for t in fig["funnel"]
            if t["box"]["h"] < 0.9 * t["size"]
        ]
    return found


def _login(page, base: str, subdomain: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", f"cro@{subdomain}.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(rf"{re.escape(base)}/$"))


def test_every_chart_fits_at_desktop_and_phone_widths(organizations, tmp_path):
    problems = []
    with live_server(tmp_path) as port, chromium() as browser:
        base = f"http://{WITH_DATA}.localhost:{port}"
        for device, (width, height) in VIEWPORTS.items():
            page = browser.new_page(viewport={"width": width, "height": height})
            _login(page, base, WITH_DATA)
            page.goto(f"{base}/dashboards/charts/?period=last_week")
            figures = page.locator(".figure[data-spec]")
            total = figures.count()
            assert total >= 10
            # (expect, not wait_for_function: the page's Content-Security-Policy forbids eval.)
            expect(page.locator(".figure.figure-ready")).to_have_count(total, timeout=30000)
            screenshot(page, f"charts-{device}")
            for index in range(figures.count()):
                section = figures.nth(index).locator("xpath=ancestor::section[1]")
                name = section.get_attribute("id")
                section.screenshot(path=str(ARTIFACTS / f"charts-{device}-{name}.png"))
            measured = page.evaluate(MEASURE)
            assert len(measured) == total
            assert {m["chart"] for m in measured} >= {
                "chart-rejections",
                "chart-revenue",
                "chart-funnel",
                "chart-first-contact",
            }
            problems += [f"{device}: {problem}" for problem in _problems(measured)]
            page.close()
    assert not problems, "\n".join(problems)


def test_a_new_organization_sees_empty_states_not_zero_bars(organizations, tmp_path):
    with live_server(tmp_path) as port, chromium() as browser:
        base = f"http://{EMPTY}.localhost:{port}"
        for device, (width, height) in VIEWPORTS.items():
            page = browser.new_page(viewport={"width": width, "height": height})
            _login(page, base, EMPTY)
            page.goto(f"{base}/dashboards/charts/?period=this_month")
            sections = page.locator(".chart-grid > section")
            assert sections.count() >= 10
            assert page.locator(".figure[data-spec]").count() == 0
            assert page.locator(".chart-grid > section .empty").count() == sections.count()
            for index in range(sections.count()):
                text = sections.nth(index).inner_text()
                assert "No " in text, text
            screenshot(page, f"charts-empty-{device}")
            page.close()
