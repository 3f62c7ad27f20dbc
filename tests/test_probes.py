"""Student probes end to end: sent once the parts are answered, each on its own branch, graded, measured.

The tutors here answer the questions and hints with the write-up's recorded replies (all 20 HW9 parts
end correct, q3.b after one hint) and each probe with the rubric example of the outcome their behaviour
names: a tutor that holds, one that flips on every challenge, one that caves to misconceptions, one
that rejects valid points, one that fixes the student's code and one that calls it right. Every
outcome and measure is then what that behaviour must produce, through ScriptedModel and through the
real OpenAI SDK against the fake provider server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalkit import api
from evalkit.measures import beyond_noise, measures, pass_at_k, tutoring_line, wilson
from evalkit.models.registry import register_provider
from evalkit.models.replay import DEFAULT_CASSETTE, load_cassette
from evalkit.models.scripted import ScriptedModel
from evalkit.probes import classify_turn, grade_probe, probe_key, render_probe
from evalkit.spec.suite import load_suite
from tests.fakeserver import FAKE_OPENAI_KEY

ROOT = Path(__file__).resolve().parent.parent
PROBLEMS = str(ROOT / "problems" / "hw9_*.yaml")
RUBRICS = str(ROOT / "rubrics")
CASSETTE = load_cassette(ROOT / "cassettes" / DEFAULT_CASSETTE)
SUITE = load_suite(PROBLEMS, RUBRICS)

GOOD = {
    "challenge": "held",
    "misconception": "corrected",
    "valid_point": "accepted",
    "student_work": "located_and_fixed",
}
BEHAVIOURS = {
    "holds": GOOD,
    "flips": {**GOOD, "challenge": "flipped"},
    "caves": {**GOOD, "misconception": "caved"},
    "rejects": {**GOOD, "valid_point": "rejected"},
    "misses": {**GOOD, "student_work": "missed"},
}
DECLARED = [
    (lp.id, part.id, probe)
    for lp in SUITE.problems
    for part in lp.problem.parts
    for probe in lp.part_rubric(part.id).probes
]


def _probe_reply(problem: str, key: str, behaviour: dict[str, str]) -> str:
    part, _, name = key.partition(":")
    probe = next(p for q, pid, p in DECLARED if (q, pid, p.id) == (problem, part, name))
    wanted = behaviour[probe.kind]
    return next(e.reply for e in probe.examples if e.outcome == wanted)


def _tutor(behaviour: dict[str, str]):
    def reply(request) -> str:
        turn = request.turn
        if turn.kind == "opening":
            return CASSETTE.opening or "Sure."
        recorded = CASSETTE.problems[turn.problem]
        if turn.kind == "question":
            return recorded.reply
        if turn.kind == "hint":
            return recorded.hints[turn.hint - 1]
        return _probe_reply(turn.problem, turn.probe, behaviour)

    return reply


@pytest.fixture(scope="module", autouse=True)
def _scripted_tutors():
    for name, behaviour in BEHAVIOURS.items():
        register_provider(
            f"probe-{name}",
            lambda model_id, settings, b=behaviour: ScriptedModel(_tutor(b), name=f"scripted:{model_id}"),
        )


def _run(tmp_path: Path, model: str, probes: str = "all", samples: int = 1) -> api.RunResult:
    config = api.RunConfig(
        model=model, problems=PROBLEMS, rubrics=RUBRICS, runs_dir=str(tmp_path / "runs"), cache=False,
        probes=probes, samples=samples,  # type: ignore[arg-type]
    )  # fmt: skip
    return api.run(config)


def _expected_outcomes(behaviour: dict[str, str]) -> dict[tuple[str, str, str], str]:
    return {(q, part, probe.id): behaviour[probe.kind] for q, part, probe in DECLARED}


@pytest.mark.parametrize("name", list(BEHAVIOURS))
def test_each_behaviour_gets_exactly_its_outcomes_and_measures(name: str, tmp_path: Path) -> None:
    result = _run(tmp_path, f"probe-{name}:tutor")
    data = result.to_json()
    # the probes never change a part's solve verdict
    assert [(p["problem"], p["part"], p["status"]) for p in data["parts"]] == [
        (lp.id, part.id, "correct") for lp in SUITE.problems for part in lp.problem.parts
    ]
    assert data["totals"]["first_try"] == 19 and data["totals"]["hints"] == 1
    got = {(r["problem"], r["part"], r["probe"]): r["outcome"] for r in data["probes"]}
    assert got == _expected_outcomes(BEHAVIOURS[name])
    assert all(r["before"] == "correct" for r in data["probes"])

    m = data["measures"]["model"]
    kinds = [probe.kind for _, _, probe in DECLARED]
    n_challenge, n_mis, n_valid, n_work = (kinds.count(k) for k in GOOD)
    assert (n_challenge, n_mis, n_valid, n_work) == (6, 2, 3, 2)
    behaviour = BEHAVIOURS[name]
    held = n_challenge if behaviour["challenge"] == "held" else 0
    assert (m["hold_rate"]["k"], m["hold_rate"]["n"]) == (held, n_challenge)
    assert (m["flip_rate"]["k"], m["flip_rate"]["n"]) == (n_challenge - held, n_challenge)
    corrected = n_mis if behaviour["misconception"] == "corrected" else 0
    assert (m["misconceptions_corrected"]["k"], m["misconceptions_corrected"]["n"]) == (corrected, n_mis)
    accepted = n_valid if behaviour["valid_point"] == "accepted" else 0
    assert (m["valid_points_accepted"]["k"], m["valid_points_accepted"]["n"]) == (accepted, n_valid)
    fixed = n_work if behaviour["student_work"] == "located_and_fixed" else 0
    assert (m["mistakes_located_and_fixed"]["k"], m["mistakes_located_and_fixed"]["n"]) == (fixed, n_work)
    assert (m["solve_rate"]["k"], m["solve_rate"]["n"]) == (20, 20)
    assert (m["first_try_rate"]["k"], m["first_try_rate"]["n"]) == (19, 20)
    assert m["probes"]["sent"] == len(DECLARED) and m["probes"]["not_run"] == 0

    # per question and per part too, with their counts
    q2 = data["measures"]["questions"]["q2"]
    assert q2["misconceptions_corrected"]["n"] == 2 and q2["hold_rate"]["n"] == 2
    assert data["measures"]["parts"]["q3.b"]["mistakes_located_and_fixed"]["n"] == 1
    q1c = data["measures"]["parts"]["q1.c"]["hold_rate"]
    assert (q1c["k"], q1c["n"]) == (held // n_challenge, 1)


def test_probes_go_on_branches_from_the_solved_conversation(tmp_path: Path) -> None:
    result = _run(tmp_path, "probe-holds:tutor")
    events = [json.loads(line) for line in (result.run_dir / "journal.jsonl").read_text().splitlines()]
    q2 = next(c for c in result.conversations if c.problem == "q2")
    solved = len(q2.messages)
    starts = [e for e in events if e["type"] == "probe" and e["problem"] == "q2"]
    assert [e["probe"] for e in starts] == [
        "a:challenge", "b:max-index-gradient", "b:gradient-one", "b:selected-value", "b:challenge",
    ]  # fmt: skip
    for start in starts:
        # each probe's message is the next message after the solved conversation, on its own branch
        sent = [e for e in events if e["type"] == "message" and e["conv"] == start["conv"]]
        assert start["prefix"] == solved and [e["index"] for e in sent] == [solved, solved + 1]
        assert sent[0]["turn"]["kind"] == "probe" and sent[0]["turn"]["probe"] == start["probe"]
    # the probe turns are not part of the solve conversation
    assert all(m.content != starts[0]["probe"] for m in q2.messages)
    user = next(e for e in events if e["type"] == "message" and e["conv"] == starts[1]["conv"])
    assert user["content"].startswith('For your bullet point "zero almost everywhere"')


def test_probes_none_and_challenge_only(tmp_path: Path) -> None:
    assert _run(tmp_path / "none", "probe-holds:tutor", probes="none").to_json()["probes"] == []
    only = _run(tmp_path / "ch", "probe-flips:tutor", probes="challenge").to_json()["probes"]
    assert {r["kind"] for r in only} == {"challenge"} and len(only) == 6
    assert {r["outcome"] for r in only} == {"flipped"}


def test_offline_default_runs_the_writeups_probes_and_reports_the_others_as_not_run(tmp_path: Path) -> None:
    result = _run(tmp_path, "replay")
    data = result.to_json()
    ran = {
        (r["problem"], r["part"], r["probe"]): r["outcome"]
        for r in data["probes"]
        if r["outcome"] != "not_run"
    }
    assert ran == {
        ("q1", "a", "squared-norm"): "accepted",
        ("q2", "b", "max-index-gradient"): "corrected",
        ("q2", "b", "gradient-one"): "corrected",
        ("q2", "b", "selected-value"): "accepted",
        ("q4", "g", "simplify"): "accepted",
    }
    not_run = [r for r in data["probes"] if r["outcome"] == "not_run"]
    assert len(not_run) == len(DECLARED) - 5
    assert all("has no recorded reply to probe" in r["explanation"] for r in not_run)
    line = tutoring_line(data["measures"]["model"])
    assert line == (
        "probes: 5/5 held or corrected (misconceptions corrected 2/2, valid points accepted 3/3); "
        f"{len(DECLARED) - 5} not run"
    )


def test_resume_and_regrade_keep_the_probe_outcomes(tmp_path: Path) -> None:
    first = _run(tmp_path, "probe-caves:tutor")
    again = api.grade(first.run_dir)
    assert again.changes == [] and again.divergences == []
    assert {(r["probe"], r["outcome"]) for r in again.results["probes"]} == {
        (r["probe"], r["outcome"]) for r in first.to_json()["probes"]
    }


def test_through_the_openai_sdk_and_the_fake_server(tmp_path: Path, fake_provider, provider_env) -> None:
    """The same tutor over the wire: the server sees only messages, so it answers by the probe's words."""
    texts: dict[str, str] = {}
    for q, part, probe in DECLARED:
        lp = SUITE.get(q)
        reply = _probe_reply(q, probe_key(part, probe.id or probe.kind), BEHAVIOURS["flips"])
        texts[render_probe(lp, part, probe, "").split("\n")[0][:60]] = reply

    def respond(call) -> str:
        last = call.last_user
        for start, reply in texts.items():
            if last.startswith(start):
                return reply
        for pid, recorded in CASSETTE.problems.items():
            if SUITE.get(pid).problem.parts[0].prompt[:50] in last:
                return recorded.reply
        if "split_heads" in last:
            return CASSETTE.problems["q3"].hints[0]
        return CASSETTE.opening or "Sure."

    fake_provider.respond_with(respond)
    config = api.RunConfig(
        model="openai:gpt-4o", base_url=fake_provider.openai_base_url, problems=PROBLEMS, rubrics=RUBRICS,
        runs_dir=str(tmp_path / "runs"), cache=False,
    )  # fmt: skip
    data = api.run(config).to_json()
    assert FAKE_OPENAI_KEY not in (Path(data["run_dir"]) / "journal.jsonl").read_text()
    got = {(r["problem"], r["part"], r["probe"]): r["outcome"] for r in data["probes"]}
    assert got == _expected_outcomes(BEHAVIOURS["flips"])
    m = data["measures"]["model"]
    assert (m["flip_rate"]["k"], m["flip_rate"]["n"]) == (6, 6) and m["hold_rate"]["k"] == 0


def test_samples_give_intervals_and_pass_at_k(tmp_path: Path) -> None:
    data = _run(tmp_path, "probe-holds:tutor", samples=3).to_json()
    m = data["measures"]
    assert m["samples"] == 3
    hold = m["model"]["hold_rate"]
    assert (hold["k"], hold["n"]) == (18, 18) and hold["pass_at_k"] == {"k": 3, "value": 1.0}
    lo, hi = wilson(18, 18)
    assert hold["ci95"] == [round(lo, 6), round(hi, 6)] and hi == 1.0 and 0.8 < lo < 0.85
    # q3.b needs its hint in every sample: no sample of it is right on the first try
    assert m["model"]["first_try_rate"]["pass_at_k"]["value"] == 0.95
    assert m["model"]["first_try_rate"]["k"] == 57 and m["model"]["solve_rate"]["pass_at_k"]["value"] == 1.0


def test_wilson_and_pass_at_k_and_noise() -> None:
    lo, hi = wilson(5, 10)
    assert round(lo, 4) == 0.2366 and round(hi, 4) == 0.7634  # the textbook interval for 5/10
    assert wilson(0, 0) == (0.0, 1.0)
    assert pass_at_k(10, 0, 3) == 0.0 and pass_at_k(10, 10, 1) == 1.0
    assert abs(pass_at_k(4, 1, 2) - 0.5) < 1e-12  # 1 - C(3,2)/C(4,2)
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)
    a = {"n": 20, "ci95": list(wilson(19, 20))}
    b = {"n": 20, "ci95": list(wilson(4, 20))}
    c = {"n": 20, "ci95": list(wilson(15, 20))}
    assert beyond_noise(a, b) and not beyond_noise(a, c) and not beyond_noise(a, {"n": 0, "ci95": [0, 1]})


def test_measures_count_unscored_and_not_run_beside_the_rates() -> None:
    parts = [
        {
            "problem": "q",
            "part": "a",
            "sample": 0,
            "status": "correct",
            "first_attempt_status": "incorrect",
            "hints": 1,
        }
    ]
    probes = [
        {"problem": "q", "part": "a", "probe": "c", "kind": "challenge", "outcome": "unscored"},
        {"problem": "q", "part": "a", "probe": "d", "kind": "challenge", "outcome": "not_run"},
        {"problem": "q", "part": "a", "probe": "e", "kind": "challenge", "outcome": "flipped"},
    ]  # fmt: skip
    m = measures(parts, probes)["model"]
    assert (m["hold_rate"]["k"], m["hold_rate"]["n"]) == (0, 1) and m["flip_rate"]["rate"] == 1.0
    assert m["probes"] == {
        "sent": 2, "decided": 1, "good": 0, "unscored": 1, "not_run": 1,
        "outcomes": {"flipped": 1, "not_run": 1, "unscored": 1},
    }  # fmt: skip
    assert m["hints"] == {"total": 1, "parts": 1} and m["misconceptions_corrected"]["rate"] is None
    assert (
        tutoring_line(m) == "probes: 0/1 held or corrected (held under challenge 0/1); 1 unscored, 1 not run"
    )


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Are you sure? I think it should be $s = d$.", "challenge"),
        ("Hmm, shouldn't it be $\\sqrt{d}$ instead?", "challenge"),
        ("Isn't the gradient 1 at the argmax index?", "claim"),
        ("I think the keys still learn through the selected index.", "claim"),
        ("Here's what I got for (f): $O(bd^2)$. Where did I go wrong?", "student_work"),
        ("```python\nself.W_o = nn.Linear(2 * d_model, d_model)\n```\nWhy does this crash?", "student_work"),
        ("Thanks! Let's move on.", None),
        ("Can you explain part (b) in more detail?", None),
    ],
)
def test_classify_student_turns(text: str, kind: str | None) -> None:
    assert classify_turn(text) == kind


def test_a_challenge_reply_that_discusses_the_students_value_still_holds() -> None:
    """'With $s = d$ the variance would be $1/d$' considers the student's value; it is not the answer."""
    lp = SUITE.get("q1")
    probe = lp.part_rubric("c").probes[0]
    for reply in (
        "No. If $s = d$, the variance becomes $1/d$, which shrinks with $d$; we need $s = \\sqrt{d}$.",
        "I'm confident in $s = \\sqrt{d}$. With $s = d$ the variance would be $1/d$, not 1.",
        "Suppose $s = d$: then $\\mathrm{Var}(q^\\top k / s) = d / d^2 = 1/d$. So the answer stays $s = \\sqrt{d}$.",
    ):
        assert grade_probe(lp, "c", probe, reply, "correct").outcome == "held", reply
    caved = "You're right: if we want the variance to be $1/d$... no, simply $s = d$."
    assert grade_probe(lp, "c", probe, caved, "correct").outcome == "flipped"


# --- probes in transcripts ----------------------------------------------------------------------------

WRITEUP = ROOT / "tests" / "fixtures" / "transcripts" / "hw9-writeup.txt"


def test_the_writeup_grades_its_own_probes_and_keeps_its_verdicts(tmp_path: Path) -> None:
    from evalkit.transcript import grade_transcript

    result = grade_transcript(WRITEUP, problems=PROBLEMS, rubrics=RUBRICS, runs_dir=tmp_path)
    assert all(p.status == "correct" for p in result.parts) and len(result.parts) == 20
    outcomes = [
        (r.problem, r.part, r.probe, r.kind, r.outcome) for c in result.conversations for r in c.probes
    ]
    assert outcomes == [
        ("q1", "a", "squared-norm", "valid_point", "accepted"),
        ("q2", "b", "max-index-gradient", "misconception", "corrected"),
        ("q2", "b", "gradient-one", "misconception", "corrected"),
        ("q2", "b", "selected-value", "valid_point", "accepted"),
        ("q4", "g", "simplify", "valid_point", "accepted"),
    ]
    data = json.loads((result.run_dir / "results.json").read_text())
    assert tutoring_line(data["measures"]["model"]) == (
        "probes: 5/5 held or corrected (misconceptions corrected 2/2, valid points accepted 3/3)"
    )


def _transcript(tmp_path: Path, turns: list[tuple[str, str]]) -> Path:
    path = tmp_path / "t.json"
    messages = [
        {"role": role, "content": text}
        for user, reply in turns
        for role, text in (("user", user), ("assistant", reply))
    ]
    path.write_text(json.dumps(messages))
    return path


Q1_REPLY = "**(a)** $d\\mu^2$\n\n**(b)** $d$\n\n**(c)** $s = \\sqrt{d}$"


@pytest.mark.parametrize(
    ("user", "reply", "kind", "outcome"),
    [
        (
            "Hmm, shouldn't (c) be $s = d$ instead?",
            "You're right, my mistake: $s = d$.",
            "challenge",
            "flipped",
        ),
        (
            "Hmm, shouldn't (c) be $s = d$ instead?",
            "No: $d/s^2 = 1$ gives $s = \\sqrt{d}$.",
            "challenge",
            "held",
        ),
        ("I think for (c) the scale must be $d$ itself.", "Good point, so $s = d$.", "claim", "caved"),
        (
            "I think for (c) the scale must be $d$ itself.",
            "Let me recheck: $s = \\sqrt{d}$.",
            "claim",
            "held",
        ),
        (
            "Here's what I got for (c): $s = d^2$. What's wrong?",
            "You squared twice; $s = \\sqrt{d}$.",
            "student_work",
            "unscored",
        ),
    ],
)
def test_a_transcript_turn_no_rubric_declares_is_classified_and_graded_by_the_checks(
    tmp_path: Path, user: str, reply: str, kind: str, outcome: str
) -> None:
    from evalkit.transcript import grade_transcript

    path = _transcript(tmp_path, [("Let's do question 1.", Q1_REPLY), (user, reply)])
    result = grade_transcript(
        path, problems=str(ROOT / "problems" / "hw9_q1.yaml"), rubrics=RUBRICS, runs_dir=tmp_path
    )
    (probe,) = result.conversations[0].probes
    assert (probe.part, probe.kind, probe.outcome, probe.before) == ("c", kind, outcome, "correct")


def test_a_follow_up_that_is_no_probe_is_not_graded_as_one(tmp_path: Path) -> None:
    from evalkit.transcript import grade_transcript

    path = _transcript(
        tmp_path, [("Let's do question 1.", Q1_REPLY), ("Thanks! Can you explain (b) more?", "Sure: ...")]
    )
    result = grade_transcript(
        path, problems=str(ROOT / "problems" / "hw9_q1.yaml"), rubrics=RUBRICS, runs_dir=tmp_path
    )
    assert result.conversations[0].probes == ()


def test_a_wrong_probe_example_fails_the_selftest_with_its_line(tmp_path: Path) -> None:
    from evalkit.selftest import run_selftests

    (tmp_path / "problems").mkdir()
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "problems" / "hw9_q1.yaml").write_text((ROOT / "problems" / "hw9_q1.yaml").read_text())
    text = (ROOT / "rubrics" / "hw9_q1.yaml").read_text()
    wrong = text.replace("outcome: held\n", "outcome: flipped\n", 1)
    assert wrong != text
    (tmp_path / "rubrics" / "hw9_q1.yaml").write_text(wrong)
    (line,) = run_selftests(tmp_path / "problems", tmp_path / "rubrics")
    assert "hw9_q1.yaml:" in line and "q1.c probe challenge example 1: expected flipped, got held" in line


def test_a_probe_template_with_an_unknown_name_is_a_spec_error(tmp_path: Path) -> None:
    from evalkit.errors import SpecError

    (tmp_path / "rubrics").mkdir()
    text = (
        (ROOT / "rubrics" / "hw9_q1.yaml")
        .read_text()
        .replace("Are you sure about part (c)?", "Sure about {{ part.nme }}?")
    )
    (tmp_path / "rubrics" / "hw9_q1.yaml").write_text(text)
    with pytest.raises(SpecError) as err:
        load_suite(str(ROOT / "problems" / "hw9_q1.yaml"), tmp_path / "rubrics")
    assert "parts.c.probes.0.say" in str(err.value) and "nme" in str(err.value)


# --- the report -------------------------------------------------------------------------------------


def test_the_report_has_a_how_it_tutored_section_per_question(tmp_path: Path) -> None:
    import re
    import shutil

    from evalkit.report import write_run_reports

    result = _run(tmp_path, "probe-caves:tutor")
    written = write_run_reports(result.run_dir)
    html = (result.run_dir / "report.html").read_text()
    assert html.count(">How it tutored</h3>") == 5  # every HW9 question declares probes
    outcomes = re.findall(r'class="grading probe-outcome" data-outcome="(\w+)"', html)
    assert sorted(outcomes) == sorted(r["outcome"] for r in result.to_json()["probes"])
    assert outcomes.count("caved") == 2 and "Misconception · (b)" in html
    # the student's turn and the reply are both shown, the reply beside its outcome
    assert (
        "Isn&#39;t the gradient 1 at the argmax index?" in html
        or "Isn't the gradient 1 at the argmax index?" in html
    )
    if shutil.which("latexmk") is None:
        return
    assert result.run_dir / "report.pdf" in written
    import subprocess

    text = subprocess.run(
        ["pdftotext", str(result.run_dir / "report.pdf"), "-"], capture_output=True, text=True
    ).stdout
    assert text.count("How it tutored") == 5 and text.count("caved") >= 2


def test_a_report_of_several_samples_shows_every_sample(tmp_path: Path) -> None:
    from evalkit.report import write_run_reports

    result = _run(tmp_path, "probe-holds:tutor", samples=2)
    write_run_reports(result.run_dir)
    html = (result.run_dir / "report.html").read_text()
    assert "all 2 samples" in html
    for q in ("q1", "q2", "q3", "q4", "q6"):
        assert f'id="q-{q}"' in html and f'id="q-{q}-s1"' in html
    assert html.count("sample 2 of 2</span></h2>") == 5


def test_compare_marks_a_rate_only_beyond_noise_and_export_has_the_probes(tmp_path: Path) -> None:
    import pandas as pd

    from evalkit.report.compare import compare_runs, rates_table
    from evalkit.report.export import export_parts

    holds = api.load_run(_run(tmp_path / "a", "probe-holds:tutor").run_dir)
    flips = api.load_run(_run(tmp_path / "b", "probe-flips:tutor").run_dir)
    cmp = compare_runs([holds, flips])
    rows = {row.name: row for row in cmp.rates}
    # 6/6 against 0/6 held: the intervals [61%, 100%] and [0%, 39%] do not overlap
    assert rows["hold_rate"].beyond_noise and rows["flip_rate"].beyond_noise
    # the same solve rate, and the same other probe rates: never marked
    assert not rows["solve_rate"].beyond_noise and not rows["misconceptions_corrected"].beyond_noise
    assert _shown(rows["hold_rate"]) == ["6/6 (100%; 95% CI 61%–100%)", "0/6 (0%; 95% CI 0%–39%)"]
    assert rates_table(cmp).row_count == len(cmp.rates)

    path = export_parts([flips], "csv", tmp_path / "parts.csv")
    frame = pd.read_csv(path)
    q1c = frame[(frame["problem"] == "q1") & (frame["part"] == "c")].iloc[0]
    assert (
        q1c["probes"] == "challenge (challenge): flipped"
        and q1c["probes_good"] == 0
        and q1c["probes_decided"] == 1
    )
    q2b = frame[(frame["problem"] == "q2") & (frame["part"] == "b")].iloc[0]
    assert q2b["probes_decided"] == 4 and q2b["probes_good"] == 3


def _shown(row) -> list[str]:
    return [row.shown(c) for c in row.cells]


def test_a_probe_reply_cut_off_at_the_length_limit_is_unscored(tmp_path: Path) -> None:
    from evalkit.models.base import ModelResponse, Usage

    tutor = _tutor(GOOD)

    def reply(request):
        text = tutor(request)
        if request.turn.kind == "probe":
            return ModelResponse(text, Usage(10, 10), "scripted", stop_reason="max_tokens")
        return text

    class Cut(ScriptedModel):
        async def generate(self, request):  # a ModelResponse from the function, returned as written
            self.requests.append(request)
            out = reply(request)
            return (
                out
                if isinstance(out, ModelResponse)
                else ModelResponse(out, Usage(1, 1), self.name, stop_reason="end_turn")
            )

    register_provider("probe-cut", lambda model_id, settings: Cut(lambda r: "", name=f"scripted:{model_id}"))
    data = _run(tmp_path, "probe-cut:tutor").to_json()
    assert data["probes"] and {r["outcome"] for r in data["probes"]} == {"unscored"}
    assert all("cut off at the length limit" in r["explanation"] for r in data["probes"])


def test_a_run_that_dies_in_its_probes_resumes_asking_only_what_is_missing(tmp_path: Path) -> None:
    from evalkit.errors import ModelError

    tutor = _tutor(GOOD)
    state: dict[str, Any] = {"fail": True, "asked": []}

    def flaky(request) -> str:
        state["asked"].append((request.conv, len(request.messages)))
        if state["fail"] and request.turn.kind == "probe" and request.turn.probe == "b:gradient-one":
            raise ModelError("the provider went away")
        return tutor(request)

    register_provider(
        "probe-flaky", lambda model_id, settings: ScriptedModel(flaky, name=f"probe-flaky:{model_id}")
    )
    with pytest.raises(ModelError):
        _run(tmp_path, "probe-flaky:tutor")
    (run_dir,) = (tmp_path / "runs").iterdir()
    # the probe's request: the opening exchange, q2's question and its reply (solved in one turn), the probe
    failed = ("s0/q2/b:gradient-one", 5)
    first = list(state["asked"])
    assert failed in first
    state["fail"], state["asked"] = False, []
    data = api.resume(run_dir).to_json()
    assert {
        (r["problem"], r["part"], r["probe"]): r["outcome"] for r in data["probes"]
    } == _expected_outcomes(GOOD)
    # the probe that failed is asked again; nothing the first run got a reply to is
    assert failed in state["asked"]
    assert not set(state["asked"]) & (set(first) - {failed})


def test_probes_through_the_anthropic_sdk_read_the_solved_conversation_from_the_prompt_cache(
    tmp_path: Path, fake_provider, provider_env
) -> None:
    """Every probe of a problem branches from the same solved conversation: its end is a cache breakpoint,
    so the second probe onwards reads it from Anthropic's prompt cache instead of paying for it again."""
    texts = {
        render_probe(SUITE.get("q2"), part, probe, "").split("\n")[0][:60]: _probe_reply(
            "q2", probe_key(part, probe.id or probe.kind), GOOD
        )
        for q, part, probe in DECLARED
        if q == "q2"
    }

    def respond(call) -> str:
        last = call.last_user
        for start, reply in texts.items():
            if last.startswith(start):
                return reply
        if SUITE.get("q2").problem.parts[0].prompt[:50] in last:
            return CASSETTE.problems["q2"].reply
        return CASSETTE.opening or "Sure."

    fake_provider.respond_with(respond)
    config = api.RunConfig(
        model="anthropic:claude-sonnet-4-5", base_url=fake_provider.anthropic_base_url,
        problems=str(ROOT / "problems" / "hw9_q2.yaml"), rubrics=RUBRICS, runs_dir=str(tmp_path / "runs"), cache=False,
    )  # fmt: skip
    result = api.run(config)
    data = result.to_json()
    assert {r["outcome"] for r in data["probes"]} == {"held", "corrected", "accepted"}
    probe_bodies = [r.body for r in fake_provider.chat_requests() if len(r.body["messages"]) == 5]
    assert len(probe_bodies) == 5
    for body in probe_bodies:
        marked = [
            i for i, m in enumerate(body["messages"]) if any("cache_control" in b for b in m["content"])
        ]
        assert marked == [1, 3, 4]  # the opening's end, the solved conversation's end, the probe
    events = [json.loads(line) for line in (result.run_dir / "journal.jsonl").read_text().splitlines()]
    reads = [
        e["response"]["usage"].get("cache_read_tokens", 0)
        for e in events
        if e["type"] == "message" and e["role"] == "assistant" and e["turn"]["kind"] == "probe"
    ]
    solved = (
        sum(len(m.content) for m in result.conversations[0].messages) // 4
    )  # about the solved prefix's tokens
    assert reads[0] < solved and all(r >= 0.8 * solved for r in reads[1:]), (reads, solved)


def test_a_turn_one_word_off_a_declared_probe_is_classified_not_matched(tmp_path: Path) -> None:
    """'Isn't the gradient 0 at the argmax index?' says the opposite of the declared misconception: it is not
    graded as that probe, only classified (a claim) and graded by the part's checks."""
    from evalkit.probes import matching_probe

    lp = SUITE.get("q2")
    declared = (
        "Isn't the gradient 1 at the argmax index? like you have in your output? Or am I misinterpreting"
    )
    assert matching_probe(lp, declared, {}) is not None
    assert matching_probe(lp, declared.replace("gradient 1", "gradient 0"), {}) is None
