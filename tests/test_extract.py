"""Splitting replies into parts and finding each part's final answer."""

from __future__ import annotations

import pytest

from evalkit.extract import final_answer, final_answers, split_parts, table_rows
from tests.latex.cases import WRITEUP

Q6 = WRITEUP["replies"]["q6"]
Q6_LABELS = ["a", "b", "b.i", "b.ii", "b.iii", "c", "d"]


def test_writeup_reply_splits_into_every_part():
    sections = split_parts(Q6, Q6_LABELS)
    assert list(sections) == Q6_LABELS
    assert sections["a"].startswith("### Part (a): Conditions")
    assert sections["b"] == "### Part (b): Polynomial Kernel Attention"  # (b)(i) is not (b)
    assert sections["b.i"].startswith("#### (b)(i):")
    assert sections["c"].startswith("Part (c): Complexity of Softmax")
    assert "Total space complexity" in sections["c"] and "Linearized" not in sections["c"]


@pytest.mark.parametrize(
    ("heading", "label"),
    [
        ("Part (a): Find the mean", "a"),
        ("**Part (a):** Find the mean", "a"),
        ("### (b)(ii): the feature map", "b.ii"),
        ("**Blank (d): Q**", "d"),
        ("Q4(f): computational complexity", "f"),
        ("Question 2 (a) first", "a"),
        ("> (c) quoted heading", "c"),
        ("(b) (with a note in parentheses)", "b"),
    ],
)
def test_heading_styles(heading, label):
    reply = f"Intro text.\n\n{heading}\n\nThe answer is $x$.\n"
    sections = split_parts(reply, [label])
    assert sections[label].startswith(heading)


def test_label_absent_and_subpart_not_taken_for_part():
    reply = "### (b)(i): first\n\n$x$\n\n### (b)(ii): second\n\n$y$\n"
    assert split_parts(reply, ["a", "b"]) == {}
    assert set(split_parts(reply, ["b.i", "b.ii"])) == {"b.i", "b.ii"}


def test_summary_table_answers_parts_without_headings():
    reply = (
        "Here is everything at once.\n\n| Blank | Answer |\n|---|---|\n| (a) | `d_model` |\n"
        "| **(b)** | `softmax` |\n\nBlank\tAnswer\n(h)\t$W_o$\n"
    )
    sections = split_parts(reply, ["a", "b", "h", "z"])
    assert sections == {"a": "`d_model`", "b": "`softmax`", "h": "$W_o$"}
    assert next(cells for _, cells in table_rows(reply)) == ["Blank", "Answer"]


def test_sibling_boxes_are_all_returned():
    text = WRITEUP["replies"]["q4_followup"]
    found = final_answers(text)
    assert [f.text for f in found] == ["O(d^2 + bd + bnk)", "O(d^2 + bd + bnv)"]
    assert {f.where for f in found} == {"boxed"}
    assert found[0].line == 9


def test_earlier_boxes_in_other_equations_are_not_siblings():
    text = "Mean: $$\\boxed{0}$$\n\nVariance: $$\\boxed{\\frac{d}{s^{2}}}$$ done"
    assert [f.text for f in final_answers(text)] == ["\\frac{d}{s^{2}}"]


@pytest.mark.parametrize(
    ("text", "answer", "where"),
    [
        ("So $$a = 1$$ and finally $$s = \\sqrt{d}$$ which works.", "s = \\sqrt{d}", "display math"),
        ("First \\[x\\] then \\[y^2\\]", "y^2", "display math"),
        ("\\begin{equation*}O(N^2)\\end{equation*}", "O(N^2)", "display math"),
        ("The shape is $[h, d, q]$ here.", "[h, d, q]", "inline math"),
        ("Only code: `d_model` then `d * mu**2`", "d * mu^{2}", "inline code"),  # Python's power, as math
        ("O(N^2 D)", "O(N^2 D)", "plain math"),
        ("- (1, 4, 3)^T", "(1, 4, 3)^T", "plain math"),
        ("-\\text{sim}(q,k) < 0", "-\\text{sim}(q,k) < 0", "plain math"),
    ],
)
def test_final_answer_places(text, answer, where):
    found = final_answer(text)
    assert found is not None
    assert (found.text, found.where) == (answer, where)


def test_an_identifier_in_a_code_span_is_not_a_formula():
    assert final_answers("Only code: `d_model` then `self.num_heads`") == []
    assert final_answer("Only code: `d_model` then `self.num_heads`", prefer="code").text == "self.num_heads"


def test_code_preference_and_fenced_code():
    text = "Use `softmax` as in $\\text{softmax}(z)$.\n\n```\nx = `not this`\n```\n"
    assert final_answer(text).text == "\\text{softmax}(z)"
    assert final_answer(text, prefer="code").text == "softmax"


def test_anchor_takes_the_first_answer_after_its_last_match():
    section = WRITEUP["replies"]["q6"]
    time = final_answer(section, anchor="total time complexity")
    space = final_answer(section, anchor="total space complexity")
    assert time.text == "O(ND^2M) = O(ND^3)"
    assert space.text == "O(ND + D^3)"
    assert final_answers(section, anchor="no such heading") == []


def test_prose_is_not_an_answer():
    assert final_answers("It equals the dimension of the keys.") == []
    assert final_answers("   \n  ") == []
    assert final_answer("bnd + bnk + bhd").text == "bnd + bnk + bhd"


def test_nested_braces_in_a_box():
    assert final_answer("$$\\boxed{\\frac{d}{\\sqrt{d}}}$$").text == "\\frac{d}{\\sqrt{d}}"


def test_part_heading_beats_a_blank_with_the_same_letter():
    reply = (
        "### Part (a): Fill in the blanks\n\nBlank (a): `d_model`\n\nBlank (b): `d_model`\n\n"
        "| Blank | Answer |\n|---|---|\n| (b) | `d_model` |\n\n### Part (b): Modify W_v\n\nChange `W_o`.\n"
    )
    sections = split_parts(reply, ["a", "b"])
    assert "Blank (b): `d_model`" in sections["a"] and "| (b) |" in sections["a"]
    assert sections["b"] == "### Part (b): Modify W_v\n\nChange `W_o`."
    assert split_parts("Blank (a): `x`\n\nBlank (b): `y`\n", ["a", "b"]) == {
        "a": "Blank (a): `x`",
        "b": "Blank (b): `y`",
    }


def test_answers_in_json_and_yaml_blocks_are_entries_per_question_and_part() -> None:
    from evalkit.extract.data import data_entries

    reply = (
        '```json\n{"A": "(h, d, q)", "E": "torch.einsum(\\"bd,dv->bv\\", x, W_k)", "f": 3}\n```\n\n'
        "```yaml\nhw9:\n  q2:\n    a: [1, 4, 3]\n  q6:\n    b_ii: the feature map\n```"
    )
    got = [(e.question, e.key, e.value) for e in data_entries(reply)]
    assert got == [
        (None, "A", "(h, d, q)"),
        (None, "E", '`torch.einsum("bd,dv->bv", x, W_k)`'),
        (None, "f", "`3`"),
        (2, "a", "`[1, 4, 3]`"),
        (6, "b_ii", "the feature map"),
    ]


def test_a_yaml_alias_bomb_or_a_deep_block_reads_nothing_much() -> None:
    from evalkit.extract.data import data_entries

    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    assert len(data_entries(f"```yaml\n{bomb}```")) <= 500
    deep = "a:\n  b:\n    c:\n      d:\n        e: 1\n"
    assert data_entries(f"```yaml\n{deep}```") == []
    assert data_entries("```json\n{not json\n```") == []


def test_an_anchor_is_a_whole_word_not_part_of_a_command_or_word() -> None:
    anchor = r"(?:total\s+)?time(?:\s+complexity)?"
    text = "Time: $O(N D^2 M)$, since $S$ is a $D^2 \\times M$ matrix built some times over."
    assert [f.text for f in final_answers(text, anchor=anchor)] == ["O(N D^2 M)"]
    assert final_answers("$S$ is a $D^2 \\times M$ matrix.", anchor=anchor) == []


def test_the_language_of_a_reply_is_told_by_its_function_words() -> None:
    from evalkit.extract.words import language

    assert language("The argmax is piecewise constant, so no gradient reaches the keys.") == "English"
    assert (
        language(
            "L'argmax est constant par morceaux : aucun gradient n'atteint les clés, donc le modèle ne peut pas apprendre."
        )
        == "French"
    )
    assert (
        language(
            "Die Zeilen summieren sich nicht mehr zu eins, und das ist der Fehler, der durch die Maske entsteht."
        )
        == "German"
    )
    assert (
        language(
            "El producto punto es la suma, por lo que la varianza es $d$ y también es la media de los términos."
        )
        == "Spanish"
    )
    assert language("$O(N^2 D)$ and $O(ND + NM)$") == "English"  # math alone says nothing
    # scripts without spaces between words: by their characters
    assert (
        language(
            "argmax は区分的に定数なので、勾配はほぼ至る所でゼロになり、クエリとキーには勾配が届きません。"
        )
        == "Japanese"
    )
    assert language("argmax 是分段常数，所以梯度几乎处处为零，查询和键得不到梯度。") == "Chinese"
    assert (
        language("The gradient of argmax (勾配) is zero almost everywhere, so the keys learn nothing.")
        == "English"
    )


def test_question_headings_in_any_language() -> None:
    from evalkit.extract import headed_questions

    assert headed_questions("## Pregunta 1\n\ntexto\n\n## Pregunta 4\n\nmás") == {1, 4}
    assert headed_questions("**Question 2 — partie a)**\n\nRéponse") == {2}
    assert headed_questions("### Aufgabe 6\n\nLösung") == {6}
    assert headed_questions("We use question 3's result in passing.") == set()


def test_anchors_match_time_and_space_in_other_languages() -> None:
    import re

    from evalkit.extract.words import anchor_in_all_languages

    anchor = anchor_in_all_languages(r"(?:total\s+)?time(?:\s+complexity)?")
    assert re.fullmatch(anchor, "Zeit", re.IGNORECASE) and re.fullmatch(anchor, "tiempo", re.IGNORECASE)
    assert re.fullmatch(anchor, "total time complexity", re.IGNORECASE)
    assert not re.fullmatch(anchor, "space", re.IGNORECASE)
    assert (
        anchor_in_all_languages(r"\time[time]") == r"\time[time]"
    )  # a LaTeX command or a class is left alone
