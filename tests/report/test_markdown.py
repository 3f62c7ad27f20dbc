"""Model text to HTML and to LaTeX: math as math, code highlighted, tables as tables, hostile text as text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from evalkit.report.latexmd import to_latex
from evalkit.report.markdown import parse, to_html
from evalkit.report.mathml import to_mathml
from tests.report.fake_tutor import HOSTILE, Q1

HTML_CASES = yaml.safe_load((Path(__file__).parent / "cases" / "html.yaml").read_text(encoding="utf-8"))


def test_math_is_found_the_way_pandoc_finds_it() -> None:
    kinds = [
        (t.type, t.content)
        for block in parse(r"costs $5 and $10; $x$, \(y\), $$z$$ and \$w\$ and $ v$")
        for t in block.children or []
        if t.type == "math_inline"
    ]
    assert kinds == [("math_inline", "x"), ("math_inline", "y"), ("math_inline", "z")]
    blocks = [t.type for t in parse("$$\na\n$$\n\n\\[b\\]\n\n\\begin{align}\nc\n\\end{align}\n")]
    assert blocks == ["math_block", "math_block", "math_block"]


def test_html_renders_math_code_and_tables() -> None:
    html = str(to_html(Q1 + "\n```python\ndef f(x):\n    return x\n```\n"))
    assert html.count("<math") >= 8 and "<mfrac>" in html and "<mtable" in html  # aligned → a table
    assert '<div class="hl">' in html and '<span class="k">def</span>' in html
    assert '<div class="table-wrap"><table>' in html and "<th" in html
    assert 'class="boxed"' in html  # \boxed, drawn with CSS (menclose is not in MathML Core)


def test_hostile_text_is_text_in_html() -> None:
    html = str(to_html(HOSTILE))
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "</style>" not in html and "&lt;/style&gt;" in html
    assert "<img" not in html and "onerror" not in html.replace("onerror=alert(1)&gt;", "")
    assert "javascript:" not in re.sub(r">[^<]*<", "><", html)  # never inside a tag
    assert 'href="http' not in html and "[image: tracker]" in html
    assert "\\input{/etc/passwd}" in html  # prose TeX shown as written


@pytest.mark.parametrize(
    "tex",
    [r"\text{<script>alert(1)</script>}", r"\href{javascript:alert(1)}{x}", r"\style{color:red}{x}", "x^{"],
)
def test_mathml_keeps_only_mathml(tex: str) -> None:
    out = to_mathml(tex)
    if out is not None:
        assert "<script" not in out and "href=" not in out and "style=" not in out
        assert re.fullmatch(r"<math[^>]*>.*</math>", out, re.DOTALL)


def test_unconvertible_math_falls_back_to_escaped_source() -> None:
    html = str(to_html("see $" + "{" * 60 + "x" + "}" * 60 + "$ and $a<b$"))
    assert 'class="math-source"' in html and "&lt;" in html


def test_only_web_links_are_links() -> None:
    html = str(
        to_html(
            "[a](https://example.com/x) [b](mailto:x@example.com) [c](file:///etc/passwd) [d](data:text/html,x)"
        )
    )
    assert html.count("<a ") == 2 and 'href="file' not in html and 'href="data' not in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_latex_escapes_every_hostile_command() -> None:
    tex = to_latex(HOSTILE)
    # the only backslash commands are ours: escapes, fonts, math, Pygments' \PY... and the Verbatim
    names = set(re.findall(r"\\([A-Za-z]+)", tex))
    for bad in ("input", "write", "def", "csname", "catcode", "immediate", "verb", "document"):
        assert bad not in names
    assert r"\textbackslash{}input\{/etc/passwd\}" in tex
    assert r"\end{Verbatim}" in tex and tex.count(r"\begin{Verbatim}") == tex.count(r"\end{Verbatim}") == 1
    assert r"\textless{}script\textgreater{}alert(1)" in tex
    assert r"\%comment" in tex and r"\ekheading{1}{and \textasciicircum{}\textasciicircum{}5c" in tex


def test_latex_renders_structure() -> None:
    tex = to_latex(Q1)
    assert r"\ekdisplay{\begin{aligned}" in tex and r"\boxed{d}" in tex
    assert r"\begin{tabularx}{\linewidth}{@{}LR@{}}" in tex
    assert r"\textbf{Setup:}" in tex and r"\emph{why}" in tex
    margin = to_latex("# Head\n\n```py\nx = 1\n```\n\n$$y$$\n\n| a |\n|---|\n| b |", margin=True)
    assert "Verbatim" not in margin and "tabularx" not in margin and "ekdisplay" not in margin


def test_deep_lists_do_not_exceed_latex_nesting() -> None:
    deep = "\n".join("  " * i + "- level" for i in range(9))
    tex = to_latex(deep)
    assert tex.count(r"\begin{itemize}") <= 4
    assert tex.count(r"\begin{itemize}") == tex.count(r"\end{itemize}")


@pytest.mark.parametrize("case", HTML_CASES, ids=[c["text"][:40] for c in HTML_CASES])
def test_inline_html_renders_the_allowed_tags_and_shows_the_rest(case: dict) -> None:
    html, tex = str(to_html(case["text"])), to_latex(case["text"])
    for shown in case.get("html", []):
        assert shown in html
    for absent in case.get("not_html", []):
        assert absent not in html
    for shown in case.get("latex", []):
        assert shown in tex
    assert tex.count("{") - tex.count(r"\{") == tex.count("}") - tex.count(r"\}")  # balanced for TeX


def test_a_body_cell_that_starts_in_bold_keeps_its_braces() -> None:
    tex = to_latex("| a | b |\n|---|---|\n| **x** | y |")
    assert r"\textbf{x} & y \\" in tex
