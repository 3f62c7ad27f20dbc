"""The HTML report in headless Chromium: no console errors, no requests, MathML laid out, links and filter work.

Screenshots go to ``test-artifacts/`` (desktop and phone width).
"""

from __future__ import annotations

import base64
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evalkit.report import write_report
from tests.report.cdp import Browser
from tests.report.conftest import require

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    require(None if CHROMIUM else "chromium", "chromium")  # skipped without it; failed under CI
    assert CHROMIUM is not None
    with Browser(CHROMIUM, tmp_path_factory.mktemp("chromium-profile")) as b:
        yield b


class Page:
    """One tab showing one file, and what happened in it."""

    def __init__(self, browser: Browser, path: Path, metrics: dict[str, Any]) -> None:
        self.browser, self.url = browser, path.resolve().as_uri()
        self.session = browser.open_page()
        browser.call("Emulation.setDeviceMetricsOverride", metrics, self.session)
        browser.call("Page.navigate", {"url": self.url}, self.session)
        browser.wait_event("Page.loadEventFired", self.session)

    def js(self, expression: str) -> Any:
        return self.browser.evaluate(expression, self.session)

    def events(self, *methods: str) -> list[dict[str, Any]]:
        return [
            e for e in self.browser.events if e.get("sessionId") == self.session and e["method"] in methods
        ]

    def problems(self) -> list[str]:
        """Console errors, exceptions, log errors (CSP violations among them) and JavaScript dialogs."""
        out = []
        for e in self.events("Runtime.consoleAPICalled"):
            if e["params"]["type"] in ("error", "assert"):
                out.append(f"console: {e['params']['args']}")
        for e in self.events("Runtime.exceptionThrown"):
            out.append(f"exception: {e['params']['exceptionDetails']}")
        for e in self.events("Log.entryAdded"):
            if e["params"]["entry"]["level"] in ("error", "warning"):
                out.append(f"log: {e['params']['entry'].get('text')}")
        out += [f"dialog: {e['params']}" for e in self.events("Page.javascriptDialogOpening")]
        return out

    def requests(self) -> list[str]:
        urls = [e["params"]["request"]["url"] for e in self.events("Network.requestWillBeSent")]
        return [u for u in urls if u != self.url]

    def screenshot(self, path: Path) -> None:
        data = self.browser.call("Page.captureScreenshot", {"format": "png"}, self.session)["data"]
        path.write_bytes(base64.b64decode(data))

    def settle(self) -> None:
        self.js("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


@pytest.fixture(scope="module")
def hw9_html(hw9_run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(hw9_run, "html", tmp_path_factory.mktemp("hw9-html") / "report.html")


def test_hw9_report_in_chromium(browser: Browser, hw9_html: Path, artifacts: Path) -> None:
    page = Page(browser, hw9_html, DESKTOP)
    # MathML is there, and laid out as math: a fraction's numerator sits above its denominator
    assert page.js("document.querySelectorAll('math').length") > 50
    displays = page.js(
        "[...new Set([...document.querySelectorAll('math')].map(m => getComputedStyle(m).display))]"
    )
    assert set(displays) <= {"math", "inline math", "block math"}, (
        displays
    )  # not laid out as plain inline text
    stacked = page.js(
        """[...document.querySelectorAll('mfrac')].filter(f => f.getClientRects().length).slice(0, 20).every(f => {
             const [top, bottom] = [...f.children].map(c => c.getBoundingClientRect());
             return top.height > 0 && top.bottom <= bottom.top + 1; })"""
    )
    assert stacked is True
    page.screenshot(artifacts / "report-hw9-desktop.png")

    # the question index navigates to the question
    page.js("document.querySelector('nav.index a[href=\"#q-q3\"]').click()")
    page.settle()
    hash_, top, scrolled = page.js(
        "[location.hash, document.getElementById('q-q3').getBoundingClientRect().top, window.scrollY]"
    )
    assert hash_ == "#q-q3" and 0 <= top < 80 and scrolled > 500
    page.screenshot(artifacts / "report-hw9-q3.png")

    # "show only parts that needed help" hides one-shot questions, keeps Q3
    visible = "id => getComputedStyle(document.getElementById(id)).display !== 'none'"
    assert page.js(f"['q-q1', 'q-q3'].map({visible})") == [True, True]
    page.js("document.getElementById('only-help').click()")
    page.settle()
    assert page.js(f"['q-q1', 'q-q2', 'q-q3', 'q-q4'].map({visible})") == [False, False, True, False]
    page.js("document.getElementById('only-help').click()")

    # readable on a phone: nothing wider than the screen, margin notes below the messages
    browser.call("Emulation.setDeviceMetricsOverride", PHONE, page.session)
    page.js("document.getElementById('q-q3-t2').scrollIntoView()")
    page.settle()
    assert page.js("document.documentElement.scrollWidth <= window.innerWidth") is True
    assert (
        page.js("getComputedStyle(document.querySelector('.passage')).gridTemplateColumns.split(' ').length")
        == 1
    )
    page.screenshot(artifacts / "report-hw9-phone.png")

    assert page.problems() == []
    assert page.requests() == []


def test_hostile_report_runs_nothing_and_fetches_nothing(
    browser: Browser, fake_runs, tmp_path, artifacts
) -> None:
    path = write_report(fake_runs["a"], "html", tmp_path / "hostile.html")
    page = Page(browser, path, DESKTOP)
    time.sleep(0.3)  # give a would-be script or image the chance to act
    assert page.js("document.querySelectorAll('script').length") == 1
    assert page.js("document.querySelectorAll('img, iframe, object, embed, link').length") == 0
    assert page.js("[...document.querySelectorAll('a[href]')].every(a => a.href.startsWith('file:'))") is True
    assert page.js("document.body.innerText.includes('<script>alert(1)</script>')") is True
    page.js("document.getElementById('q-q2-t2').scrollIntoView()")
    page.settle()
    page.screenshot(artifacts / "report-hostile.png")
    assert page.problems() == []
    assert page.requests() == []


def test_hw9_explanations_hints_and_reply_html_render_in_chromium(
    browser: Browser, hw9_html: Path, artifacts: Path
) -> None:
    page = Page(browser, hw9_html, DESKTOP)
    # the checker's explanations: formulas laid out as MathML, none of their TeX or sympy ASCII left as text
    why = """[...document.querySelectorAll('table.verdicts td.why')].map(td => {
               const c = td.cloneNode(true); c.querySelectorAll('details, math').forEach(e => e.remove());
               return c.textContent; }).join(' | ')"""
    text = page.js(why)
    for raw in ("mu^2", "\\left", "\\frac", "sqrt(", "^2", "h*v"):
        assert raw not in text, raw
    maths = page.js("document.querySelectorAll('table.verdicts td.why > math').length")
    assert maths >= 10
    assert page.js("getComputedStyle(document.querySelector('table.verdicts td.why > math')).display") in (
        "math",
        "inline math",
    )
    # the hints sent: Markdown rendered as in the recap
    assert page.js("[...document.querySelectorAll('.hint-sent')].map(d => d.textContent)") == [
        "1. Would you have to modify split_heads at all?"
    ]
    assert page.js("document.querySelectorAll('.hint-sent code').length") == 1
    # HTML in a reply: Claude's Q3 summary table writes <code>d_model</code>, shown as code
    assert "<code>" not in page.js("document.getElementById('q-q3').innerText")
    cells = page.js("[...document.querySelectorAll('#q-q3 .body td > code')].map(c => c.textContent)")
    assert cells[:3] == ["d_model", "d_model", "d_model"] and "self.num_heads" in cells
    page.js("document.querySelector('#q-q4 table.verdicts').scrollIntoView()")
    page.settle()
    page.screenshot(artifacts / "report-hw9-q4-verdicts.png")
    assert page.problems() == []


def test_hw9_margin_verdicts_sit_beside_each_parts_answer(
    browser: Browser, hw9_html: Path, artifacts: Path
) -> None:
    page = Page(browser, hw9_html, DESKTOP)
    # Q4's reply answers (a)-(g) under their own headings: each verdict is level with its part's heading
    rows = page.js(
        """[...document.querySelectorAll('#q-q4-t2 .grading')].map(g => {
             const heading = [...g.closest('.passage').querySelectorAll('.body > *')]
               .find(e => e.textContent.startsWith('Part (' + g.dataset.part + ')'));
             return [g.dataset.part, g.getBoundingClientRect().top,
                     heading ? heading.getBoundingClientRect().top : null]; })"""
    )
    assert [part for part, _, _ in rows] == list("abcdefg")
    for part, top, heading in rows:
        assert heading is not None and abs(top - heading) < 30, (part, top, heading)
    tops = [top for _, top, _ in rows]
    assert tops == sorted(tops) and tops[-1] - tops[0] > 2000  # spread down the reply, not stacked at its top
    page.js("document.querySelector('#q-q4-t2 .grading[data-part=\"g\"]').scrollIntoView({block: 'center'})")
    page.settle()
    page.screenshot(artifacts / "report-hw9-q4g-margin.png")
    # on a phone each verdict follows its own part's passage
    browser.call("Emulation.setDeviceMetricsOverride", PHONE, page.session)
    page.settle()
    assert (
        page.js("getComputedStyle(document.querySelector('.passage')).gridTemplateColumns.split(' ').length")
        == 1
    )
    assert page.js("document.documentElement.scrollWidth <= window.innerWidth") is True
    assert page.problems() == []
