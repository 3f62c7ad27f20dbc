"""A reply cut off at the length limit is marked: in the journal, results.json, the summary and the report margin."""

from __future__ import annotations

import json
import re

from evalkit.report import write_report
from evalkit.store import open_run
from tests.fakeserver import FakeProvider, Reply
from tests.helpers import run_cli
from tests.tutor import TRIO, answer


def test_a_truncated_reply_is_marked_everywhere(tmp_path, provider_env, capsys, monkeypatch) -> None:
    def respond(call) -> Reply:
        text = answer(call.last_user)
        return Reply(
            text,
            stop_reason="max_tokens"
            if "Products." in call.last_user and "move on" in call.last_user
            else "end_turn",
        )

    with FakeProvider() as fake:
        fake.respond_with(respond)
        args = ["run", "--model", "anthropic:claude-sonnet-4-5", "--base-url", fake.anthropic_base_url]
        args += [
            "--problems",
            str(TRIO / "problems"),
            "--rubrics",
            str(TRIO / "rubrics"),
            "--out",
            str(tmp_path),
        ]
        result = run_cli([*args, "--no-cache", "--no-report", "--max-connections", "1"], capsys, monkeypatch)
    assert result.code == 0, result.err
    assert "1 reply was cut off at the length limit" in result.out
    (run_dir,) = tmp_path.iterdir()
    events = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    replies = [e for e in events if e["type"] == "message" and e["role"] == "assistant"]
    cut = [e for e in replies if e["response"]["truncated"]]
    assert [(e["conv"], e["response"]["stop_reason"]) for e in cut] == [("s0/products", "max_tokens")]
    assert all(e["response"]["truncated"] is False for e in replies if e not in cut)
    results = json.loads((run_dir / "results.json").read_text())
    assert {q["problem"]: q["truncated_replies"] for q in results["questions"]} == {
        "sums": 0,
        "products": 1,
        "words": 0,
    }
    assert results["totals"]["truncated_replies"] == 1

    html = write_report(open_run(run_dir), "html").read_text()
    turns = re.findall(r'<div class="turn assistant" id="(q-products-t\d+)">(.*?)</aside>', html, re.S)
    marked = [anchor for anchor, body in turns if "Cut off" in body]
    assert marked == ["q-products-t2"]  # the question's reply, the first assistant turn after the opening
    assert html.count("Cut off") == 1 and "repl" in html and "cut off</li>" in html
