"""Checkers' explanations in the report: math found and typeset, code as code, long ones cut between pieces."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evalkit.report.explain import explanation_html, explanation_latex, explanation_pieces

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "explanations.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[c["text"][:50] for c in CASES])
def test_math_and_code_in_explanations(case: dict) -> None:
    pieces = explanation_pieces(case["text"])
    assert [p.tex for p in pieces if p.kind == "math"] == case["math"]
    assert [p.text for p in pieces if p.kind == "code"] == case.get("code", [])
    shown = "".join(f"`{p.text}`" if p.kind == "code" else p.text for p in pieces)
    assert shown == case["text"]  # nothing lost or added: the pieces are the explanation, cut up


def test_html_typesets_the_math_and_escapes_the_rest() -> None:
    html = str(
        explanation_html(r"complexity: O\left(d^2 + \frac{bnd}{h}\right) <script>x</script> `x_i` & d mu^2")
    )
    assert html.count("<math") == 2 and "<mfrac>" in html and "\\left" not in html and "mu^2" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<code>x_i</code>" in html and "&amp;" in html


def test_latex_typesets_the_math_and_lets_long_words_break() -> None:
    tex = explanation_latex(
        r"formula: d mu^2 is equivalent; see runtime_error_in_split_heads_line_29 and `a_very_long_identifier_name`"
    )
    assert r"$d\mu ^{2}$" in tex
    assert r"runtime\_\allowbreak{}error" in tex and r"\texttt{a\_\allowbreak{}very" in tex
    assert "mu^2" not in tex


def test_a_long_explanation_is_cut_between_pieces() -> None:
    text = "formula: " + "word " * 30 + r"then O\left(d^2 + \frac{bnd}{h}\right) and more"
    pieces = explanation_pieces(text, limit=170)
    assert pieces[-1].kind == "text" and pieces[-1].text.endswith("…")
    assert all(p.kind != "math" for p in pieces)  # the formula did not fit: left out whole, not cut
    assert len("".join(p.text for p in pieces)) <= 171
    whole = explanation_pieces(text)
    assert [p.kind for p in whole].count("math") == 1 and not whole[-1].text.endswith("…")
