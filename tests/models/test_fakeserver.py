"""The fake provider server itself: scripting, faults, counters, routes, and a clean shutdown."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import anthropic
import pytest

from tests.fakeserver import (
    FAKE_ANTHROPIC_KEY,
    FakeProvider,
    Fault,
    HTTPReply,
    HTTPRequest,
    RecordedRequest,
    Reply,
)


def ask(fake: FakeProvider, *texts: str, concurrently: bool = False, **params: Any) -> list[str]:
    """Send one Anthropic request per text (no retries); the reply texts, or "error <status>"."""

    async def one(client: anthropic.AsyncAnthropic, text: str) -> str:
        try:
            message = await client.messages.create(
                model="claude-haiku-4-5",
                max_tokens=64,
                messages=[{"role": "user", "content": text}],
                **params,
            )
        except anthropic.APIStatusError as exc:
            return f"error {exc.status_code}"
        except anthropic.APIConnectionError:
            return "error connection"
        return "".join(b.text for b in message.content if b.type == "text")

    async def main() -> list[str]:
        client = anthropic.AsyncAnthropic(
            api_key=FAKE_ANTHROPIC_KEY, base_url=fake.anthropic_base_url, max_retries=0, timeout=2.0
        )
        try:
            if concurrently:
                return list(await asyncio.gather(*(one(client, t) for t in texts)))
            return [await one(client, t) for t in texts]
        finally:
            await client.close()

    return asyncio.run(main())


def test_replies_come_from_the_queue_then_the_responder_then_the_default(fake_provider: FakeProvider) -> None:
    fake_provider.reply("one", Reply("two"))
    assert ask(fake_provider, "a", "b", "c") == ["one", "two", "ok"]
    fake_provider.respond_with(lambda call: f"echo {call.last_user}")
    fake_provider.reply("queued first")
    assert ask(fake_provider, "d", "e") == ["queued first", "echo e"]


def test_a_faulted_request_does_not_use_up_a_reply(fake_provider: FakeProvider) -> None:
    fake_provider.reply("first", "second")
    fake_provider.fail(Fault.server_error(), Fault.rate_limit(retry_after="1"))
    assert ask(fake_provider, "a", "b", "c", "d") == ["error 500", "error 429", "first", "second"]
    assert [r.outcome for r in fake_provider.requests] == ["500", "429", "200", "200"]


def test_faults_by_rule_and_at_random(fake_provider: FakeProvider) -> None:
    fake_provider.fail_when(lambda r: Fault.error(403, "no") if r.index % 2 else None)
    assert ask(fake_provider, "a", "b", "c", "d") == ["ok", "error 403", "ok", "error 403"]
    fake_provider.clear_faults()

    def outcomes(seed: int) -> list[str]:
        fake_provider.reset()
        fake_provider.fail_randomly(0.5, Fault.overloaded(), Fault.drop(), seed=seed)
        return ask(fake_provider, *"abcdefghij")

    first = outcomes(seed=7)
    assert first == outcomes(seed=7)  # repeatable
    assert {"ok", "error 529", "error connection"} <= set(first + outcomes(seed=8) + outcomes(seed=9))


def test_hang_is_cut_short_by_the_client_timeout_and_by_close() -> None:
    fake = FakeProvider()
    fake.fail(Fault.hang(60.0))

    async def main() -> None:
        client = anthropic.AsyncAnthropic(
            api_key="k", base_url=fake.anthropic_base_url, max_retries=0, timeout=0.2
        )
        try:
            with pytest.raises(anthropic.APITimeoutError):
                await client.messages.create(
                    model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
                )
        finally:
            await client.close()

    asyncio.run(main())
    assert fake.in_flight == 1  # still hanging on the server side
    started = time.monotonic()
    fake.close()
    assert time.monotonic() - started < 2.0
    assert [r.outcome for r in fake.requests] == ["hung"]


def test_counts_requests_in_flight(fake_provider: FakeProvider) -> None:
    fake_provider.latency_s = lambda call: 0.2 if call and call.last_user.startswith("slow") else 0.0
    assert ask(fake_provider, "slow 1", "slow 2", "slow 3", concurrently=True) == ["ok"] * 3
    assert fake_provider.max_in_flight == 3
    assert fake_provider.in_flight == 0
    assert ask(fake_provider, "fast") == ["ok"]
    assert fake_provider.request_count == 4


def test_records_headers_without_credentials(fake_provider: FakeProvider) -> None:
    ask(fake_provider, "hi")
    [request] = fake_provider.requests
    assert request.method == "POST" and request.path == "/v1/messages" and request.api == "anthropic"
    assert request.body["messages"] == [{"role": "user", "content": "hi"}]
    assert request.auth == "bearer"
    assert "authorization" not in request.headers and "x-api-key" not in request.headers
    assert FAKE_ANTHROPIC_KEY not in repr(request)
    assert request.headers["anthropic-version"]


def test_checks_keys_models_and_the_api_version_like_a_real_server(fake_provider: FakeProvider) -> None:
    fake_provider.api_key = "other"
    assert ask(fake_provider, "hi") == ["error 401"]
    fake_provider.api_key = None
    fake_provider.models = frozenset({"claude-opus-5-5"})
    assert ask(fake_provider, "hi") == ["error 404"]
    fake_provider.models = None
    # the SDK sends anthropic-version 2026-10-21, where a sampling parameter is an error
    assert ask(fake_provider, "hi", extra_body={"temperature": 0.5}) == ["error 400"]
    assert ask(fake_provider, "hi", thinking={"type": "enabled", "budget_tokens": 100}) == ["error 400"]


def test_routes_extend_the_server(fake_provider: FakeProvider) -> None:
    import httpx

    seen: list[str] = []

    def batch(request: HTTPRequest) -> HTTPReply:  # the shape later work will fill in
        seen.append(request.match["batch_id"])
        return HTTPReply(200, {"id": request.match["batch_id"], "processing_status": "ended"})

    fake_provider.route("GET", r"/v1/messages/batches/(?P<batch_id>[\w-]+)", batch)
    fake_provider.fail(Fault.server_error())
    with httpx.Client(base_url=fake_provider.url) as client:
        assert client.get("/v1/messages/batches/msgbatch_1").status_code == 500  # faults apply to routes too
        assert client.get("/v1/messages/batches/msgbatch_1").json()["processing_status"] == "ended"
        assert client.get("/v1/nothing").status_code == 404
    assert seen == ["msgbatch_1"]


def test_a_broken_responder_fails_the_test_at_close() -> None:
    fake = FakeProvider()
    fake.respond_with(lambda call: str(1 / 0))
    assert ask(fake, "hi") == ["error 500"]
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        fake.close()


def test_close_joins_every_thread_even_with_open_connections() -> None:
    before = threading.active_count()
    fake = FakeProvider()
    fake.latency_s = 0.0
    ask(fake, "hi")
    fake.close()
    fake.close()  # idempotent
    assert threading.active_count() == before
    assert isinstance(fake.requests[0], RecordedRequest)
