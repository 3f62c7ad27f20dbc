"""What a report says about a run: verdicts, hints, the turn each grading belongs to, notes, recap."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evalkit.errors import SpecError
from evalkit.report import build_report
from evalkit.spec.models import Part, Problem
from evalkit.spec.prompts import load_prompts
from evalkit.store import open_run
from tests.report.conftest import ROOT


def _by_id(report):
    return {q.id: q for q in report.questions}


def test_verdicts_hints_and_recap(fake_runs) -> None:
    report = build_report(fake_runs["a"])
    qs = _by_id(report)
    q3b = next(p for p in qs["q3"].parts if p.id == "b")
    assert (q3b.verdict, q3b.winning_hint) == (
        "✓ after hint 1",
        "Would you have to modify `split_heads` at all?",
    )
    q4a = qs["q4"].parts[0]
    assert (
        q4a.outcome == "failed"
        and q4a.verdict == "✗ failed after 2 hints"
        and "expected 41" in q4a.explanation
    )
    assert [p.verdict for p in qs["q1"].parts] == ["✓ first try"] * 3
    rc = report.recap
    assert [q.short for q in rc.one_shot] == ["Q1", "Q2"]
    assert [(q.short, p.label) for q, p in rc.helped] == [("Q3", "(b)")]
    assert [(q.short, p.label) for q, p in rc.failed] == [("Q4", "(a)")]
    assert (rc.parts, rc.correct, rc.first_try, rc.hints) == (8, 7, 6, 3)
    assert report.finished and report.model == "fake:tutor-a" and report.title == "demo: tutor-a"


def test_turns_carry_their_gradings_and_hints(fake_runs) -> None:
    q3 = _by_id(build_report(fake_runs["a"]))["q3"]
    assert [(t.number, t.role, t.kind) for t in q3.turns] == [
        (1, "user", "question"),
        (2, "assistant", "question"),
        (3, "user", "hint"),
        (4, "assistant", "hint"),
    ]
    first, hint, second = q3.turns[1], q3.turns[2], q3.turns[3]
    assert [(g.label, g.verdict) for g in first.gradings] == [("(a)", "✓ first try"), ("(b)", "✗ incorrect")]
    assert "never matches" in first.gradings[1].explanation  # the failing check, not the passing one
    assert hint.text == "Would you have to modify `split_heads` at all?" and hint.hinted_parts == ("(b)",)
    assert [(g.label, g.verdict) for g in second.gradings] == [("(b)", "✓ after hint 1")]
    assert second.output_tokens and second.anchor == "q-q3-t4"


def test_notes_go_where_they_say(fake_runs) -> None:
    report = build_report(fake_runs["a"])
    qs = _by_id(report)
    assert qs["q1"].notes == ("great overview!",)
    assert next(p for p in qs["q3"].parts if p.id == "b").notes == (
        "split-heads and combine-heads have to agree.",
    )
    assert qs["q3"].turns[2].notes == ("This is what led me to ask this.",)
    first, final = qs["q3"].turns[1].gradings[1], qs["q3"].turns[3].gradings[0]
    assert (first.notes, final.notes) == ((), ("split-heads and combine-heads have to agree.",))
    assert report.opening[1].notes == ("I like that it's already giving me conceptual background.",)
    assert report.overview_note and "Q3(b)" in report.overview_note


@pytest.mark.parametrize(
    ("notes", "where"),
    [
        ("notes:\n  - {question: q9, text: x}\n", r"notes\.yaml:2: notes\[0\]\.question: no question 'q9'.*q1, q2"),
        ("notes:\n  - question: q3\n    part: z\n    text: x\n", r":3: notes\[0\]\.part: question q3 has no part 'z' \(parts: a, b\)"),
        ("notes:\n  - {question: q3, turn: 9, text: x}\n", r":2: notes\[0\]\.turn: the conversation of q3 has 4 turn"),
        ("notes:\n  - {question: q3, part: b, turn: 2, text: x}\n", r":2: notes\[0\]: a note goes beside a part or beside a turn"),
        ("notes:\n  - question: q3\n    text: x\n    prat: b\n", r":4: notes\[0\]\.prat: unknown field"),
        ("notes: [\n", r"notes\.yaml:\d+: invalid YAML"),
    ],
)  # fmt: skip
def test_bad_notes_point_at_their_line(run_copy: Path, notes: str, where: str) -> None:
    (run_copy / "notes.yaml").write_text(notes, encoding="utf-8")
    with pytest.raises(SpecError, match=where):
        build_report(open_run(run_copy))


def test_a_run_that_did_not_finish_is_read_from_its_journal(run_copy: Path) -> None:
    (run_copy / "results.json").unlink()
    lines = (run_copy / "journal.jsonl").read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if '"s0/q4"' not in line and '"run_end"' not in line]  # q4 never started
    (run_copy / "journal.jsonl").write_text("\n".join(kept) + "\n", encoding="utf-8")
    report = build_report(open_run(run_copy))
    assert not report.finished
    qs = _by_id(report)
    assert next(p for p in qs["q3"].parts if p.id == "b").verdict == "✓ after hint 1"
    assert qs["q4"].parts == () and qs["q4"].turns == ()


def test_problem_files_that_moved_only_cost_the_labels(run_copy: Path) -> None:
    import json

    config = json.loads((run_copy / "run.json").read_text(encoding="utf-8"))
    config["problem_files"] = ["/nonexistent/demo_q1.yaml"]
    (run_copy / "run.json").write_text(json.dumps(config), encoding="utf-8")
    (run_copy / "notes.yaml").unlink()
    report = build_report(open_run(run_copy))
    assert [p.label for p in _by_id(report)["q3"].parts] == ["(a)", "(b)"]
    assert _by_id(report)["q1"].statement == ""


def test_each_question_is_asked_by_its_own_number(hw9_run) -> None:
    """HW9 has no question 5: the conversation under 'Question 6' asks question 6, not the 5th."""
    asked = {}
    for q in build_report(hw9_run).questions:
        first = q.turns[0]
        assert first.role == "user" and first.kind == "question"
        asked[q.short] = re.match(r"Let's move on to question (\d+):", first.text).group(1)
    assert asked == {"Q1": "1", "Q2": "2", "Q3": "3", "Q4": "4", "Q6": "6"}


def test_a_problem_id_without_a_number_is_asked_by_its_position() -> None:
    prompts = load_prompts(ROOT / "prompts")
    problem = Problem(id="attention", title="Attention", parts=[Part(id="a", prompt="Why?")])
    assert prompts.question(problem, 3).startswith("Let's move on to question 3: Attention.")
    numbered = problem.model_copy(update={"id": "hw10_q7"})
    assert prompts.question(numbered, 3).startswith("Let's move on to question 7: Attention.")


def test_each_grading_sits_beside_its_parts_answer(hw9_run) -> None:
    qs = _by_id(build_report(hw9_run))
    for q in qs.values():
        for turn in q.turns:
            assert "\n".join(p.text for p in turn.shown) == turn.text  # the passages are the message, cut
            assert sorted(g.part for p in turn.shown for g in p.gradings) == sorted(
                g.part for g in turn.gradings
            )
    reply = qs["q4"].turns[1]
    assert [[g.label for g in p.gradings] for p in reply.shown] == [[], *[[f"({x})"] for x in "abcdefg"]]
    for passage in reply.shown[1:]:
        first_line = passage.text.split("\n", 1)[0]
        assert f"Part {passage.gradings[0].label}:" in first_line, first_line
    q6 = [p.text.split("\n", 1)[0] for p in qs["q6"].turns[1].shown[1:]]
    assert [line.lstrip("#* ")[:9] for line in q6] == [
        "Part (a):",
        "(b)(i): D",
        "(b)(ii): ",
        "(b)(iii):",
        "Part (c):",
        "Part (d):",
    ]
    # Q3(b)'s second answer, graded on the whole reply to the hint: beside the reply's first line
    fixed = qs["q3"].turns[3]
    assert len(fixed.shown) == 1 and [g.source for g in fixed.shown[0].gradings] == ["whole reply"]


def test_a_heading_inside_a_list_or_quote_cuts_where_markdown_can_be_cut() -> None:
    from evalkit.report.placement import cut_reply

    text = "Intro.\n\n1. **(a)** first\n2. **(b)** second\n\n> quoted\n> **(c)** inside\n\n```\n(d) in code\n```\nend"
    stretches = cut_reply(text, {"a": 2, "b": 3, "c": 6, "d": 9})
    assert [(s.line, s.parts) for s in stretches] == [
        (0, ()),
        (2, ("a",)),
        (3, ("b",)),
        (5, ("c",)),
        (8, ("d",)),
    ]
    assert "\n".join(s.text for s in stretches) == text


def test_a_reply_in_html_is_cut_at_its_parts_headings_too() -> None:
    from evalkit.report.placement import cut_reply, part_lines

    problem = Problem(
        id="q1",
        title="T",
        parts=[Part(id="a", prompt="Find the mean."), Part(id="b", prompt="The variance?")],
    )
    reply = (
        "<p>Intro.</p>\n\n<p><b>Part (a):</b> the mean is d&mu;<sup>2</sup></p>\n<p>more</p>\n\n"
        "<h3>Part (b)</h3>\n<p>It is d.</p>"
    )
    assert part_lines(reply, problem) == {"a": 2, "b": 5}
    assert [(s.line, s.parts) for s in cut_reply(reply, part_lines(reply, problem))] == [
        (0, ()),
        (2, ("a",)),
        (5, ("b",)),
    ]
    # no blank line between the parts: one paragraph, which is not cut; both verdicts go beside its start
    assert [s.parts for s in cut_reply("Part (a): x\nPart (b): y", {"a": 0, "b": 1})] == [("a", "b")]
