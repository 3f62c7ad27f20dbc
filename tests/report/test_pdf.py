"""The PDF report: hostile text and math compile and show as text; the HW9 run's PDF; LaTeX errors."""

from __future__ import annotations

import dataclasses
import html
import re
import subprocess
import time
from pathlib import Path
from typing import NamedTuple

import pytest

from evalkit.errors import ReportError
from evalkit.report import build_report, write_report
from evalkit.report.document import CheckLine
from evalkit.report.latex import build_pdf, render_latex
from tests.helpers import run_cli
from tests.report.test_texmath import CASES

pytestmark = [pytest.mark.tex, pytest.mark.usefixtures("tex")]  # skipped without TeX; failed under CI


def pdf_text(pdf: Path, layout: bool = False) -> str:
    """The PDF's text: as laid out (tables keep their rows), or as one line with hyphenation undone."""
    args = ["pdftotext", *(["-layout"] if layout else []), str(pdf), "-"]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout
    return out if layout else " ".join(re.sub(r"-\n(?=[a-z])", "", out).split())


def _stress_text(canary: Path) -> str:
    """Markdown with every math case, inline and displayed, and attempts to run commands."""
    inline = " ".join(f"${c['tex']}$" for c in CASES if "$" not in c["tex"])
    displayed = "\n\n".join(f"$$\n{c['tex']}\n$$" for c in CASES)
    attacks = (
        f"\\immediate\\write18{{touch {canary}}} and $\\immediate\\write18{{touch {canary}}}$\n\n"
        f"```\n\\immediate\\write18{{touch {canary}}}\n```\n\n"
        "Unbalanced: { { } and $\\left( x$ and \\end{itemize} \\end{document}\n"
    )
    return f"Math cases, inline: {inline}\n\n{displayed}\n\n{attacks}"


def test_hostile_text_and_math_compile_and_show_as_text(fake_runs, tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    report = build_report(fake_runs["a"])
    opening = (dataclasses.replace(report.opening[0], text=_stress_text(canary)), *report.opening[1:])
    tex = render_latex(dataclasses.replace(report, opening=opening))
    assert tex.count(r"\end{document}") == 1 and tex.count(r"\begin{document}") == 1
    pdf = build_pdf(tex, tmp_path / "hostile.pdf")
    assert not canary.exists()
    text = pdf_text(pdf)
    for shown in [
        "<script>alert(1)</script>",
        r"\input{/etc/passwd}",
        r"\write18{rm -rf /}",
        r"\end{document}",
        "[click me](javascript:alert(1))",
        "[image: tracker]",
        "Unbalanced: { { }",
    ]:
        assert shown in text, shown
    assert "Summary" in text and "Question 3: Multi-head attention implementation" in text


def test_hw9_pdf_has_the_summary_and_the_q3b_hint(hw9_run, tmp_path: Path, capsys, monkeypatch) -> None:
    out = tmp_path / "hw9.pdf"
    result = run_cli(["report", str(hw9_run.path), "--format", "pdf", "--out", str(out)], capsys, monkeypatch)
    assert result.code == 0, result.err
    text, table = pdf_text(out), pdf_text(out, layout=True)
    assert (
        re.search(r"^\s*\d+\s+Summary$", table, re.MULTILINE)
        and "Per question" in table
        and "Per part" in table
    )
    assert re.search(
        r"Question\s+Parts\s+First try\s+After hints\s+Failed\s+Points\s+Tokens in\s+Tokens out", table
    )
    assert re.search(r"Q3: Multi-head attention implementation\s+2\s+\d\s+1\s+\d\s+\d+/6", table)
    assert re.search(r"Total\s+20(\s+\d+){3}\s+\d+/27", table)
    assert re.search(
        r"Q3\(b\)\s+✓ after hint 1\s+2\s+1\s+2/2\s+1\. Would you have to modify split_heads", table
    )
    assert "Would you have to modify split_heads at all?" in text
    assert "Q3(b): correct after hint 1" in text
    for title in ("Justifying scaled dot-product attention", "Kernelized linear attention"):
        assert title in text


def test_latex_error_names_the_first_error_line(tmp_path: Path) -> None:
    broken = "\\documentclass{article}\n\\begin{document}\nfine\n\\undefinedmacro\n\\end{document}\n"
    with pytest.raises(ReportError, match=r"LaTeX failed: \./report\.tex:4: Undefined control sequence"):
        build_pdf(broken, tmp_path / "broken.pdf")
    assert (tmp_path / "broken.log").exists() and (tmp_path / "broken.tex").read_text() == broken
    assert not (tmp_path / "broken.pdf").exists()


def test_latex_that_never_ends_is_stopped(tmp_path: Path) -> None:
    looping = "\\documentclass{article}\n\\begin{document}\n\\loop\\iftrue\\repeat\n\\end{document}\n"
    start = time.monotonic()
    with pytest.raises(ReportError, match="did not finish within 3s"):
        build_pdf(looping, tmp_path / "loop.pdf", timeout_s=3)
    assert time.monotonic() - start < 20


@pytest.fixture(scope="module")
def hw9_pdf(hw9_run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(hw9_run, "pdf", tmp_path_factory.mktemp("hw9-pdf") / "report.pdf")


def test_hw9_pdf_typesets_explanations_hints_and_reply_html(hw9_pdf: Path) -> None:
    text = pdf_text(hw9_pdf)
    for raw in (r"\left", r"\frac", "mu^2", "h*v", "<code>", "`"):
        assert raw not in text, raw
    assert "formula: dµ2 is equivalent to the expected answer" in text  # d \mu^{2}, typeset
    table = pdf_text(hw9_pdf, layout=True)  # Claude's summary table of Q3(a), its cells <code>d_model</code>
    assert re.search(r"^\s*\(a\)\s+d_model$", table, re.MULTILINE)
    assert re.search(r"^\s*\(g\)\s+self\.num_heads$", table, re.MULTILINE)


class Word(NamedTuple):
    page: int  # from 1
    x: float  # left, in points
    y: float  # top
    text: str
    right: float


def pdf_words(pdf: Path) -> list[Word]:
    """Every word of the PDF, where it is."""
    out = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    words, page = [], 0
    for line in out.splitlines():
        if "<page " in line:
            page += 1
        m = re.search(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)"[^>]*>(.*)</word>', line)
        if m:
            x, y, right = float(m.group(1)), float(m.group(2)), float(m.group(3))
            words.append(Word(page, x, y, html.unescape(m.group(4)), right))
    return words


def test_hw9_pdf_margin_verdicts_sit_beside_each_parts_answer(hw9_pdf: Path) -> None:
    words = pdf_words(hw9_pdf)
    margin_x = 440.0  # the text block ends at 612 - 6.2 cm; the margin notes start beyond it
    verdicts = [
        (p, y, w) for p, x, y, w, _ in words if x > margin_x and re.fullmatch(r"\([a-z]\)(\([iv]+\))?", w)
    ]
    headings = [
        (p, y, w.rstrip(":"))
        for i, (p, x, y, w, _) in enumerate(words)
        if x < margin_x
        and w.endswith(":")
        and i
        and words[i - 1][3] == "Part"
        and re.fullmatch(r"\([a-z]\):", w)
    ]
    q4 = max(p for i, (p, _, _, w, _) in enumerate(words[:-1]) if (w, words[i + 1][3]) == ("Question", "4:"))
    after_q4 = [(p, y, w) for p, y, w in headings if p >= q4][:7]
    assert [w for _, _, w in after_q4] == [f"({x})" for x in "abcdefg"]
    for page, y, label in after_q4:  # the verdict of Q4's part is level with the part's heading
        assert any(vp == page and abs(vy - y) < 4 and vw == label for vp, vy, vw in verdicts), (
            label,
            page,
            y,
        )
    assert len({page for page, _, _ in after_q4}) >= 3  # the reply runs over pages: not all at its top


def test_hw9_pdf_margin_shows_q3b_whole_diagnosis(hw9_pdf: Path) -> None:
    text = pdf_text(hw9_pdf)
    assert (
        "seed 0: RuntimeError: shape" in text and "is invalid for input of size 448 — in split_heads" in text
    )
    assert "split_heads is as in the original code: the answer did not change it" in text  # not cut at 300


def _lines(pdf: Path, page: int) -> list[str]:
    args = ["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if re.search(r"[A-Za-z]", line)]  # not a lone big bracket


def test_verdict_tables_start_under_their_heading_wherever_the_page_breaks(hw9_run, tmp_path: Path) -> None:
    """24 copies of Q4, each after a user turn one line longer than the last, put 'Verdicts for' at every
    height of a page: no table header is left without its rows, and no page is left half empty."""
    report = build_report(hw9_run)
    q4 = next(q for q in report.questions if q.id == "q4")
    copies = []
    for n in range(24):
        filler = "\n\n".join(f"Line {i} of the filler before copy {n}." for i in range(n)) or "x"
        turn = dataclasses.replace(q4.turns[0], text=filler, passages=())
        copies.append(dataclasses.replace(q4, id=f"c{n}", short=f"C{n}", turns=(turn,)))
    pdf = build_pdf(
        render_latex(dataclasses.replace(report, questions=tuple(copies), opening=())), tmp_path / "c.pdf"
    )
    words = pdf_words(pdf)
    pages = max(p for p, *_ in words)
    headings = 0
    for page in range(1, pages + 1):
        lines = _lines(pdf, page)
        for i, line in enumerate(lines):
            if re.match(r"\s*Part\s+Verdict\s+Points\s+Checker", line):  # a header: rows follow it
                assert i + 1 < len(lines) and re.match(r"\s*\([a-g]\)", lines[i + 1]), (
                    page,
                    lines[i + 1 :][:1],
                )
            if line.strip().startswith("Verdicts for C"):
                headings += 1
                assert i + 1 < len(lines) and re.match(r"\s*Part\s+Verdict", lines[i + 1]), (page, line)
    assert headings == 24
    bottoms = {p: max(w.y for w in words if w.page == p and w.y < 720) for p in range(4, pages)}
    assert {p: y for p, y in bottoms.items() if y < 560} == {}  # the text block ends near y = 730


def test_long_raw_strings_break_inside_the_verdict_table_and_the_margin(fake_runs, tmp_path: Path) -> None:
    raw = r"pattern='\\boxed\{\s*(?:d|D)\s*\}|\\frac\{1\}\{\\sqrt\{d_{model}\}\}|[0-9]+(?:\.[0-9]+)?KB/runs/2026/q3/b'"
    report = build_report(fake_runs["a"])
    q3 = next(q for q in report.questions if q.id == "q3")
    parts = tuple(dataclasses.replace(p, explanation=f"regex: {raw} never matches") for p in q3.parts)
    turns = list(q3.turns)
    check = CheckLine("regex", "incorrect", True, f"{raw} never matches", None, ())
    gradings = tuple(dataclasses.replace(g, status="incorrect", checks=(check,)) for g in turns[1].gradings)
    turns[1] = dataclasses.replace(turns[1], gradings=gradings, passages=())
    q3 = dataclasses.replace(q3, parts=parts, turns=tuple(turns))
    questions = tuple(q3 if q.id == "q3" else q for q in report.questions)
    pdf = build_pdf(render_latex(dataclasses.replace(report, questions=questions)), tmp_path / "raw.pdf")
    text_right, margin_right = 612 - 6.2 / 2.54 * 72, 612 - (6.2 - 0.5 - 4.8) / 2.54 * 72
    pieces = [w for w in pdf_words(pdf) if len(w.text) > 3 and w.text.replace("’", "'") in raw]
    assert (
        len([w for w in pieces if w.x > text_right]) > 6 and len(pieces) > 12
    )  # in the margin and the table
    for w in pieces:
        assert w.right <= (margin_right if w.x > text_right else text_right) + 2, w


def _ink_bottoms(pdf: Path, out: Path) -> list[float]:
    """Per page, rendered by pdftoppm: how far down (0 = top, 1 = bottom) the text block has ink."""
    out.mkdir()
    subprocess.run(["pdftoppm", "-gray", "-r", "24", str(pdf), str(out / "page")], check=True, timeout=120)
    bottoms = []
    for image in sorted(out.glob("page-*.pgm")):
        data = image.read_bytes()
        m = re.match(rb"P5\s+(\d+)\s+(\d+)\s+255\s", data)
        assert m, image
        width, height = int(m.group(1)), int(m.group(2))
        pixels = data[m.end() :]
        footer = int(
            height * 730 / 792
        )  # the text block ends 2.2 cm above the foot; the page number is below
        rows = [r for r in range(footer) if min(pixels[r * width : (r + 1) * width]) < 128]
        bottoms.append(max(rows, default=0) / height)
    return bottoms


def test_hw9_pdf_has_no_half_empty_page(hw9_pdf: Path, tmp_path: Path) -> None:
    bottoms = _ink_bottoms(hw9_pdf, tmp_path / "pages")
    assert len(bottoms) >= 15
    assert {page: round(b, 2) for page, b in enumerate(bottoms[:-1], 1) if b < 0.68} == {}
