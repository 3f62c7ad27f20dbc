"""Never lose a turn: faults, SIGKILL and resume, the response cache, and keys kept out of files.

Everything runs through the real OpenAI/Anthropic SDKs against the local fake provider server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evalkit import api
from evalkit.models.base import GenerationOptions
from tests.fakeserver import FAKE_ANTHROPIC_KEY, FAKE_OPENAI_KEY, FakeProvider, Fault
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


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "evalkit.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


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
            proc = _cli(*args, env=env)
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
            resumed = _cli("run", "--resume", str(run_dir), "--quiet", "--json", env=env)
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
        proc = _cli(*args, env=env)
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
        resumed = _cli("run", "--resume", str(run_dir), "--quiet", "--json", "--no-report", env=env)
        out, err = resumed.communicate(timeout=120)
        assert resumed.returncode == 0, err.decode()
        assert verdicts(json.loads(out)) == expected_parts()
