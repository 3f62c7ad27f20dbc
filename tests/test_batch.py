"""Batch mode (``--batch``): waves of turns through the providers' batch APIs on the fake server.

A batch run must give the same transcripts as a normal run, send no chat requests,
and, after a restart, poll a batch it already submitted instead of paying for it again.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from evalkit import api
from evalkit.cache import request_key
from evalkit.errors import ModelError
from evalkit.models.base import Message, ModelRequest, Turn
from evalkit.models.batch import BatchingModel, BatchPolling, submitted_batches
from evalkit.models.registry import ModelSettings, resolve_model
from tests.fakebatches import FakeBatches
from tests.fakeserver import FAKE_OPENAI_KEY, FakeProvider, Fault, RecordedRequest, text_of
from tests.helpers import run_cli
from tests.test_reliability import transcripts, trio_config, verdicts
from tests.tutor import TRIO, answer, expected_parts

ROOT = Path(__file__).parent.parent
PROVIDERS = ["openai", "anthropic"]
# The trio suite's waves: the opening; the three questions; the hints for sums and products; products' 2nd hint.
TRIO_WAVES = [1, 3, 2, 1]


def keyed(model: Any) -> Any:
    """The custom ids a run gives its batches: the response cache's request keys (no base URL)."""
    return functools.partial(request_key, model.name, None)


def base_url(fake: FakeProvider, provider: str) -> str:
    return fake.openai_base_url if provider == "openai" else fake.anthropic_base_url


def waves(batches: FakeBatches, provider: str) -> list[int]:
    """How many requests each batch the fake received held, in order."""
    if provider == "anthropic":
        return [len(b.requests) for b in batches.anthropic.values()]
    return [len(b.lines) for b in batches.openai.values()]


def batch_ids(batches: FakeBatches, provider: str) -> list[str]:
    return list(batches.anthropic if provider == "anthropic" else batches.openai)


def creates(fake: FakeProvider) -> list[RecordedRequest]:
    return [
        r for r in fake.requests if r.method == "POST" and r.path in ("/v1/messages/batches", "/v1/batches")
    ]


def polls(fake: FakeProvider, batch_id: str) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.method == "GET" and r.path.endswith(f"/{batch_id}")]


def journal(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]


def batch_config(tmp: Path, provider: str, fake: FakeProvider, **kw: Any) -> api.RunConfig:
    kw.setdefault("batch_poll_s", 0.001)
    return trio_config(tmp, f"{provider}:m", base_url(fake, provider), batch=True, **kw)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_batch_run_gives_the_transcripts_of_a_normal_run(tmp_path, provider_env, provider) -> None:
    with FakeProvider() as fake:
        fake.respond_with(lambda call: answer(call.last_user))
        reference = transcripts(
            api.run(trio_config(tmp_path / "plain", f"{provider}:m", base_url(fake, provider))).run_dir
        )
        fake.reset()
        fake.respond_with(lambda call: answer(call.last_user))
        batches = FakeBatches(fake, polls_until_done=2)

        result = api.run(batch_config(tmp_path / "batch", provider, fake))

        assert transcripts(result.run_dir) == reference
        assert verdicts(result.to_json()) == expected_parts()
        assert fake.chat_requests() == [], "every turn went through the batch API"
        assert waves(batches, provider) == TRIO_WAVES
        for batch_id in batch_ids(batches, provider):
            assert len(polls(fake, batch_id)) >= 2, "each batch was polled until it ended"
        events = journal(result.run_dir)
        submitted = [e for e in events if e["type"] == "batch_submitted"]
        assert [e["batch"] for e in submitted] == batch_ids(batches, provider)
        assert [len(e["custom_ids"]) for e in submitted] == TRIO_WAVES
        assert sum(e["type"] == "batch_done" for e in events) == len(TRIO_WAVES)
        # the custom_id of a turn is its request's cache key
        if provider == "anthropic":
            sent = [r["custom_id"] for b in batches.anthropic.values() for r in b.requests]
        else:
            sent = [line["custom_id"] for b in batches.openai.values() for line in b.lines]
        assert sent == [c for e in submitted for c in e["custom_ids"]]


def test_several_samples_share_each_wave(tmp_path, provider_env) -> None:
    with FakeProvider() as fake:
        fake.respond_with(lambda call: answer(call.last_user))
        batches = FakeBatches(fake)
        result = api.run(batch_config(tmp_path, "anthropic", fake, samples=3))
    assert waves(batches, "anthropic") == [3 * n for n in TRIO_WAVES]
    assert len(result.to_json()["parts"]) == 3 * len(expected_parts())


def test_batch_replies_go_into_the_response_cache(tmp_path, provider_env) -> None:
    with FakeProvider() as fake:
        fake.respond_with(lambda call: answer(call.last_user))
        batches = FakeBatches(fake)
        cache = {"cache": True, "cache_dir": str(tmp_path / "cache")}
        first = api.run(batch_config(tmp_path, "openai", fake, **cache))
        fake.reset()
        second = api.run(trio_config(tmp_path, "openai:m", fake.openai_base_url, **cache))  # no --batch
        assert fake.request_count == 0
    assert transcripts(second.run_dir) == transcripts(first.run_dir)
    assert waves(batches, "openai") == TRIO_WAVES


@pytest.mark.parametrize("provider", PROVIDERS)
def test_restart_polls_the_batch_already_submitted(tmp_path, provider_env, provider) -> None:
    with FakeProvider() as fake:
        fake.respond_with(lambda call: answer(call.last_user))
        reference = transcripts(
            api.run(trio_config(tmp_path / "plain", f"{provider}:m", base_url(fake, provider))).run_dir
        )
        fake.reset()
        fake.respond_with(lambda call: answer(call.last_user))
        batches = FakeBatches(fake, polls_until_done=2)
        # once the second wave is out, asking about any batch fails for good: the run stops
        fake.fail_when(
            lambda r: (
                Fault.error(400, "stop here")
                if r.method == "GET" and len(batch_ids(batches, provider)) >= 2
                else None
            )
        )
        with pytest.raises(ModelError, match="stop here"):
            api.run(batch_config(tmp_path / "batch", provider, fake))
        run_dir = next((tmp_path / "batch" / "runs").iterdir())
        events = journal(run_dir)
        submitted = [e for e in events if e["type"] == "batch_submitted"]
        assert len(submitted) == 2 and sum(e["type"] == "batch_done" for e in events) == 1
        second = submitted[1]["batch"]
        assert not any(
            e["type"] == "message" and e["role"] == "assistant" and e["index"] == 3 for e in events
        )

        fake.clear_faults()
        before = len(fake.requests)
        result = api.resume(run_dir)

        assert transcripts(result.run_dir) == reference
        assert verdicts(result.to_json()) == expected_parts()
        assert len(creates(fake)) == len(TRIO_WAVES), "the second wave was not submitted again"
        assert waves(batches, provider) == TRIO_WAVES
        after_restart = fake.requests[before:]
        assert any(r.method == "GET" and r.path.endswith(f"/{second}") for r in after_restart)
        assert fake.chat_requests() == []


def test_a_failed_batch_item_fails_its_conversation_clearly(tmp_path, provider_env) -> None:
    with FakeProvider() as fake:
        fake.respond_with(lambda call: answer(call.last_user))
        batches = FakeBatches(fake)
        batches.item_fault = lambda custom_id, body: (
            Fault.error(400, "messages.1.content: too long")
            if "Products" in json.dumps(body.get("messages", [])[-1:])
            else None
        )
        with pytest.raises(
            ModelError, match=r"anthropic:m: request rejected \(400\): messages.1.content: too long"
        ):
            api.run(batch_config(tmp_path, "anthropic", fake))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_retryable_item_errors_go_out_again_in_the_next_wave(tmp_path, provider_env, provider) -> None:
    with FakeProvider() as fake:
        fake.respond_with(lambda call: answer(call.last_user))
        reference = transcripts(
            api.run(trio_config(tmp_path / "plain", f"{provider}:m", base_url(fake, provider))).run_dir
        )
        fake.reset()
        fake.respond_with(lambda call: answer(call.last_user))
        batches = FakeBatches(fake)
        failed: list[str] = []

        def overload_once(custom_id: str, body: dict[str, Any]) -> Fault | None:
            if not failed and "Sums" in json.dumps(body.get("messages", [])[-1:]):
                failed.append(custom_id)
                return Fault.overloaded()
            return None

        batches.item_fault = overload_once
        result = api.run(batch_config(tmp_path / "batch", provider, fake))
    assert transcripts(result.run_dir) == reference
    assert len(failed) == 1
    submitted = [e["custom_ids"] for e in journal(result.run_dir) if e["type"] == "batch_submitted"]
    assert sum(failed[0] in ids for ids in submitted) == 2, "the overloaded item was sent twice"
    assert sum(waves(batches, provider)) == sum(TRIO_WAVES) + 1


def test_items_that_keep_failing_give_up_after_max_retries(tmp_path, provider_env) -> None:
    with FakeProvider() as fake:
        fake.respond_with(lambda call: answer(call.last_user))
        batches = FakeBatches(fake)
        batches.item_fault = lambda custom_id, body: Fault.error(503, "busy")
        with pytest.raises(ModelError, match=r"server error \(503\): busy.*gave up after 3 batches"):
            api.run(batch_config(tmp_path, "openai", fake, max_retries=2))
        assert waves(batches, "openai") == [1, 1, 1]


def test_batch_needs_a_provider_with_a_batch_api(tmp_path, capsys, monkeypatch) -> None:
    with pytest.raises(ModelError, match="--batch needs an anthropic or openai model, not replay:default"):
        api.run(api.RunConfig(model="replay", batch=True, runs_dir=str(tmp_path / "runs")))
    assert not (tmp_path / "runs").exists(), "failed before creating a run directory"
    result = run_cli(["run", "--batch", "--out", str(tmp_path / "runs"), "--quiet"], capsys, monkeypatch)
    assert result.code == 1
    assert result.err.strip().splitlines() == [
        "error: --batch needs an anthropic or openai model, not replay:default; run it without --batch"
    ]


# -- BatchingModel on its own -------------------------------------------------------------------------


def request(text: str, conv: str = "") -> ModelRequest:
    return ModelRequest(messages=(Message("user", text),), turn=Turn("opening"), conv=conv)


def test_without_a_conversation_count_a_quiet_moment_starts_a_wave(fake_provider, provider_env) -> None:
    batches = FakeBatches(fake_provider, polls_until_done=3)
    fake_provider.respond_with(lambda call: call.last_user.upper())
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    async def main() -> list[str]:
        model = resolve_model("anthropic:m", ModelSettings(base_url=fake_provider.anthropic_base_url))
        polling = BatchPolling(first_s=1.0, factor=3.0, max_s=5.0, sleep=record)
        batching = BatchingModel(model, custom_id=keyed(model), polling=polling, quiet_s=0.01)
        try:
            together = await asyncio.gather(*(batching.generate(request(t)) for t in ("a", "b", "c")))
            alone = await batching.generate(request("d"))
        finally:
            await batching.aclose()
        return [r.text for r in (*together, alone)]

    assert asyncio.run(main()) == ["A", "B", "C", "D"]
    assert waves(batches, "anthropic") == [3, 1]
    assert slept == [1.0, 3.0, 5.0] * 2, "exponential backoff, capped"


def test_a_batch_from_before_a_restart_that_is_gone_is_asked_again(fake_provider, provider_env) -> None:
    batches = FakeBatches(fake_provider)
    fake_provider.respond_with(lambda call: call.last_user.upper())

    async def main() -> str:
        model = resolve_model("openai:m", ModelSettings(base_url=fake_provider.openai_base_url))
        key = request_key(model.name, None, request("x"))
        stored = [{"type": "batch_submitted", "batch": "batch_gone", "custom_ids": [key]}]
        assert submitted_batches(stored) == {key: "batch_gone"}
        batching = BatchingModel(
            model, custom_id=keyed(model), stored_events=stored, polling=BatchPolling(first_s=0), quiet_s=0.01
        )
        try:
            return (await batching.generate(request("x"))).text
        finally:
            await batching.aclose()

    assert asyncio.run(main()) == "X"
    assert [r.path for r in fake_provider.requests][:1] == ["/v1/batches/batch_gone"]
    assert waves(batches, "openai") == [1]


def test_a_conversation_cancelled_while_queued_is_not_sent(fake_provider, provider_env) -> None:
    batches = FakeBatches(fake_provider)
    fake_provider.respond_with(lambda call: call.last_user.upper())

    async def main() -> str:
        model = resolve_model("anthropic:m", ModelSettings(base_url=fake_provider.anthropic_base_url))
        batching = BatchingModel(model, custom_id=keyed(model), polling=BatchPolling(first_s=0))
        batching.conversations_started(2)
        try:
            first = asyncio.create_task(batching.generate(request("a")))
            await asyncio.sleep(0.01)  # queued: the wave waits for the second conversation
            first.cancel()
            await asyncio.gather(first, return_exceptions=True)
            batching.conversation_ended()
            return (await batching.generate(request("b"))).text
        finally:
            await batching.aclose()

    assert asyncio.run(main()) == "B"
    assert [
        [text_of(r["params"]["messages"][0]["content"]) for r in b.requests]
        for b in batches.anthropic.values()
    ] == [["b"]]


def test_closing_while_a_batch_is_out_says_how_to_pick_it_up(fake_provider, provider_env) -> None:
    batches = FakeBatches(fake_provider, polls_until_done=1000)

    async def main() -> None:
        model = resolve_model("openai:m", ModelSettings(base_url=fake_provider.openai_base_url))
        batching = BatchingModel(model, custom_id=keyed(model), polling=BatchPolling(first_s=0.01))
        batching.conversations_started(1)
        waiting = asyncio.create_task(batching.generate(request("a")))
        while not batches.openai:
            await asyncio.sleep(0.01)
        await batching.aclose()
        with pytest.raises(
            ModelError, match=r"stopped while a batch was out \(batch batch_fake_\d+; 'evalkit run --resume"
        ):
            await waiting

    asyncio.run(main())


def test_polling_backs_off_exponentially_up_to_a_cap() -> None:
    delays = BatchPolling(first_s=5, factor=2, max_s=60).delays()
    assert [next(delays) for _ in range(6)] == [5, 10, 20, 40, 60, 60]
    with pytest.raises(ValueError, match="factor"):
        BatchPolling(factor=0.5)


# -- a real crash -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_sigkill_while_a_wave_is_out_then_resume(tmp_path, provider_env, fast_retries) -> None:
    env = {**os.environ, "OPENAI_API_KEY": FAKE_OPENAI_KEY, "EVALKIT_CACHE_DIR": str(tmp_path / "nocache")}
    with FakeProvider() as fake:
        fake.respond_with(lambda call: answer(call.last_user))
        reference = transcripts(
            api.run(trio_config(tmp_path / "plain", "openai:m", fake.openai_base_url)).run_dir
        )
        fake.reset()
        fake.respond_with(lambda call: answer(call.last_user))
        batches = FakeBatches(fake)  # each batch ends at once; the second one's results never come
        fake.fail_when(lambda r: Fault.hang(60) if r.method == "GET" and len(batches.openai) >= 2 else None)
        runs = tmp_path / "runs"
        args = ["run", "--batch", "--model", "openai:m", "--base-url", fake.openai_base_url, "--quiet"]
        args += ["--problems", str(TRIO / "problems"), "--rubrics", str(TRIO / "rubrics"), "--out", str(runs)]
        proc = subprocess.Popen(
            [sys.executable, "-m", "evalkit.cli", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if any(r.outcome == "hung" for r in fake.requests):  # journaled the batch, now waiting on it
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        run_dir = next(runs.iterdir())
        submitted = [e["batch"] for e in journal(run_dir) if e["type"] == "batch_submitted"]
        assert submitted == batch_ids(batches, "openai")[:2]

        fake.clear_faults()
        result = api.resume(run_dir)  # polls with the stored interval, made instant by fast_retries
        assert transcripts(result.run_dir) == reference
        assert len(creates(fake)) == len(TRIO_WAVES)
