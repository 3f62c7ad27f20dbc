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
