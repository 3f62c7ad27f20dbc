"""Never lose a turn: faults, SIGKILL and resume, the response cache, and keys kept out of files.

Everything runs through the real OpenAI/Anthropic SDKs against the local fake provider server.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from evalkit import api
from evalkit.cache import ResponseCache
from evalkit.models.base import GenerationOptions, ModelResponse, Usage
from evalkit.models.registry import register_provider
from evalkit.models.scripted import ScriptedModel
from tests.fakeserver import FAKE_ANTHROPIC_KEY, FAKE_OPENAI_KEY, FakeProvider, Fault
from tests.faults import fill, small_disk
from tests.helpers import cli_process, run_cli
from tests.test_resume_regrade import tutor
from tests.tutor import TRIO, answer, expected_parts

ROOT = Path(__file__).parent.parent


def trio_config(tmp: Path, model: str, base_url: str, **kw) -> api.RunConfig:
    kw.setdefault("cache", False)
    return api.RunConfig(
        model=model,
        base_url=base_url,
        problems=str(TRIO / "problems"),
        rubrics=str(TRIO / "rubrics"),
        runs_dir=str(tmp / "runs"),
        **kw,
    )


def transcripts(run_dir: Path) -> dict[str, list[tuple[str, str]]]:
    """Per conversation, the (role, content) messages in order, from the journal."""
    out: dict[str, list[tuple[int, str, str]]] = {}
    for line in (run_dir / "journal.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e["type"] == "message":
            out.setdefault(e["conv"], []).append((e["index"], e["role"], e["content"]))
    return {conv: [(r, c) for _, r, c in sorted(msgs)] for conv, msgs in out.items()}


def verdicts(results: dict) -> dict[tuple[str, str], tuple]:
    return {
        (p["problem"], p["part"]): (p["status"], p["first_attempt_status"], p["attempts"], p["hints"])
        for p in results["parts"]
    }


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_fault_injection_runs_match_a_fault_free_run(tmp_path, provider_env, fast_retries, provider) -> None:
    with FakeProvider() as fake:
        fake.respond_with(lambda call: answer(call.last_user))
        base = fake.openai_base_url if provider == "openai" else fake.anthropic_base_url
        clean = api.run(trio_config(tmp_path / "clean", f"{provider}:m", base))
        assert verdicts(clean.to_json()) == expected_parts()
        reference = transcripts(clean.run_dir)
        faults = (
            Fault.rate_limit(retry_after="0"),
            Fault.server_error(500),
            Fault.overloaded(),
            Fault.hang(5.0),
            Fault.drop(),
        )
        total_faults = 0
        for seed in range(10 if provider == "openai" else 3):
            fake.reset()
            fake.respond_with(lambda call: answer(call.last_user))
            fake.fail_randomly(0.2, *faults, seed=seed)
            config = trio_config(
                tmp_path / f"seed{seed}",
                f"{provider}:m",
                base,
                max_retries=20,
                options=GenerationOptions(timeout_s=0.5),
            )
            result = api.run(config)
            assert transcripts(result.run_dir) == reference, f"seed {seed}"
            assert verdicts(result.to_json()) == expected_parts()
            total_faults += sum(1 for r in fake.requests if r.outcome != "200")
        assert total_faults >= 5, "the faults were actually injected"
        assert fast_retries, "retries happened (and waited, instantly)"


def test_rerun_of_a_finished_run_hits_the_cache_for_every_call(tmp_path, provider_env) -> None:
    with FakeProvider() as fake:
        fake.respond_with(lambda call: answer(call.last_user))
        config = trio_config(
            tmp_path, "openai:m", fake.openai_base_url, cache=True, cache_dir=str(tmp_path / "cache")
        )
        first = api.run(config)
        assert fake.request_count == 7
        fake.reset()
        second = api.run(config)
        assert fake.request_count == 0
        assert transcripts(second.run_dir) == transcripts(first.run_dir)
        # --no-cache asks again
        fake.respond_with(lambda call: answer(call.last_user))
        api.run(trio_config(tmp_path, "openai:m", fake.openai_base_url, cache=False))
        assert fake.request_count == 7


def test_errors_are_never_cached(tmp_path, provider_env) -> None:
    with FakeProvider() as fake:
        fake.respond_with(lambda call: answer(call.last_user))
        fake.fail(Fault.error(400, "messages: bad request"))
        config = trio_config(
            tmp_path, "openai:m", fake.openai_base_url, cache=True, cache_dir=str(tmp_path / "cache")
        )
        with pytest.raises(Exception, match="bad request"):
            api.run(config)
        fake.reset()
        fake.respond_with(lambda call: answer(call.last_user))
        result = api.run(config)
        assert verdicts(result.to_json()) == expected_parts()
        assert fake.request_count == 7, "the failed call was asked again, not served from the cache"


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume(tmp_path) -> None:
    env = {**os.environ, "OPENAI_API_KEY": FAKE_OPENAI_KEY, "EVALKIT_CACHE_DIR": str(tmp_path / "nocache")}
    env.pop("OPENAI_BASE_URL", None)
    with FakeProvider(latency_s=0.05) as fake:
        fake.respond_with(lambda call: answer(call.last_user))
        clean = api.run(trio_config(tmp_path / "clean", "openai:m", fake.openai_base_url))
        reference = transcripts(clean.run_dir)
        n_events = len((clean.run_dir / "journal.jsonl").read_text().splitlines())
        points = sorted({max(1, round(n_events * k / 11)) for k in range(1, 11)} | {2, n_events - 2})
        assert len(points) >= 10
        interrupted = 0
        for i, point in enumerate(points):
            fake.reset()
            fake.respond_with(lambda call: answer(call.last_user))
            runs = tmp_path / f"kill{i}"
            args = ["run", "--model", "openai:m", "--base-url", fake.openai_base_url, "--no-cache", "--quiet"]
            args += [
                "--problems",
                str(TRIO / "problems"),
                "--rubrics",
                str(TRIO / "rubrics"),
                "--out",
                str(runs),
            ]
            proc = cli_process(*args, env=env)
            journal = None
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None:
                found = list(runs.glob("*/journal.jsonl"))
                if found:
                    journal = found[0]
                    if len(journal.read_bytes().splitlines()) >= point:
                        break
                time.sleep(0.005)
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            assert journal is not None, "the run started"
            run_dir = journal.parent
            interrupted += not (run_dir / "results.json").exists()
            stored = transcripts(run_dir)
            stored_requests = set()
            for msgs in stored.values():
                for j, (role, _) in enumerate(msgs):
                    if role == "assistant":
                        stored_requests.add(tuple(c for _, c in msgs[:j]))
            before = fake.request_count
            resumed = cli_process("run", "--resume", str(run_dir), "--quiet", "--json", env=env)
            out, err = resumed.communicate(timeout=120)
            assert resumed.returncode == 0, err.decode()
            assert verdicts(json.loads(out)) == expected_parts()
            assert transcripts(run_dir) == reference, f"kill point {point}"
            for request in fake.chat_requests()[before:]:
                body = request.body["messages"]
                contents = tuple(m["content"] for m in body if m["role"] != "system")
                assert contents not in stored_requests, (
                    f"turn asked twice after its reply was stored (point {point})"
                )


def test_planted_key_never_reaches_files_or_output(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_ANTHROPIC_KEY)
    with FakeProvider(api_key="sk-the-right-one") as fake:
        # the server rejects the planted key, echoing it back the way a careless server might
        config = trio_config(
            tmp_path, "openai:m", fake.openai_base_url, cache=True, cache_dir=str(tmp_path / "cache")
        )
        with pytest.raises(Exception) as info:
            api.run(config)
        assert FAKE_OPENAI_KEY not in str(info.value)
    with FakeProvider() as fake:
        fake.respond_with(lambda call: answer(call.last_user))
        for provider, base in (("openai", fake.openai_base_url), ("anthropic", fake.anthropic_base_url)):
            config = trio_config(
                tmp_path, f"{provider}:m", base, cache=True, cache_dir=str(tmp_path / "cache")
            )
            api.run(config)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "journal.jsonl" for p in files) and any(p.suffix == ".json" for p in files)
    for path in files:
        data = path.read_bytes()
        for key in (FAKE_OPENAI_KEY, FAKE_ANTHROPIC_KEY):
            assert key.encode() not in data, f"{key[:12]}... leaked into {path}"


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path) -> None:
    env = {**os.environ, "OPENAI_API_KEY": FAKE_OPENAI_KEY, "EVALKIT_CACHE_DIR": str(tmp_path / "cache")}
    with FakeProvider(latency_s=0.3) as fake:
        fake.respond_with(lambda call: answer(call.last_user))
        runs = tmp_path / "runs"
        args = ["run", "--model", "openai:m", "--base-url", fake.openai_base_url, "--no-report"]
        args += ["--problems", str(TRIO / "problems"), "--rubrics", str(TRIO / "rubrics"), "--out", str(runs)]
        proc = cli_process(*args, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            '"role": "assistant"' in p.read_text() for p in runs.glob("*/journal.jsonl")
        ):
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        message = err.decode()
        assert proc.returncode == 130, message
        assert "Traceback" not in message
        (run_dir,) = runs.iterdir()
        assert f"evalkit run --resume {run_dir}" in message
        last = json.loads((run_dir / "journal.jsonl").read_text().splitlines()[-1])
        assert last["type"] == "run_end" and last["status"] == "interrupted"
        resumed = cli_process("run", "--resume", str(run_dir), "--quiet", "--json", "--no-report", env=env)
        out, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, err.decode()
        assert verdicts(json.loads(out)) == expected_parts()


# --- a full disk, read-only directories, a damaged cache: one line, nothing half-written ----------------------


def _mini_args(specs: Path, out: Path) -> list[str]:
    return [
        "run", "--model", "scripted:t", "--problems", str(specs / "problems"), "--rubrics",
        str(specs / "rubrics"), "--out", str(out), "--no-cache", "--no-report", "--quiet",
    ]  # fmt: skip


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "tests" / "fixtures" / "mini", tmp_path / "mini")
    register_provider("scripted", lambda model_id, settings: ScriptedModel(tutor, name="scripted:t"))
    return tmp_path / "mini"


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_a_disk_that_fills_up_mid_run_keeps_whole_lines_and_resumes(
    mini, tmp_path, capsys, monkeypatch
) -> None:
    clean = api.run(
        api.RunConfig(
            model="scripted:t", problems=str(mini / "problems"), rubrics=str(mini / "rubrics"),
            runs_dir=str(tmp_path / "clean"), cache=False,
        )
    )  # fmt: skip
    with small_disk(tmp_path / "disk", size=1 << 20) as disk:
        fill(disk, leave=3 * 4096)  # the lock, run.json and one page of journal
        result = run_cli(_mini_args(mini, disk), capsys, monkeypatch)
        (run_dir,) = [p for p in disk.iterdir() if p.is_dir()]
        journal = (run_dir / "journal.jsonl").read_bytes()
        assert result.code == 1
        line = _one_line(result.err)
        assert line == (
            f"error: cannot write the journal {run_dir / 'journal.jsonl'}: No space left on device (free some "
            f"space); what was written is kept: 'evalkit run --resume {run_dir}' continues from there"
        )
        assert journal.endswith(b"\n") and all(json.loads(x) for x in journal.splitlines())
        assert 0 < len(journal) < len((clean.run_dir / "journal.jsonl").read_bytes())
        assert not (run_dir / "results.json").exists()

        (disk / ".filler").unlink()
        resumed = run_cli(
            ["run", "--resume", str(run_dir), "--quiet", "--json", "--no-report"], capsys, monkeypatch
        )
        assert resumed.code == 0, resumed.err
        assert verdicts(json.loads(resumed.out)) == verdicts(clean.to_json())


def test_a_read_only_runs_directory_is_one_line(mini, tmp_path, capsys, monkeypatch) -> None:
    with small_disk(tmp_path / "ro", read_only=True) as ro:
        result = run_cli(_mini_args(mini, ro / "runs"), capsys, monkeypatch)
    assert result.code == 1
    assert _one_line(result.err) == (
        f"error: cannot create a run directory under {ro / 'runs'}: Read-only file system (make it writable, "
        "or choose another place); --out chooses another"
    )


def test_resuming_a_run_on_a_read_only_disk_is_one_line(mini, tmp_path, capsys, monkeypatch) -> None:
    with small_disk(tmp_path / "disk") as disk:
        assert run_cli(_mini_args(mini, disk), capsys, monkeypatch).code == 0
        (run_dir,) = [p for p in disk.iterdir() if p.is_dir()]
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        result = run_cli(["run", "--resume", str(run_dir), "--quiet"], capsys, monkeypatch)
    assert result.code == 1
    assert _one_line(result.err) == (
        f"error: cannot lock {run_dir / '.lock'}: Read-only file system (make it writable, or choose another place)"
    )


DAMAGE = {
    "not_utf8": lambda path: path.write_bytes(b'{"meta": {}, "response": {"text": "caf\xe9"}}'),
    "text_not_a_string": lambda path: path.write_text('{"meta": {}, "response": {"text": 5}}'),
    "response_not_an_object": lambda path: path.write_text('{"meta": {}, "response": "hello"}'),
    "a_list": lambda path: path.write_text("[]"),
    "truncated": lambda path: path.write_text(path.read_text()[:40]),
    "usage_not_numbers": lambda path: path.write_text(
        '{"meta": {}, "response": {"text": "x", "usage": {"input_tokens": "many"}}}'
    ),
    "a_directory": lambda path: (path.unlink(), path.mkdir()),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_cache_entry_is_a_miss_named_in_a_warning(tmp_path, caplog, damage) -> None:
    cache = ResponseCache(tmp_path / "cache")
    cache.put("ab" + "0" * 62, ModelResponse("a good reply", Usage(3, 4)), {})
    path = next((tmp_path / "cache").glob("*/*.json"))
    DAMAGE[damage](path)
    with caplog.at_level("WARNING", logger="evalkit.cache"):
        assert cache.get("ab" + "0" * 62) is None
    (record,) = caplog.records
    assert record.getMessage().startswith(f"ignoring the damaged cache entry {path} (")
    assert "the reply is asked for again" in record.getMessage()


def test_a_run_over_a_damaged_cache_asks_again_and_repairs_it(tmp_path, provider_env, caplog) -> None:
    with FakeProvider() as fake:
        fake.respond_with(lambda call: answer(call.last_user))
        config = trio_config(
            tmp_path, "openai:m", fake.openai_base_url, cache=True, cache_dir=str(tmp_path / "c")
        )
        first = api.run(config)
        entries = sorted((tmp_path / "c").glob("*/*.json"))
        assert len(entries) == fake.request_count == 7
        for path, damage in zip(entries, sorted(DAMAGE), strict=False):
            DAMAGE[damage](path)
        fake.reset()
        fake.respond_with(lambda call: answer(call.last_user))
        with caplog.at_level("WARNING", logger="evalkit.cache"):
            second = api.run(config)
        assert (
            fake.request_count == 7 and len(caplog.records) == 7
        )  # each damaged entry asked for again, once
        assert verdicts(second.to_json()) == verdicts(first.to_json())
        fake.reset()
        third = api.run(config)  # repaired by the second run
        assert fake.request_count == 0 and verdicts(third.to_json()) == verdicts(first.to_json())


def test_a_cache_that_cannot_be_written_is_a_warning_not_a_failure(tmp_path, provider_env, caplog) -> None:
    with FakeProvider() as fake, small_disk(tmp_path / "ro", read_only=True) as ro:
        fake.respond_with(lambda call: answer(call.last_user))
        config = trio_config(
            tmp_path, "openai:m", fake.openai_base_url, cache=True, cache_dir=str(ro / "cache")
        )
        with caplog.at_level("WARNING", logger="evalkit.cache"):
            result = api.run(config)
    assert verdicts(result.to_json()) == expected_parts()
    (record,) = caplog.records  # said once, not for every reply
    assert record.getMessage().startswith(f"the response cache is not written: cannot write {ro / 'cache'}")


@pytest.mark.slow
def test_two_resumes_of_one_run_at_once(tmp_path) -> None:
    """The second is refused in one line naming the first; the first asks each missing turn once."""
    env = {**os.environ, "OPENAI_API_KEY": FAKE_OPENAI_KEY, "EVALKIT_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("OPENAI_BASE_URL", None)
    second_done = threading.Event()

    def held(call) -> str:  # the first resume's calls wait until the second has come and gone
        assert second_done.wait(120), "the second resume ended"
        return answer(call.last_user)

    with FakeProvider() as fake:
        fake.respond_with(lambda call: answer(call.last_user))
        fake.fail(Fault.error(400, "stop here"))  # the run stops at its first call: everything is left to ask
        with pytest.raises(Exception, match="stop here"):
            api.run(trio_config(tmp_path, "openai:m", fake.openai_base_url))
        (run_dir,) = (tmp_path / "runs").iterdir()
        fake.reset()
        fake.respond_with(held)
        first = cli_process("run", "--resume", str(run_dir), "--quiet", "--json", "--no-report", env=env)
        second = None
        try:
            deadline = time.monotonic() + 120
            while not fake.requests:  # the first resume is under way, holding the run directory
                assert time.monotonic() < deadline and first.poll() is None, "the first resume started"
                time.sleep(0.02)
            second = cli_process("run", "--resume", str(run_dir), "--quiet", "--json", "--no-report", env=env)
            out2, err2 = second.communicate(timeout=120)
            second_done.set()
            out1, err1 = first.communicate(timeout=120)
        finally:
            second_done.set()
            for proc in (first, second):
                if proc is not None and proc.poll() is None:
                    proc.kill()
                    proc.communicate()
        assert second.returncode == 1 and out2 == b"", err2.decode()
        assert _one_line(err2.decode()).startswith(
            f"error: {run_dir} is in use by process {first.pid} (evalkit"
        )
        assert first.returncode == 0, err1.decode()
        assert verdicts(json.loads(out1)) == expected_parts()
        asked = [tuple(m["content"] for m in r.body["messages"]) for r in fake.chat_requests()]
        assert len(asked) == len(set(asked)) == 7  # each turn asked once
        events = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
        keys = [(e["conv"], e["index"]) for e in events if e["type"] == "message"]
        assert len(keys) == len(set(keys))


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        (
            "openai",
            "This model's maximum context length is 4096 tokens. However, your messages resulted in 4113 tokens.",
        ),
        ("anthropic", "prompt is too long: 200417 tokens > 200000 maximum"),
    ],
)
def test_a_conversation_that_outgrows_the_context_ends_and_the_run_goes_on(
    tmp_path, provider_env, provider, message, capsys, monkeypatch
) -> None:
    with FakeProvider() as fake:
        fake.respond_with(lambda call: answer(call.last_user))
        # the products conversation's second hint no longer fits; nothing else is affected
        fake.fail_when(
            lambda r: Fault.error(400, message) if "Four threes." in json.dumps(r.body or {}) else None
        )
        base = fake.openai_base_url if provider == "openai" else fake.anthropic_base_url
        result = api.run(trio_config(tmp_path, f"{provider}:m", base))
        got = verdicts(result.to_json())
        expected = expected_parts()
        expected["products", "a"] = (
            "incorrect",
            "incorrect",
            2,
            2,
        )  # 13 after the first hint; the second got no reply
        assert got == expected
        questions = {q["problem"]: q for q in result.to_json()["questions"]}
        assert "no longer fits the model's context window" in questions["products"]["stopped"]
        assert message.split(":")[0] in questions["products"]["stopped"]
        assert questions["sums"]["stopped"] is None and questions["words"]["stopped"] is None
        events = [json.loads(line) for line in (result.run_dir / "journal.jsonl").read_text().splitlines()]
        assert [e["conv"] for e in events if e["type"] == "context_full"] == ["s0/products"]
        assert run_cli(["report", str(result.run_dir)], capsys, monkeypatch).code == 0
        assert "The conversation stopped early" in (result.run_dir / "report.html").read_text()
        # re-grading the run keeps that reason and finds no divergence
        out = run_cli(["grade", str(result.run_dir)], capsys, monkeypatch)
        assert out.code == 0, out.err
        assert "products stopped early" in out.out and "never sent" not in out.out + out.err
        regraded = {q["problem"]: q for q in api.grade(result.run_dir).results["questions"]}
        assert regraded["products"]["stopped"] == questions["products"]["stopped"]  # the run's own words
