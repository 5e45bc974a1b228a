"""Every template keeps to the Content-Security-Policy (`script-src 'self'`): no inline script,
no `on*=` handler, no `javascript:` URL. The browser test (test_csp_browser.py) sees a violation
only when Chromium runs the offending code — a confirm() on a button nobody clicks there, or a
link nobody follows, would slip through it; this reads every template instead."""

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
HANDLER = re.compile(r"<[^>]*(?:\s|%\}|\}\})on[a-z]+\s*=", re.IGNORECASE | re.DOTALL)
JAVASCRIPT_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']\s*javascript:""", re.IGNORECASE)
# htmx evaluates hx-on, hx-vars, `js:` values and trigger filters (`every 60s [cond]`).
HTMX_EVAL = re.compile(
    r"""\bhx-on[:\w-]*=|\bhx-vars=|(?:hx-vals|hx-headers)=["']\s*(?:js|javascript):"""
    r"""|hx-trigger=["'][^"']*\["""
)


def _offences(pattern: re.Pattern) -> list[str]:
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        for match in pattern.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(f"{path.relative_to(TEMPLATES)}:{line}: {match.group(0)[:80]}")
    return found


def test_no_template_has_an_inline_script():
    assert _offences(INLINE_SCRIPT) == []


def test_no_template_has_an_inline_event_handler():
    assert _offences(HANDLER) == []


def test_no_template_has_a_javascript_url():
    assert _offences(JAVASCRIPT_URL) == []


def test_no_template_needs_htmx_eval():
    assert _offences(HTMX_EVAL) == []


def test_the_patterns_catch_what_they_are_for():
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert not INLINE_SCRIPT.search('<script src="/static/js/app.js" defer></script>')
    assert HANDLER.search('<form method="post"\n  onsubmit="return confirm(1)">')
    assert HANDLER.search("<form {% if x %}onsubmit=\"return confirm('Sure?')\"{% endif %}>")
    assert not HANDLER.search('<form method="post" data-confirm="Sure?">')
    assert JAVASCRIPT_URL.search('<a href="javascript:history.back()">')
    assert HTMX_EVAL.search('<div hx-trigger="every 60s [!busy]">')
    assert not HTMX_EVAL.search('<div hx-trigger="every 60s">')
    assert HTMX_EVAL.search("<button hx-vals='js:{index: 1}'>")
    assert HTMX_EVAL.search('<button hx-vars="index:1">')
