"""Retries: the policy's arithmetic, the classifier, and every fault recovered through the real SDKs."""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import logging
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from evalkit.errors import ModelError
from evalkit.models import anthropic as anthropic_provider
from evalkit.models import openai as openai_provider
from evalkit.models.registry import ModelSettings
from evalkit.models.retry import (
    ErrorContext,
    Failure,
    RetryPolicy,
    call_with_retries,
    is_loopback,
    one_line,
    parse_retry_after,
    probe_local_server,
    retry_timing,
    status_failure,
)
from tests.fakeserver import FakeProvider, Fault
from tests.models.support import Factory, chat, exception_texts, generate, generate_error

HERE = Path(__file__).parent
RETRY_AFTER = json.loads((HERE / "retry_after_cases.json").read_text())
STATUS_CASES = json.loads((HERE / "status_cases.json").read_text())["cases"]

# provider -> (create, model id, the fake's base URL attribute)
PROVIDERS: dict[str, tuple[Factory, str, str]] = {
    "anthropic": (anthropic_provider.create, "claude-haiku-4-5", "anthropic_base_url"),
    "openai": (openai_provider.create, "gpt-5.5", "openai_base_url"),
}


def settings_for(fake: FakeProvider, provider: str, **kwargs: Any) -> ModelSettings:
    return ModelSettings(base_url=getattr(fake, PROVIDERS[provider][2]), **kwargs)


# --- the policy --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", RETRY_AFTER["cases"], ids=lambda c: c["id"])
def test_parse_retry_after(case: dict) -> None:
    assert parse_retry_after(case["headers"], now=RETRY_AFTER["now"]) == case["expected"]


def test_backoff_is_exponential_full_jitter_and_capped() -> None:
    top = RetryPolicy(base_delay_s=0.5, max_delay_s=10.0, jitter=lambda: 0.999999)
    assert [round(top.backoff_s(n), 3) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    half = RetryPolicy(base_delay_s=0.5, max_delay_s=10.0, jitter=lambda: 0.5)
    assert half.backoff_s(3) == 2.0
    assert RetryPolicy(jitter=lambda: 0.0).backoff_s(5) == 0.0
    assert RetryPolicy(max_delay_s=60).backoff_s(10_000) <= 60  # no overflow on huge retry counts


def test_delay_prefers_retry_after_and_caps_it() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_retry_after_s=120.0, jitter=lambda: 0.5)
    assert policy.delay_s(0, 7.0) == 7.0
    assert policy.delay_s(3, 0.0) == 0.0
    assert policy.delay_s(0, 3600.0) == 120.0
    assert policy.delay_s(2, None) == 2.0


def test_policy_rejects_negative_settings() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)


def test_retry_timing_overrides_policies_built_inside_it() -> None:
    async def no_wait(_seconds: float) -> None:
        return None

    with retry_timing(base_delay_s=0.01, sleep=no_wait):
        inside = RetryPolicy.for_settings(3)
    outside = RetryPolicy.for_settings(3)
    assert (inside.max_retries, inside.base_delay_s, inside.sleep) == (3, 0.01, no_wait)
    assert (outside.base_delay_s, outside.sleep) == (1.0, asyncio.sleep)


# --- classification ----------------------------------------------------------------------------------

CTX = ErrorContext("anthropic:claude-x", "claude-x", "ANTHROPIC_API_KEY", secret="sk-secret-123")


@pytest.mark.parametrize("case", STATUS_CASES, ids=lambda c: f"{c['status']}-{c['headers']}")
def test_status_classification(case: dict) -> None:
    failure = status_failure(CTX, case["status"], case["headers"], {"error": {"message": "the reason"}})
    assert failure.error.retryable is case["retryable"]
    assert failure.error.status == case["status"]
    message = str(failure.error)
    assert message.startswith("anthropic:claude-x: ")
    assert "\n" not in message
    for fragment in case["says"]:
        assert fragment in message


def test_retry_after_is_read_only_for_retryable_statuses() -> None:
    assert status_failure(CTX, 429, {"retry-after": "3"}, None).retry_after_s == 3.0
    assert status_failure(CTX, 400, {"retry-after": "3"}, None).retry_after_s is None


def test_provider_text_is_one_line_redacted_and_bounded() -> None:
    body = {"error": {"message": "bad\nrequest for key sk-secret-123,\tsee docs " + "x" * 500}}
    message = str(status_failure(CTX, 400, {}, body).error)
    assert "sk-secret-123" not in message and "***" in message
    assert "\n" not in message and "\t" not in message
    assert len(message) < 400
    assert one_line("a  b\nc", "b") == "a *** c"


# --- the loop ----------------------------------------------------------------------------------------


class Flaky(Exception):
    pass


def run_loop(outcomes: list[Failure | str], max_retries: int) -> tuple[str | ModelError, list[float], int]:
    """Drive call_with_retries with a call that fails as ``outcomes`` say; (result, delays, calls)."""
    delays: list[float] = []
    calls = 0

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    async def call() -> str:
        nonlocal calls
        outcome = outcomes[calls]
        calls += 1
        if isinstance(outcome, Failure):
            raise Flaky(outcome)
        return outcome

    def classify(exc: Exception) -> Failure | None:
        return exc.args[0] if isinstance(exc, Flaky) else None

    policy = RetryPolicy(max_retries=max_retries, base_delay_s=1.0, jitter=lambda: 0.5, sleep=sleep)
    try:
        result: str | ModelError = asyncio.run(call_with_retries(call, policy, classify))
    except ModelError as exc:
        result = exc
    return result, delays, calls


def busy(retry_after: float | None = None) -> Failure:
    return Failure(ModelError("m: rate limited (429)", retryable=True, status=429), retry_after)


def test_loop_retries_until_success_with_backoff_and_retry_after() -> None:
    result, delays, calls = run_loop([busy(), busy(), busy(retry_after=7.0), "done"], max_retries=5)
    assert result == "done"
    assert delays == [0.5, 1.0, 7.0]  # jitter 0.5 of 1, 2; then the server's 7s
    assert calls == 4


def test_loop_gives_up_after_max_retries() -> None:
    result, delays, calls = run_loop([busy()] * 4, max_retries=3)
    assert isinstance(result, ModelError)
    assert str(result) == "m: rate limited (429) (gave up after 4 attempts)"
    assert result.retryable and result.status == 429
    assert calls == 4 and len(delays) == 3


def test_loop_with_no_retries_makes_one_attempt() -> None:
    result, delays, calls = run_loop([busy(), "never"], max_retries=0)
    assert isinstance(result, ModelError) and "gave up after 1 attempt)" in str(result)
    assert (calls, delays) == (1, [])


def test_loop_fails_fast_on_a_final_error_without_chaining() -> None:
    final = Failure(ModelError("m: request rejected (400): no", status=400))
    result, delays, calls = run_loop([final, "never"], max_retries=5)
    assert result is final.error
    assert (calls, delays) == (1, [])
    assert result.__cause__ is None and result.__context__ is None


def test_loop_lets_unknown_exceptions_through() -> None:
    async def call() -> str:
        raise KeyError("not a provider error")

    with pytest.raises(KeyError):
        asyncio.run(call_with_retries(call, RetryPolicy(), lambda exc: None))


# --- every fault, through the real SDKs and the fake server --------------------------------------------

RETRYABLE_FAULTS = {
    "429": Fault.rate_limit(),
    "500": Fault.server_error(),
    "502": Fault.server_error(502),
    "503": Fault.server_error(503),
    "529 overloaded": Fault.overloaded(),
    "hang past the timeout": Fault.hang(30.0),
    "dropped connection": Fault.drop(),
}


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("fault", RETRYABLE_FAULTS.values(), ids=RETRYABLE_FAULTS.keys())
def test_each_retryable_fault_is_recovered(
    provider: str, fault: Fault, fake_provider: FakeProvider, provider_env: dict, fast_retries: list[float]
) -> None:
    create, model_id, _ = PROVIDERS[provider]
    fake_provider.fail(fault)
    fake_provider.reply("recovered")
    [reply] = generate(create, model_id, settings_for(fake_provider, provider), chat("hi", timeout_s=0.3))
    assert reply.text == "recovered"
    assert [r.outcome for r in fake_provider.requests] == [
        {"hang": "hung", "drop": "dropped"}.get(fault.kind, str(fault.status)),
        "200",
    ]
    assert len(fast_retries) == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_several_faults_in_a_row_are_recovered(
    provider: str, fake_provider: FakeProvider, provider_env: dict, fast_retries: list[float]
) -> None:
    create, model_id, _ = PROVIDERS[provider]
    fake_provider.fail(
        Fault.overloaded(), Fault.drop(), Fault.rate_limit(), Fault.hang(), Fault.server_error()
    )
    [reply] = generate(create, model_id, settings_for(fake_provider, provider), chat("hi", timeout_s=0.3))
    assert reply.text == "ok"
    assert fake_provider.request_count == 6 and len(fast_retries) == 5


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault.rate_limit(retry_after="7"), 7.0),
        (Fault.rate_limit(retry_after="0.25"), 0.25),
        (Fault.rate_limit(retry_after_ms=1500), 1.5),
        (Fault.rate_limit(retry_after="3", retry_after_ms=250), 0.25),
        (Fault.error(503, "busy", {"retry-after": "12"}), 12.0),
    ],
    ids=["seconds", "fraction", "ms", "ms wins", "503 too"],
)
def test_retry_after_is_honoured(
    provider: str,
    fault: Fault,
    expected: float,
    fake_provider: FakeProvider,
    provider_env: dict,
    fast_retries: list[float],
) -> None:
    create, model_id, _ = PROVIDERS[provider]
    fake_provider.fail(fault)
    generate(create, model_id, settings_for(fake_provider, provider), chat("hi"))
    assert fast_retries == [expected]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_retry_after_as_http_date_is_honoured(
    provider: str, fake_provider: FakeProvider, provider_env: dict, fast_retries: list[float]
) -> None:
    create, model_id, _ = PROVIDERS[provider]
    fake_provider.fail(Fault.rate_limit(retry_after=email.utils.formatdate(time.time() + 30, usegmt=True)))
    generate(create, model_id, settings_for(fake_provider, provider), chat("hi"))
    [delay] = fast_retries
    assert 28.0 <= delay <= 30.0  # the date has whole seconds


@pytest.mark.parametrize("provider", PROVIDERS)
def test_gives_up_after_max_retries(
    provider: str, fake_provider: FakeProvider, provider_env: dict, fast_retries: list[float]
) -> None:
    create, model_id, _ = PROVIDERS[provider]
    fake_provider.fail_when(lambda request: Fault.overloaded())
    err = generate_error(create, model_id, settings_for(fake_provider, provider, max_retries=2), chat("hi"))
    assert err.retryable and err.status == 529
    assert str(err).endswith("(gave up after 3 attempts)")
    assert f"{provider}:{model_id}: provider overloaded (529)" in str(err)
    assert fake_provider.request_count == 3 and len(fast_retries) == 2


@pytest.mark.parametrize("provider", PROVIDERS)
def test_timeouts_that_never_end_give_up_with_a_clear_message(
    provider: str, fake_provider: FakeProvider, provider_env: dict, fast_retries: list[float]
) -> None:
    create, model_id, _ = PROVIDERS[provider]
    fake_provider.fail_when(lambda request: Fault.hang())
    settings = settings_for(fake_provider, provider, max_retries=1)
    err = generate_error(create, model_id, settings, chat("hi", timeout_s=0.2))
    assert "no reply within 0.2s" in str(err) and "(timeout)" in str(err)
    assert "gave up after 2 attempts" in str(err)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_settings_timeout_bounds_the_request_too(
    provider: str, fake_provider: FakeProvider, provider_env: dict, fast_retries: list[float]
) -> None:
    create, model_id, _ = PROVIDERS[provider]
    fake_provider.fail(Fault.hang())
    generate(create, model_id, settings_for(fake_provider, provider, timeout_s=0.2), chat("hi"))
    assert [r.outcome for r in fake_provider.requests] == ["hung", "200"]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_fail_fast_statuses_are_not_retried(
    provider: str, status: int, fake_provider: FakeProvider, provider_env: dict, fast_retries: list[float]
) -> None:
    create, model_id, _ = PROVIDERS[provider]
    fake_provider.fail(Fault.error(status, "nope"))
    err = generate_error(create, model_id, settings_for(fake_provider, provider), chat("hi"))
    assert err.status == status and not err.retryable
    assert fake_provider.request_count == 1 and fast_retries == []


@contextmanager
def closed_port(host: str) -> Iterator[int]:
    """A port on ``host`` that refuses connections: bound (so nothing else takes it) but not listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.bind((host, 0))
    except OSError as err:
        pytest.skip(f"cannot bind {host}: {err}")
    with sock:
        yield sock.getsockname()[1]


def _outside_address() -> str:
    """This machine's address on its network (not loopback): a refusal there is not 'on this machine'."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        address = probe.getsockname()[0]
    if ipaddress.ip_address(address).is_loopback:
        pytest.skip("no network interface but loopback")
    return address


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("host", "url_host"), [("127.0.0.1", "127.0.0.1"), ("127.0.0.1", "localhost"),
                                                ("::1", "[::1]")])  # fmt: skip
def test_connection_refused_on_this_machine_fails_at_once(
    provider: str, host: str, url_host: str, provider_env: dict, fast_retries: list[float]
) -> None:
    create, model_id, _ = PROVIDERS[provider]
    with closed_port(host) as port:
        base_url = f"http://{url_host}:{port}" + ("/v1" if provider == "openai" else "")
        err = generate_error(create, model_id, ModelSettings(base_url=base_url, max_retries=6), chat("hi"))
        with pytest.raises(ModelError) as probed:  # what a run says before it loads anything
            probe_local_server(f"{provider}:{model_id}", base_url)
    assert not err.retryable and fast_retries == []  # not one retry, not one wait
    assert (
        str(err)
        == str(probed.value)
        == (
            f"{provider}:{model_id}: nothing is listening at {base_url} (connection refused): "
            f"is the server running on port {port} of this machine, and is the URL right (--base-url)?"
        )
    )
    assert "\n" not in str(err)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_connection_refused_elsewhere_is_retried_then_explained(
    provider: str, provider_env: dict, fast_retries: list[float]
) -> None:
    create, model_id, _ = PROVIDERS[provider]
    address = _outside_address()
    with closed_port(address) as port:
        base_url = f"http://{address}:{port}"
        err = generate_error(create, model_id, ModelSettings(base_url=base_url, max_retries=2), chat("hi"))
        probe_local_server(f"{provider}:{model_id}", base_url)  # another host: nothing to say in advance
    assert err.retryable and "gave up after 3 attempts" in str(err) and len(fast_retries) == 2
    assert f"connection to {base_url} failed" in str(err) and "is the server running?" in str(err)


def test_a_listening_server_on_this_machine_passes_the_probe(fake_provider: FakeProvider) -> None:
    probe_local_server("openai:x", fake_provider.openai_base_url)
    assert fake_provider.request_count == 0  # a connection opened and closed is not a request


@pytest.mark.parametrize(
    ("url", "here"),
    [("http://127.0.0.1:8000/v1", True), ("http://127.8.9.10:1", True), ("http://localhost:11434/v1", True),
     ("http://[::1]:8000", True), ("https://api.localhost/v1", True), ("http://10.0.0.5:8000/v1", False),
     ("https://api.openai.com/v1", False), ("http://localhost.example.com", False), (None, False)],
)  # fmt: skip
def test_is_loopback(url: str | None, here: bool) -> None:
    assert is_loopback(url) is here


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_api_key_never_appears_in_errors_or_logs(
    provider: str,
    fake_provider: FakeProvider,
    provider_env: dict,
    fast_retries: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    create, model_id, _ = PROVIDERS[provider]
    key = provider_env[f"{provider.upper()}_API_KEY"]
    fake_provider.api_key = "the-right-key"  # the fake echoes the wrong key back in its 401 message
    settings = settings_for(fake_provider, provider, max_retries=1)
    errors = [generate_error(create, model_id, settings, chat("hi"))]
    fake_provider.api_key = None
    for fault in (
        Fault.error(400, f"key {key} is not allowed to set temperature"),
        Fault.error(403, f"{key} lacks access"),
        Fault.error(404, f"no model for {key}"),
    ):
        fake_provider.fail(fault)
        errors.append(generate_error(create, model_id, settings, chat("hi")))
    fake_provider.fail_when(lambda request: Fault.error(500, f"upstream saw {key}"))
    with caplog.at_level(logging.DEBUG):
        errors.append(generate_error(create, model_id, settings, chat("hi")))

    assert "the API key was rejected (401" in str(errors[0])
    assert all("***" in str(e) for e in errors[1:])
    for err in errors:
        for text in exception_texts(err):
            assert key not in text
    assert caplog.records and all(key not in r.getMessage() for r in caplog.records)
    assert all(key not in str(r.headers) for r in fake_provider.requests)
