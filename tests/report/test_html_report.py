"""The HTML report as a file: self-contained, hostile text inert, the write-up's shape."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markupsafe import escape

from evalkit.report import build_report, render_html, write_run_reports
from evalkit.report.html import SCRIPT, _csp


@pytest.fixture(scope="module")
def page(fake_runs) -> str:
    return render_html(build_report(fake_runs["a"]))


def test_self_contained(page: str) -> None:
    assert "<link" not in page and "@import" not in page
    assert not re.search(r"""<[^>]*\bsrc\s*=""", page)  # no images, scripts or frames from anywhere
    assert re.findall(r"<script\b", page) == ["<script"]  # ours, and only ours
    assert f'content="{escape(_csp(SCRIPT))}"' in page and "default-src &#39;none&#39;" in page
    assert f"<script>{SCRIPT}</script>" in page  # the hash in the CSP is of exactly this text


def test_hostile_model_text_is_inert(page: str) -> None:
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("</style>") == 1  # the stylesheet's own
    assert not re.search(r"""href\s*=\s*["']?\s*javascript""", page, re.IGNORECASE)
    assert "onerror=" not in page.replace("onerror=alert(1)&gt;", "")
    assert "\\input{/etc/passwd}" in page and "\\end{document}" in page


def test_shape_of_the_write_up(page: str) -> None:
    order = [
        'id="overview"',
        "Answered in one shot:",
        'id="opening"',
        'id="q-q1"',
        'id="q-q3"',
        "Verdicts for Q3",
        'id="summary"',
        "Per question",
        "Per part",
    ]
    positions = [page.index(marker) for marker in order]
    assert positions == sorted(positions)
    q3 = page[page.index('id="q-q3"') : page.index('id="q-q4"')]
    assert "✓</span> <b>(b)</b> after hint 1" in q3
    assert "hint 1 · (b)" in q3 and "Would you have to modify <code>split_heads</code> at all?" in q3
    assert "split-heads and combine-heads have to agree." in q3  # the reviewer's note, in the margin
    assert '<a href="#q-q3">' in page and '<input type="checkbox" id="only-help">' in page
    assert page.count("<math") > 10


def test_needed_help_markers_drive_the_filter(page: str) -> None:
    sections = dict(re.findall(r'<section id="(q-q\d)" class="question" data-help="(yes|no)">', page))
    assert sections == {"q-q1": "no", "q-q2": "no", "q-q3": "yes", "q-q4": "yes"}


def test_cost_is_shown_when_the_run_has_it(fake_runs) -> None:
    page = render_html(build_report(fake_runs["b"]))
    assert ("cost" in page) == (fake_runs["b"].results.get("totals", {}).get("cost_usd") is not None)


def test_write_run_reports_without_tex(run_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(run_copy))  # nothing called latexmk there
    messages: list[str] = []
    written = write_run_reports(run_copy, messages.append)
    assert written == [run_copy / "report.html"] and (run_copy / "report.html").stat().st_size > 10_000
    assert len(messages) == 1 and "no TeX engine" in messages[0]


def test_write_run_reports_says_what_went_wrong(run_copy: Path) -> None:
    (run_copy / "notes.yaml").write_text("notes:\n  - {question: nope, text: x}\n", encoding="utf-8")
    messages: list[str] = []
    assert write_run_reports(run_copy, messages.append) == []
    assert len(messages) == 1 and "notes.yaml:2" in messages[0]


@pytest.fixture(scope="module")
def hw9_page(hw9_run) -> str:
    return render_html(build_report(hw9_run))


def _without_tags(html: str) -> str:
    html = re.sub(r"<details.*?</details>", "", html, flags=re.DOTALL)  # the checks' raw details, kept raw
    return re.sub(r"<[^>]+>", "", html)


def test_hw9_explanations_are_typeset(hw9_page: str) -> None:
    tables = re.findall(r'<table class="verdicts">.*?</table>', hw9_page, re.DOTALL)
    assert len(tables) == 5
    q1, q4 = tables[0], tables[3]
    assert "<math" in q1 and "<math" in q4 and "<mfrac>" in q4  # d mu^2; O\left(... \frac{bnd}{h} ...\right)
    text = _without_tags("".join(tables))
    for raw in ("mu^2", r"\left", r"\frac", "sqrt(d)", "d^2", "h*v"):
        assert raw not in text, raw
    assert "formula: " in text and " is equivalent to the expected answer" in text


def test_hw9_hints_sent_and_reply_html_are_rendered(hw9_page: str) -> None:
    hints = re.findall(r'<div class="hint-sent">(.*?)</div>', hw9_page, re.DOTALL)
    assert hints == ["1. Would you have to modify <code>split_heads</code> at all?"]
    q3 = hw9_page[hw9_page.index('id="q-q3"') : hw9_page.index('id="q-q4"')]
    assert "&lt;code&gt;" not in q3  # Claude's summary table writes <code>d_model</code>
    assert re.search(r"<td>\(a\)</td>\s*<td><code>d_model</code></td>", q3)
    assert "<td><code>self.num_heads</code></td>" in q3
