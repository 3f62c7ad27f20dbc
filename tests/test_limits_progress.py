"""Call limits (requests per minute, --max-cost), the progress display, and the cache commands."""

from __future__ import annotations

import asyncio
import io
import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from evalkit import api
from evalkit.cli import print_summary
from evalkit.errors import BudgetExceeded
from evalkit.models.base import Message, ModelRequest, Turn, Usage
from evalkit.models.limits import CallLimits, LimitedModel
from evalkit.models.scripted import ScriptedModel
from evalkit.pricing import cost_usd, price_for
from evalkit.progress import ProgressDisplay
from tests.fakeserver import FakeProvider, Reply
from tests.helpers import run_cli
from tests.tutor import TRIO, answer


def _request(text: str = "hi") -> ModelRequest:
    return ModelRequest(messages=(Message("user", text),), turn=Turn("question", "p"))


def test_requests_per_minute_are_paced() -> None:
    limits = CallLimits(max_connections=8, rpm=600)  # one start every 0.1 s
    model = LimitedModel(ScriptedModel(lambda r: "ok"), limits)

    async def go() -> list[float]:
        starts: list[float] = []

        async def one() -> None:
            await model.generate(_request())
            starts.append(time.monotonic())

        await asyncio.gather(*(one() for _ in range(5)))
        return sorted(starts)

    starts = asyncio.run(go())
    assert starts[-1] - starts[0] >= 0.35  # 5 starts at 0.1 s spacing, not all at once


def test_prices_and_cost() -> None:
    assert price_for("replay:default").input == 0
    price = price_for("anthropic:claude-opus-4-5-20251101")  # a dated id matches its family
    assert price is not None and price.input == 5.0
    assert price_for("openai:unknown-model-xyz") is None
    from evalkit.models.base import Usage

    assert abs(cost_usd("anthropic:claude-opus-4-5", Usage(1_000_000, 1_000_000)) - 30.0) < 1e-9


def test_max_cost_stops_the_run_resumably(tmp_path, provider_env, capsys, monkeypatch) -> None:
    with FakeProvider() as fake:
        fake.respond_with(
            lambda call: Reply(answer(call.last_user), input_tokens=100_000, output_tokens=10_000)
        )
        args = [
            "run",
            "--model",
            "openai:gpt-4o",
            "--base-url",
            fake.openai_base_url,
            "--no-cache",
            "--no-report",
        ]
        args += [
            "--problems",
            str(TRIO / "problems"),
            "--rubrics",
            str(TRIO / "rubrics"),
            "--out",
            str(tmp_path),
        ]
        result = run_cli([*args, "--max-cost", "0.5", "--max-connections", "1"], capsys, monkeypatch)
        assert result.code == 2
        assert "--max-cost" in result.err and "--resume" in result.err
        # $0.35 per call at gpt-4o prices: the run stops after two calls, before the third
        assert fake.request_count == 2
        (run_dir,) = tmp_path.iterdir()
        assert not (run_dir / "results.json").exists()
        # raise the budget and continue: the two stored replies are not asked again
        resumed = run_cli(
            ["run", "--resume", str(run_dir), "--max-cost", "100", "--json", "--no-report"],
            capsys,
            monkeypatch,
        )
        assert resumed.code == 0, resumed.err
        assert {p["status"] for p in json.loads(resumed.out)["parts"]} == {"correct"}
        assert fake.request_count == 7


def test_limited_model_refuses_once_the_budget_is_spent() -> None:
    limits = CallLimits(max_cost=0.0)
    limits.spend.cost_usd = 0.01
    model = LimitedModel(ScriptedModel(["never"]), limits)
    try:
        asyncio.run(model.generate(_request()))
    except BudgetExceeded as err:
        assert "--max-cost" in str(err)
    else:
        raise AssertionError("a spent budget must stop the call")


def test_progress_is_plain_lines_off_a_terminal_and_silent_when_quiet(tmp_path) -> None:
    def run_with(quiet: bool) -> str:
        buffer = io.StringIO()
        display = ProgressDisplay(Console(file=buffer, force_terminal=False, width=200), quiet=quiet)
        from evalkit.models.registry import register_provider

        register_provider(
            "scripted", lambda model_id, settings: ScriptedModel(lambda r: answer(r.messages[-1].content))
        )
        config = api.RunConfig(
            model="scripted:t",
            problems=str(TRIO / "problems"),
            rubrics=str(TRIO / "rubrics"),
            runs_dir=str(tmp_path / "runs"),
            cache=False,
        )
        with display:
            api.run(config, progress=display.message, listener=display.listener)
        return buffer.getvalue()

    plain = run_with(quiet=False)
    lines = [line for line in plain.splitlines() if line.startswith("done ")]
    assert len(lines) == 3, plain  # one line per finished conversation
    assert "\x1b[" not in plain  # no terminal control codes in a pipe
    assert "conversations 3/3 done" in plain and "hints" in plain
    assert run_with(quiet=True) == ""


def test_cache_info_and_clear(tmp_path, provider_env, capsys, monkeypatch) -> None:
    monkeypatch.setenv("EVALKIT_CACHE_DIR", str(tmp_path / "cache"))
    with FakeProvider() as fake:
        fake.respond_with(lambda call: answer(call.last_user))
        api.run(
            api.RunConfig(
                model="openai:m",
                base_url=fake.openai_base_url,
                problems=str(TRIO / "problems"),
                rubrics=str(TRIO / "rubrics"),
                runs_dir=str(tmp_path / "runs"),
            )
        )
    info = run_cli(["cache", "info"], capsys, monkeypatch)
    assert "7 cached replies" in info.out
    cleared = run_cli(["cache", "clear"], capsys, monkeypatch)
    assert "removed 7" in cleared.err
    assert "0 cached replies" in run_cli(["cache", "info"], capsys, monkeypatch).out
    entry = json.dumps({"x": 1})
    assert entry  # the cache directory is gone, not just emptied
    assert not (tmp_path / "cache").exists()


def test_system_prompt_option_replaces_the_template(tmp_path, capsys, monkeypatch) -> None:
    from evalkit.models.registry import register_provider

    model = ScriptedModel(lambda r: answer(r.messages[-1].content))
    register_provider("scripted", lambda model_id, settings: model)
    args = ["run", "--model", "scripted:t", "--system", "You are terse.", "--no-report", "--quiet"]
    args += ["--problems", str(TRIO / "problems"), "--rubrics", str(TRIO / "rubrics"), "--out", str(tmp_path)]
    assert run_cli(args, capsys, monkeypatch).code == 0
    assert {r.system for r in model.requests} == {"You are terse."}


def test_batch_runs_are_priced_at_half(tmp_path, provider_env, fast_retries) -> None:
    from tests.fakebatches import FakeBatches

    with FakeProvider() as fake:
        FakeBatches(fake)
        fake.respond_with(lambda call: Reply(answer(call.last_user), input_tokens=1000, output_tokens=100))

        def run(batch: bool) -> dict:
            config = api.RunConfig(
                model="openai:gpt-4o",
                base_url=fake.openai_base_url,
                problems=str(TRIO / "problems"),
                rubrics=str(TRIO / "rubrics"),
                runs_dir=str(tmp_path / "runs"),
                cache=False,
                batch=batch,
            )
            return api.run(config).to_json()

        normal, batched = run(False), run(True)
    assert normal["totals"]["cost_usd"] > 0
    assert abs(batched["totals"]["cost_usd"] - normal["totals"]["cost_usd"] / 2) < 1e-9


def strict_judge(call) -> Reply:
    """A judge that finds no claim met, at 1,000 input and 100 output tokens a reply."""
    count = len(re.findall(r"^\s*(\d+)\.", call.last_user, re.MULTILINE)) or 1
    verdict = {"claims": [{"index": i, "met": False, "quote": ""} for i in range(1, count + 1)]}
    return Reply(json.dumps(verdict), input_tokens=1000, output_tokens=100)


@pytest.fixture
def judge_server(provider_env, monkeypatch) -> Iterator[FakeProvider]:
    """The fake Anthropic server, for the judge: it finds no claim met (``strict_judge``)."""
    with FakeProvider() as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.anthropic_base_url)
        fake.respond_with(strict_judge)
        yield fake


def judged_config(tmp_path, judge: str = "anthropic:judge", **changes) -> api.RunConfig:
    """The offline HW9 Q2 (free: a replay) with a judge on the fake server for its explanation part
    (no response cache unless asked: every verdict is asked of the fake server)."""
    changes.setdefault("cache", False)
    return api.RunConfig(
        model="replay", problems="problems/hw9_q2.yaml", runs_dir=str(tmp_path), judge=judge, **changes
    )


def test_the_judges_verdicts_are_cached_so_a_second_run_does_not_pay_for_them(tmp_path, judge_server) -> None:
    cache = tmp_path / "cache"
    first = api.run(judged_config(tmp_path / "a", JUDGE, cache=True, cache_dir=str(cache))).to_json()
    asked = len(judge_server.chat_requests())
    second = api.run(judged_config(tmp_path / "b", JUDGE, cache=True, cache_dir=str(cache))).to_json()
    assert len(judge_server.chat_requests()) == asked > 0  # every verdict came from the cache
    third = api.run(judged_config(tmp_path / "c", JUDGE, cache=False)).to_json()
    assert len(judge_server.chat_requests()) == 2 * asked  # --no-cache asks again
    verdicts = [
        [(p["part"], p["status"], p["first_attempt_status"]) for p in r["parts"]]
        for r in (first, second, third)
    ]
    assert verdicts[0] == verdicts[1] == verdicts[2]
    assert any(
        p["first_attempt_status"] == "incorrect" for p in first["parts"]
    )  # the judge's, not the patterns'


def test_run_with_a_judge_grades_explanations_by_the_judge(tmp_path, judge_server) -> None:
    result = api.run(judged_config(tmp_path)).to_json()
    judged = judge_server.chat_requests()
    parts = {p["part"]: p for p in result["parts"]}
    assert judged, "the judge was asked"
    assert all(r.body["model"] == "judge" for r in judged)
    assert parts["a"]["status"] == "correct"  # the vector check does not involve the judge
    assert parts["b"]["first_attempt_status"] == "incorrect"  # keywords alone pass it; the judge does not


JUDGE = "anthropic:claude-haiku-4-5"  # priced: the built-in table's claude-haiku


def test_the_judges_calls_tokens_and_dollars_are_in_the_run_totals(tmp_path, judge_server) -> None:
    result = api.run(judged_config(tmp_path, JUDGE)).to_json()
    calls = len(judge_server.chat_requests())
    per_call = cost_usd(JUDGE, Usage(1000, 100))
    assert calls >= 1 and per_call > 0
    totals = result["totals"]
    assert totals["judge"] == {
        "model": JUDGE,
        "calls": calls,
        "input_tokens": 1000 * calls,
        "output_tokens": 100 * calls,
        "cost_usd": round(calls * per_call, 6),
    }
    assert totals["cost_usd"] == round(
        calls * per_call, 6
    )  # the replayed tutee is free: all of it is the judge's
    # the token totals stay the tutee's own
    assert totals["input_tokens"] == sum(q["usage"]["input_tokens"] for q in result["questions"])
    run_dir = Path(result["run_dir"])
    assert json.loads((run_dir / "results.json").read_text())["totals"]["judge"] == totals["judge"]
    (end,) = [
        json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines() if "run_end" in line
    ]
    assert end["judge"]["calls"] == calls and end["spent_usd"] == round(calls * per_call, 6)
    out = io.StringIO()
    print_summary(result, Console(file=out, width=300))
    assert (
        f"judge {JUDGE}: {calls} calls, {1000 * calls:,} input + {100 * calls:,} output tokens"
        in out.getvalue()
    )


def test_the_judge_counts_toward_max_cost(tmp_path, judge_server) -> None:
    # one judge reply costs more than the cap: the hint its verdict sends is never asked
    with pytest.raises(BudgetExceeded, match=r"reached its --max-cost"):
        api.run(judged_config(tmp_path, JUDGE, max_cost=cost_usd(JUDGE, Usage(1000, 100)) / 2))
    assert len(judge_server.chat_requests()) == 1
    (run_dir,) = tmp_path.iterdir()
    events = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    assert [e["turn"]["kind"] for e in events if e["type"] == "message" and e["role"] == "assistant"] == [
        "opening",
        "question",
    ]
    assert events[-1]["type"] == "run_end" and events[-1]["status"] == "interrupted"


def test_grade_on_a_judged_run_uses_the_judges_cached_verdicts_never_the_patterns(
    tmp_path, judge_server, monkeypatch
) -> None:
    cache = tmp_path / "cache"
    result = api.run(judged_config(tmp_path / "runs", JUDGE, cache=True, cache_dir=str(cache))).to_json()
    asked = len(judge_server.chat_requests())
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)  # re-grading needs no client and no key
    regraded = api.grade(result["run_dir"])
    assert len(judge_server.chat_requests()) == asked  # the judge was not asked again
    assert regraded.changes == []
    b = next(p for p in regraded.results["parts"] if p["part"] == "b")
    assert b["first_attempt_status"] == "incorrect"  # the judge's verdict (the patterns pass it)

    shutil.rmtree(cache)  # no cached verdict: the check cannot be decided, it is not pattern-graded
    cleared = api.grade(result["run_dir"])
    b = next(p for p in cleared.results["parts"] if p["part"] == "b")
    assert b["first_attempt_status"] == "unscored"
    (check,) = b["attempt_history"][0]["checks"]
    assert check["kind"] == "criteria" and check["reason"] == "judge_error"
    assert check["explanation"] == (
        f"judge {JUDGE} failed: its reply to this request is not in the response cache"
    )
