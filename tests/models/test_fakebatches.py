"""The fake batch endpoints, driven by the real SDKs' batch clients."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anthropic
import openai
import pytest

from tests.fakebatches import FakeBatches
from tests.fakeserver import FAKE_ANTHROPIC_KEY, FAKE_OPENAI_KEY, FakeProvider, Fault, Reply


def params(text: str) -> Any:  # Any: the SDK wants its TypedDicts
    return {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": text}]}


def run_anthropic(fake: FakeProvider, requests: list[Any], polls: int = 5) -> dict[str, Any]:
    """Create a Message Batch, poll until it ends, read its results: {custom_id: result}, plus the statuses."""

    async def main() -> dict[str, Any]:
        client = anthropic.AsyncAnthropic(
            api_key=FAKE_ANTHROPIC_KEY, base_url=fake.anthropic_base_url, max_retries=0
        )
        try:
            batch = await client.messages.batches.create(requests=requests)
            statuses = [batch.processing_status]
            for _ in range(polls):
                if batch.processing_status == "ended":
                    break
                batch = await client.messages.batches.retrieve(batch.id)
                statuses.append(batch.processing_status)
            results = {r.custom_id: r.result async for r in await client.messages.batches.results(batch.id)}
            return {"batch": batch, "statuses": statuses, "results": results}
        finally:
            await client.close()

    return asyncio.run(main())


def run_openai(fake: FakeProvider, lines: list[dict[str, Any]], polls: int = 5) -> dict[str, Any]:
    """Upload a JSONL file, create a batch, poll until it completes, read the output and error files."""

    async def main() -> dict[str, Any]:
        client = openai.AsyncOpenAI(api_key=FAKE_OPENAI_KEY, base_url=fake.openai_base_url, max_retries=0)
        try:
            content = "".join(json.dumps(line) + "\n" for line in lines).encode()
            uploaded = await client.files.create(file=("requests.jsonl", content), purpose="batch")
            batch = await client.batches.create(
                input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
            statuses = [batch.status]
            for _ in range(polls):
                if batch.status == "completed":
                    break
                batch = await client.batches.retrieve(batch.id)
                statuses.append(batch.status)
            out: dict[str, Any] = {"batch": batch, "statuses": statuses, "uploaded": uploaded}
            for key, file_id in (("output", batch.output_file_id), ("errors", batch.error_file_id)):
                text = (await client.files.content(file_id)).text if file_id else ""
                out[key] = {e["custom_id"]: e["response"] for e in map(json.loads, text.splitlines())}
            return out
        finally:
            await client.close()

    return asyncio.run(main())


def test_anthropic_batch_is_answered_by_the_script_after_polling(fake_provider: FakeProvider) -> None:
    FakeBatches(fake_provider, polls_until_done=2)
    fake_provider.reply(Reply("first", thinking="hmm"))
    fake_provider.respond_with(lambda call: f"answer to {call.last_user}")
    out = run_anthropic(
        fake_provider,
        [{"custom_id": "q1", "params": params("one")}, {"custom_id": "q2", "params": params("two")}],
    )
    assert out["statuses"] == ["in_progress", "in_progress", "ended"]
    assert out["batch"].request_counts.succeeded == 2 and out["batch"].results_url
    q1, q2 = out["results"]["q1"], out["results"]["q2"]
    assert q1.type == "succeeded" and [b.type for b in q1.message.content] == ["thinking", "text"]
    assert q2.type == "succeeded" and q2.message.content[0].text == "answer to two"
    assert q2.message.usage.output_tokens > 0


def test_anthropic_batch_items_can_fail(fake_provider: FakeProvider) -> None:
    batches = FakeBatches(fake_provider)
    batches.item_fault = lambda custom_id, body: (
        Fault.error(529, "Overloaded") if custom_id == "bad" else None
    )
    fake_provider.models = frozenset({"claude-haiku-4-5"})
    unknown = {**params("x"), "model": "claude-nope"}
    requests = [
        {"custom_id": "good", "params": params("fine")},
        {"custom_id": "bad", "params": params("x")},
        {"custom_id": "unknown", "params": unknown},
    ]
    out = run_anthropic(fake_provider, requests)
    assert out["statuses"] == ["ended"]
    results = out["results"]
    assert results["good"].type == "succeeded"
    assert results["bad"].type == "errored" and results["bad"].error.error.type == "overloaded_error"
    assert results["unknown"].type == "errored" and results["unknown"].error.error.type == "not_found_error"
    counts = out["batch"].request_counts
    assert (counts.succeeded, counts.errored) == (1, 2)


def test_anthropic_batch_cancel_and_validation(fake_provider: FakeProvider) -> None:
    FakeBatches(fake_provider, polls_until_done=10)

    async def main() -> tuple[Any, list[Any], int]:
        client = anthropic.AsyncAnthropic(
            api_key=FAKE_ANTHROPIC_KEY, base_url=fake_provider.anthropic_base_url, max_retries=0
        )
        try:
            batch = await client.messages.batches.create(requests=[{"custom_id": "a", "params": params("a")}])
            canceled = await client.messages.batches.cancel(batch.id)
            kinds = [r.result.type async for r in await client.messages.batches.results(batch.id)]
            with pytest.raises(anthropic.BadRequestError):
                await client.messages.batches.create(
                    requests=[
                        {"custom_id": "a", "params": params("a")},
                        {"custom_id": "a", "params": params("b")},
                    ]
                )
            with pytest.raises(anthropic.NotFoundError):
                await client.messages.batches.retrieve("msgbatch_missing")
            return canceled.processing_status, kinds, canceled.request_counts.canceled
        finally:
            await client.close()

    assert asyncio.run(main()) == ("ended", ["canceled"], 1)


def test_openai_batch_is_answered_by_the_script_after_polling(fake_provider: FakeProvider) -> None:
    batches = FakeBatches(fake_provider, polls_until_done=1)
    fake_provider.respond_with(lambda call: call.last_user.upper())
    lines = [
        {
            "custom_id": f"q{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "gpt-5.5", "messages": [{"role": "user", "content": f"question {i}"}]},
        }
        for i in range(3)
    ]
    out = run_openai(fake_provider, lines)
    assert out["statuses"] == ["in_progress", "completed"]
    assert out["uploaded"].purpose == "batch" and out["uploaded"].bytes > 0
    assert out["batch"].request_counts.completed == 3 and out["batch"].error_file_id is None
    assert {k: v["body"]["choices"][0]["message"]["content"] for k, v in out["output"].items()} == {
        "q0": "QUESTION 0",
        "q1": "QUESTION 1",
        "q2": "QUESTION 2",
    }
    assert len(batches.files) == 2  # the upload and the output file


def test_openai_batch_failures_go_to_the_error_file(fake_provider: FakeProvider) -> None:
    batches = FakeBatches(fake_provider)
    batches.item_fault = lambda custom_id, body: (
        Fault.error(400, "bad request") if custom_id == "bad" else None
    )
    lines = [
        {
            "custom_id": c,
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "m", "messages": [{"role": "user", "content": c}]},
        }
        for c in ("good", "bad")
    ]
    out = run_openai(fake_provider, lines)
    assert (out["batch"].request_counts.completed, out["batch"].request_counts.failed) == (1, 1)
    assert set(out["output"]) == {"good"} and out["output"]["good"]["status_code"] == 200
    assert out["errors"]["bad"]["status_code"] == 400
    assert out["errors"]["bad"]["body"]["error"]["message"] == "bad request"


def test_faults_and_recording_apply_to_batch_endpoints(fake_provider: FakeProvider) -> None:
    FakeBatches(fake_provider)
    fake_provider.fail(Fault.overloaded())

    async def main() -> None:
        client = anthropic.AsyncAnthropic(
            api_key=FAKE_ANTHROPIC_KEY, base_url=fake_provider.anthropic_base_url, max_retries=0
        )
        try:
            with pytest.raises(anthropic.APIStatusError) as info:
                await client.messages.batches.create(requests=[{"custom_id": "a", "params": params("a")}])
            assert info.value.status_code == 529
            await client.messages.batches.create(requests=[{"custom_id": "a", "params": params("a")}])
        finally:
            await client.close()

    asyncio.run(main())
    assert [(r.path, r.outcome) for r in fake_provider.requests] == [
        ("/v1/messages/batches", "529"),
        ("/v1/messages/batches", "200"),
    ]
