"""Transcript import: the write-up format (margin notes stripped), JSON and Markdown; alignment; grading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalkit.errors import TranscriptError
from evalkit.spec.suite import load_suite
from evalkit.transcript import (
    align,
    grade_transcript,
    parse_transcript,
    read_transcript,
    strip_margin_notes,
)
from tests.helpers import run_cli

ROOT = Path(__file__).parent.parent
TRANSCRIPTS = ROOT / "tests" / "fixtures" / "transcripts"
WRITEUP = TRANSCRIPTS / "hw9-writeup.txt"
MINI = ROOT / "tests" / "fixtures" / "mini"


@pytest.fixture(scope="module")
def writeup():
    return read_transcript(WRITEUP)


@pytest.fixture(scope="module")
def writeup_text(writeup) -> str:
    return "\n\n".join(t.content for t in writeup.turns)


# --- the write-up format ----------------------------------------------------------------------------


def test_writeup_turns(writeup) -> None:
    assert writeup.format == "writeup"
    roles = [t.role for t in writeup.turns]
    assert roles == ["user", "assistant"] * 12  # '## Claude' repeated across page breaks is one turn
    assert writeup.turns[0].content.startswith("Hi Claude! I'd like you to walk me through")
    assert writeup.turns[1].content.startswith("Absolutely, I understand!")
    # the reply to question 1 spans three '## Claude' blocks
    q1 = writeup.turns[3].content
    assert "**Part (a)" in q1 and "**Part (b):**" in q1 and "**Part (c)" in q1 and "## The Intuition" in q1


def test_preamble_is_not_a_turn(writeup_text: str) -> None:
    assert "Special Participation A" not in writeup_text
    assert "Claude was incredibly strong" not in writeup_text  # the overview, before the first marker


# Every margin note of the write-up, as it appears there.
MARGIN_NOTES = [
    "I like that it's already giving me conceptual background.",
    "↪ since  $\\mu$  is given as both a vector and a scalar, this is correct.",
    "great  \noverview!",
    "one shot at an arithmetic question!",
    "i think it misinterpreted what I meant by gradient",
    "brain fart, whoops",
    "correct! well clarified, even with my erroneous reprompt.",
    "One-shot!",
    "split-heads and combine-heads have to agree. This is what led me to ask this.",
    "makes sense to me.",
    "claude  \nsprinkling  \nin intuitive  \njustifications",
    "It discourages  \npattern matching",
    "I really appreciate its insights on how other choices are incorrect.",
    "Also like it tying everything to the overarching picture.",
    "this is equivalent to the final answer, so I decided to give it a slightly veiled hint",
    "T given instead of k.",
    "✓ great overview.",
    "✓ gave both answers! Fantastic!",
    "This question was where Claude seriously impressed me.",
    "*Staff*",
    "Answer says  $\\neq 0$ , but the question only deals kernel attention",
    "This jump is too big for my liking, personally.",
    "I love these + tables, expressing everything step by step!",
    "I was surprised it got this one.",
    "super helpful!",
]


@pytest.mark.parametrize("note", MARGIN_NOTES)
def test_every_margin_note_is_stripped(note: str, writeup_text: str) -> None:
    raw = WRITEUP.read_text(encoding="utf-8")
    assert note in raw, "the note must be quoted exactly as the write-up has it"
    lines = {line.strip() for line in writeup_text.splitlines()}
    for piece in (x.strip() for x in note.split("\n")):
        assert piece not in lines  # not left as a line of its own
        if len(piece) > 12:
            assert piece not in writeup_text  # nor inside the model's text


# The model's text next to the notes, which must survive.
MODEL_TEXT = [
    "$$\\boxed{\\mathbb{E}[q^\\top k] = d\\mu^2}$$",
    "Great clarifying question—let me be more precise. Actually, the gradient is zero **at all indices**",
    "Does that distinction make sense?",
    "Thanks for the correction—I should update my answer to part (b) to be more precise about this!",
    "(h) =  $W_o$  ✓",
    "Thanks for pushing on that—I missed a step in my original answer!",
    "This reduces the weight matrix from  $[h, d, k]$  to  $[d, k]$ . ✓",
    '- "bhd,dq->bhq" assumes  $x$  has shape  $[b, h, d]$ , but  $x$  is  $[b, d]$',
    "$$O\\left(d^2 + bd + \\frac{bnd}{h}\\right)$$",
    "$$\\boxed{\\text{sim}(q, k) > 0 \\quad \\forall q, k}$$",
    "**Why softmax works:**",
    "$$O(ND + D^3)$$",
    "### Summary: The Big Picture",
    "Any questions about the derivations or intuition? I find the kernel perspective really illuminating",
    "This is a great thought experiment that highlights *why* transformers use softmax attention.",
    "def combine_heads(self, x):",
    "| Operation | Cost |\n|---|---|\n| Compute $\\phi(K_j)$ for all $j$ | $O(ND^2)$ |",
    "|  | MHA | MQA |\n|---|---|---|\n| KV cache access | $O(bnd)$ | $O(bnk)$ |",
]


@pytest.mark.parametrize("text", MODEL_TEXT)
def test_model_text_is_kept(text: str, writeup_text: str) -> None:
    assert text in writeup_text


def test_user_turns_are_clean(writeup) -> None:
    users = [t.content for t in writeup.turns if t.role == "user"]
    assert "Would you have to modify `split_heads` at all?" in users
    assert "Since  $hv = d$ , can you simplify the last term in part g?" in users
    assert any(u.endswith("Or am I misinterpreting") for u in users)  # '*brain fart, whoops*' dropped
    assert users[-1].endswith("Finally, let's move onto question 6.")  # the section heading dropped


def test_strip_margin_notes_leaves_code_alone() -> None:
    text = "Some prose.\n\n```\n*an italic-looking line in code*\nOne-shot!\n```\n\n*a margin note here*"
    assert strip_margin_notes(text) == "Some prose.\n\n```\n*an italic-looking line in code*\nOne-shot!\n```"


def test_tab_tables_become_pipe_tables_outside_code() -> None:
    text = "Blank\tAnswer\n(a)\t`d_model`\n\n```\nx =\t1\n```"
    assert (
        strip_margin_notes(text) == "| Blank | Answer |\n|---|---|\n| (a) | `d_model` |\n\n```\nx =\t1\n```"
    )


def test_short_italics_inside_sentences_are_kept() -> None:
    text = "This is *exactly* why we scale, and *where* the gradient stops."
    assert strip_margin_notes(text) == text


# --- JSON and Markdown -----------------------------------------------------------------------------------


def test_json_transcript() -> None:
    t = read_transcript(TRANSCRIPTS / "mini.json")
    assert t.format == "json"
    assert [x.role for x in t.turns] == ["user", "assistant"] * 4  # the system message is skipped
    assert t.turns[5].content == "You're right, it's $\\boxed{4}$."  # content blocks are joined


def test_markdown_transcript() -> None:
    t = read_transcript(TRANSCRIPTS / "mini.md")
    assert t.format == "markdown"
    assert [x.role for x in t.turns] == ["user", "assistant"] * 3
    assert "*An italic line the assistant wrote is kept" in t.turns[3].content
    assert "**Part (c)** `Paris`" in t.turns[3].content  # two '## Assistant' blocks, one turn
    assert "# User" in t.turns[5].content  # inside a code block: not a marker


def test_json_messages_object() -> None:
    text = json.dumps(
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    )
    assert [x.content for x in parse_transcript(text).turns] == ["hi", "hello"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("just some prose\nwith no turns", "no turns found"),
        ("[1, 2]", "not an object with a 'role'"),
        ('[{"role": "tool", "content": "x"}]', "has role 'tool'"),
        ('[{"role": "user", "content": "x"}', "not valid JSON"),
        ("## User\n\nhello\n", "no assistant replies"),
    ],
)
def test_bad_transcripts(text: str, message: str) -> None:
    with pytest.raises(TranscriptError, match=message):
        parse_transcript(text)


def test_missing_file() -> None:
    with pytest.raises(TranscriptError, match="file not found"):
        read_transcript(TRANSCRIPTS / "nope.txt")


# --- alignment ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mini_suite():
    return load_suite(MINI / "problems", MINI / "rubrics")


def test_alignment_by_question_number(mini_suite) -> None:
    aligned = align(read_transcript(TRANSCRIPTS / "mini.json"), mini_suite)
    assert aligned.opening is not None and aligned.opening.assistant.startswith("Happy to help")
    assert list(aligned.problems) == ["arith"]
    assert len(aligned.problems["arith"]) == 3


def test_alignment_defaults_to_order_and_skips_unknown_questions(mini_suite) -> None:
    text = (
        "## User\n\nHello, shall we start?\n\n## Assistant\n\nSure.\n\n"
        "## User\n\nPart (a): what is 2 + 2?\n\n## Assistant\n\n4\n\n"
        "## User\n\nAnd question 7?\n\n## Assistant\n\nThere is no question 7.\n\n"
        "## User\n\nAre you sure?\n\n## Assistant\n\nYes.\n"
    )
    aligned = align(parse_transcript(text), mini_suite)
    assert aligned.opening is not None
    assert [e.assistant for e in aligned.problems["arith"]] == ["4"]
    assert [why for _, why in aligned.skipped] == [
        "asks about question 7, which is not in the problem set",
        "follows up on question 7, which is not in the problem set",
    ]


# --- grading ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mini.json", "mini.md"])
def test_grade_mini_transcript(name: str, tmp_path: Path) -> None:
    result = grade_transcript(
        TRANSCRIPTS / name, problems=MINI / "problems", rubrics=MINI / "rubrics", runs_dir=tmp_path
    )
    assert result.model == f"transcript:{Path(name).stem}"
    parts = {p.part: p for p in result.parts}
    a = parts["a"]
    assert (a.first_attempt_status, a.status, a.attempts, a.hints, a.became_correct_at) == (
        "incorrect",
        "correct",
        2,
        1,
        2,
    )
    assert a.hint_texts == ("Count again: two plus two.",)
    for pid in ("b", "c"):  # a follow-up (mini.json's last turn) changes nothing
        assert (parts[pid].status, parts[pid].attempts, parts[pid].hints) == ("correct", 1, 0)
    data = json.loads((result.run_dir / "results.json").read_text())
    assert data == json.loads(json.dumps(result.to_json()))
    run = json.loads((result.run_dir / "run.json").read_text())
    assert run["model"] == result.model and run["transcript_format"] in ("json", "markdown")
    events = [json.loads(line) for line in (result.run_dir / "journal.jsonl").read_text().splitlines()]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "run_start" and kinds[-1] == "run_end" and kinds.count("hint") == 1
    assert kinds.count("followup") == (1 if name == "mini.json" else 0)


def test_grade_transcript_cli_json_has_the_run_shape(tmp_path: Path, capsys, monkeypatch) -> None:
    args = [
        "grade-transcript",
        str(TRANSCRIPTS / "mini.json"),
        "--problems",
        str(MINI / "problems"),
        "--rubrics",
        str(MINI / "rubrics"),
        "--out",
        str(tmp_path),
        "--json",
    ]
    result = run_cli(args, capsys, monkeypatch)
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert set(data) == {"run_dir", "model", "suite", "questions", "parts", "probes", "measures", "totals"}
    assert data["model"] == "transcript:mini"
    assert data["totals"]["hints"] == 1 and data["totals"]["correct"] == 3
    assert set(data["parts"][0]) >= {"problem", "part", "status", "first_attempt_status", "attempts", "hints"}


def test_grade_transcript_cli_error_is_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    result = run_cli(
        ["grade-transcript", str(tmp_path / "missing.txt"), "--out", str(tmp_path)], capsys, monkeypatch
    )
    assert result.code == 1
    assert "file not found" in result.err and len(result.err.strip().splitlines()) == 1


def test_no_question_of_the_suite(tmp_path: Path) -> None:
    path = tmp_path / "t.md"
    path.write_text("## User\n\nQuestion 9 please.\n\n## Assistant\n\nThere is none.\n")
    with pytest.raises(TranscriptError, match="no question of the problem set"):
        grade_transcript(path, problems=MINI / "problems", rubrics=MINI / "rubrics", runs_dir=tmp_path)


# --- a judge for criteria checks ------------------------------------------------------------------------


class FakeJudge:
    """A judge model with one canned reply; records what it was asked."""

    provider = "fake"
    name = "fake:judge"

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.prompts: list[str] = []

    async def generate(self, request):
        from evalkit.models.base import ModelResponse, Usage

        self.prompts.append(request.messages[-1].content)
        return ModelResponse(self.reply, usage=Usage(300, 40), model=self.name)

    async def aclose(self) -> None:
        return None


Q2 = ROOT / "problems" / "hw9_q2.yaml"
RUBRICS = ROOT / "rubrics"


def _part(result, problem: str, part: str):
    return next(p for p in result.parts if (p.problem, p.part) == (problem, part))


def test_grade_transcript_with_a_judge(tmp_path: Path) -> None:
    verdict = {
        "claims": [{"index": i, "met": i not in (3, 5)} for i in range(1, 6)]
    }  # claim 5: the misconception
    judge = FakeJudge(json.dumps(verdict))
    result = grade_transcript(WRITEUP, problems=Q2, rubrics=RUBRICS, runs_dir=tmp_path, judge=judge)
    b = _part(result, "q2", "b")
    assert b.status == "correct" and b.first_attempt_status == "correct"
    check = b.history[0].grade.checks[0]
    assert check.kind == "criteria" and check.result.details["graded_by"] == "judge fake:judge"
    # the question's reply; each of the three follow-ups is a probe the rubric declares, whose reply the
    # judge grades twice (the probe's claims, and the part's claims on any answer it restates); and the
    # last follow-up, whose reply concedes the point about gradients, is re-graded as an answer to (b)
    assert len(judge.prompts) == 1 + 3 * 2 + 1
    # and what the judge cost is in the totals, as a run's judge is
    assert result.judge is not None and result.judge.to_json() == {
        "model": "fake:judge", "calls": 8, "input_tokens": 8 * 300, "output_tokens": 8 * 40, "cost_usd": 0.0
    }  # fmt: skip
    saved = json.loads((result.run_dir / "results.json").read_text())
    assert saved["totals"]["judge"] == result.judge.to_json()
    assert "Rubric claims:" in judge.prompts[0] and "**argmax is not differentiable**" in judge.prompts[0]
    last = [p for p in judge.prompts if "we cannot learn which keys to attend to" in p]
    assert len(last) == 3
    assert any("the gradient of argmax is zero at every index" in p for p in judge.prompts)
    assert [(r.probe, r.kind) for r in result.conversations[0].probes] == [
        ("max-index-gradient", "misconception"),
        ("gradient-one", "misconception"),
        ("selected-value", "valid_point"),
    ]
    assert _part(result, "q2", "a").status == "correct"  # other kinds are not judged
    run = json.loads((result.run_dir / "run.json").read_text())
    assert run["judge"] == "fake:judge"


def test_unparseable_judge_output_leaves_the_part_unscored(tmp_path: Path) -> None:
    result = grade_transcript(
        WRITEUP, problems=Q2, rubrics=RUBRICS, runs_dir=tmp_path, judge=FakeJudge("Looks right to me!")
    )
    b = _part(result, "q2", "b")
    assert (b.first_attempt_status, b.status, b.hints) == ("unscored", "unscored", 0)
    assert "judge_parse_error" == b.history[0].grade.checks[0].result.reason


def test_cli_judge_option(tmp_path: Path, capsys, monkeypatch) -> None:
    """``--judge`` takes any model name; a replay model answers with prose, which is never a verdict."""
    args = ["grade-transcript", str(WRITEUP), "--problems", str(Q2), "--rubrics", str(RUBRICS)]
    result = run_cli([*args, "--out", str(tmp_path), "--judge", "replay", "--json"], capsys, monkeypatch)
    assert result.code == 0, result.err
    parts = {p["part"]: p for p in json.loads(result.out)["parts"]}
    assert parts["b"]["status"] == "unscored" and parts["a"]["status"] == "correct"


# --- data exports and PDF write-ups -----------------------------------------------------------------------

MINI_TURNS = [(t.role, t.content) for t in read_transcript(TRANSCRIPTS / "mini.json").turns]


@pytest.mark.parametrize(
    ("name", "fmt", "pick"),
    [
        ("chatgpt-export.json", "chatgpt", "6757a1b2-0c3d-8000-9e4f-1a2b3c4d5e6f"),
        ("chatgpt-export.json", "chatgpt", "homework help"),
        ("claude-export.json", "claude", "0b9e4c1d-7f2a-4e55-9a3b-2c1d0e9f8a7b"),
        ("claude-export.json", "claude", "Homework"),
    ],
)
def test_exports_read_the_picked_conversation_as_the_app_shows_it(name: str, fmt: str, pick: str) -> None:
    t = read_transcript(TRANSCRIPTS / name, conversation=pick)
    assert t.format == fmt
    turns = [(x.role, x.content) for x in t.turns]
    if fmt == "chatgpt":  # the system message, hidden context, tool call and its output are left out,
        assert turns == MINI_TURNS  # and the branch shown (the regenerated reply) is read, not the first one
        assert "$\\boxed{5}$" in turns[3][1] and "$\\boxed{15}$" not in turns[3][1]
    else:  # the thinking block is left out; the attachment's text is kept in the user turn
        assert [r for r, _ in turns] == [r for r, _ in MINI_TURNS]
        assert "Two plus two is five" not in turns[3][1]
        assert "(a) 2 + 2, (b) 3 * 5" in turns[2][1] and "[sheet.txt]" in turns[2][1]
        assert turns[3][1] == MINI_TURNS[3][1]


@pytest.mark.parametrize("name", ["chatgpt-export.json", "claude-export.json"])
def test_an_export_of_several_conversations_needs_a_pick(name: str) -> None:
    with pytest.raises(
        TranscriptError, match=r"holds 2 conversations; pick one with --conversation.*Dinner ideas"
    ):
        read_transcript(TRANSCRIPTS / name)
    with pytest.raises(TranscriptError, match=r"no conversation has the id or title 'lunch'"):
        read_transcript(TRANSCRIPTS / name, conversation="lunch")
    dinner = read_transcript(TRANSCRIPTS / name, conversation="Dinner ideas")
    assert [t.role for t in dinner.turns] == ["user", "assistant"] and "stir-fry" in dinner.turns[1].content


def test_a_pdf_writeup_is_read_through_pdftotext() -> None:
    t = read_transcript(TRANSCRIPTS / "mini-writeup.pdf")
    assert t.format == "pdf"
    assert [x.role for x in t.turns] == ["user", "assistant"] * 3
    assert "$\\boxed{5}$" in t.turns[3].content and "**Part (c)** `Paris`" in t.turns[3].content
    with pytest.raises(TranscriptError, match="not a PDF"):
        read_transcript(TRANSCRIPTS / "mini-writeup.pdf", conversation="x")


def test_a_broken_pdf_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "w.pdf"
    bad.write_bytes(b"%PDF-1.4\nthis is not a PDF body\n")
    with pytest.raises(TranscriptError, match=r"w.pdf: pdftotext cannot read it"):
        read_transcript(bad)


@pytest.mark.parametrize(
    ("name", "pick"),
    [
        ("chatgpt-export.json", "Homework help"),
        ("claude-export.json", "Homework help"),
        ("mini-writeup.pdf", None),
    ],
)
def test_exports_grade_like_the_json_transcript(name: str, pick: str | None, tmp_path: Path) -> None:
    expected = grade_transcript(
        TRANSCRIPTS / "mini.json",
        problems=MINI / "problems",
        rubrics=MINI / "rubrics",
        runs_dir=tmp_path / "a",
    )
    result = grade_transcript(
        TRANSCRIPTS / name,
        problems=MINI / "problems",
        rubrics=MINI / "rubrics",
        runs_dir=tmp_path / "b",
        conversation=pick,
    )

    def verdicts(r: Any) -> list[tuple[str, str, str, int]]:
        return [(p.part, p.status, p.first_attempt_status, p.hints) for p in r.parts]

    assert verdicts(result) == verdicts(expected)
    assert verdicts(result)[0] == ("a", "correct", "incorrect", 1)


def test_grade_transcript_cli_writes_the_report(tmp_path: Path, capsys, monkeypatch) -> None:
    args = ["grade-transcript", str(TRANSCRIPTS / "claude-export.json"), "--conversation", "Homework help",
            "--problems", str(MINI / "problems"), "--rubrics", str(MINI / "rubrics"), "--out", str(tmp_path)]  # fmt: skip
    result = run_cli(args, capsys, monkeypatch)
    assert result.code == 0, result.err
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    html = (run_dir / "report.html").read_text()
    assert "Count again: two plus two." in html
    assert f"wrote {run_dir / 'report.html'}" in result.err
