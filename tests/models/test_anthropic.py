"""The Anthropic adapter, through the real ``anthropic`` SDK against the fake Messages API."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import pytest

from evalkit.errors import MissingKeyError, ModelError
from evalkit.models.anthropic import AnthropicModel, create, thinking_config, uses_adaptive_thinking
from evalkit.models.base import Model
from evalkit.models.registry import ModelSettings
from tests.fakeserver import FakeProvider, HTTPReply, HTTPRequest, Reply
from tests.models.support import chat, generate, generate_error

MODEL = "claude-haiku-4-5"  # takes a thinking budget, and the SDK does not flag it as deprecated
EPHEMERAL = {"type": "ephemeral"}


@pytest.fixture
def settings(fake_provider: FakeProvider, provider_env: dict) -> ModelSettings:
    return ModelSettings(base_url=fake_provider.anthropic_base_url)


def test_text_usage_model_and_stop_reason(fake_provider: FakeProvider, settings: ModelSettings) -> None:
    fake_provider.reply(Reply("The answer is 4.", input_tokens=21, output_tokens=6, stop_reason="max_tokens"))
    [reply] = generate(create, MODEL, settings, chat("What is 2+2?"))
    assert reply.text == "The answer is 4."
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (21, 6)
    assert reply.model == MODEL
    assert reply.stop_reason == "max_tokens"
    assert reply.thinking is None


def test_request_carries_system_history_and_options(
    fake_provider: FakeProvider, settings: ModelSettings
) -> None:
    request = chat(
        "Question 1: what is 2+2?",
        "It is 5.",
        "Check your arithmetic.",
        system="You are a patient tutor.",
        max_tokens=777,
    )
    generate(create, MODEL, settings, request)
    [sent] = fake_provider.chat_requests("anthropic")
    assert sent.body == {
        "model": MODEL,
        "max_tokens": 777,
        "system": "You are a patient tutor.",
        "messages": [
            {"role": "user", "content": "Question 1: what is 2+2?"},
            # cache breakpoints: the end of the shared opening exchange, and the end of the history
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "It is 5.", "cache_control": EPHEMERAL}],
            },
            {
                "role": "user",
                "content": [{"type": "text", "text": "Check your arithmetic.", "cache_control": EPHEMERAL}],
            },
        ],
    }
    assert sent.headers["anthropic-version"]
    assert sent.auth is not None  # the key was sent; the record keeps only which header carried it


def test_a_temperature_fails_before_anything_is_sent(
    fake_provider: FakeProvider, settings: ModelSettings
) -> None:
    cases: list[dict[str, Any]] = [
        {"temperature": 0.0},
        {"temperature": 0.7, "thinking_budget": 2048, "max_tokens": 4096},
    ]
    for options in cases:
        err = generate_error(create, MODEL, settings, chat("hi", **options))
        assert str(err) == (
            f"anthropic:{MODEL}: Claude takes no temperature (Anthropic API 2026-10-21 rejects it); "
            "leave --temperature unset for Anthropic models"
        )
        assert not err.retryable
    assert fake_provider.request_count == 0


def test_sdks_before_2_send_the_temperature_except_with_thinking(provider_env: dict) -> None:
    async def main() -> list[dict]:
        model = create(MODEL, ModelSettings(base_url="http://127.0.0.1:9"))
        await model.aclose()
        model.takes_temperature = True  # what create() sets for anthropic < 2.0
        return [
            model.request_params(chat("hi", temperature=0.3)),
            model.request_params(chat("hi", temperature=0.3, thinking_budget=2048, max_tokens=4096)),
        ]

    plain, thinking = asyncio.run(main())
    assert plain["temperature"] == 0.3
    assert "temperature" not in thinking and thinking["thinking"]["type"] == "enabled"


def test_no_system_and_no_temperature_are_left_out(
    fake_provider: FakeProvider, settings: ModelSettings
) -> None:
    generate(create, MODEL, settings, chat("hi"))
    [sent] = fake_provider.chat_requests()
    assert "system" not in sent.body and "temperature" not in sent.body and "thinking" not in sent.body


def test_a_multi_turn_conversation_is_answered_deterministically(
    fake_provider: FakeProvider, settings: ModelSettings
) -> None:
    fake_provider.respond_with(
        lambda call: f"turn {len(call.messages) // 2 + 1}: you said {call.last_user!r}"
    )
    first = chat("Question 3, part (a)")
    second = chat("Question 3, part (a)", "turn 1: you said 'Question 3, part (a)'", "A hint, please")
    replies = generate(create, MODEL, settings, first, second)
    assert [r.text for r in replies] == [
        "turn 1: you said 'Question 3, part (a)'",
        "turn 2: you said 'A hint, please'",
    ]
    assert [len(r.body["messages"]) for r in fake_provider.chat_requests()] == [1, 3]


def test_thinking_budget_is_sent_and_thinking_blocks_come_back(
    fake_provider: FakeProvider, settings: ModelSettings
) -> None:
    fake_provider.reply(Reply("x = 3", thinking="Subtract 2 from both sides."))
    request = chat("Solve x + 2 = 5", thinking_budget=2048, max_tokens=4096)
    [reply] = generate(create, MODEL, settings, request)
    assert reply.text == "x = 3"
    assert reply.thinking == "Subtract 2 from both sides."
    [sent] = fake_provider.chat_requests()
    assert sent.body["thinking"] == {"type": "enabled", "budget_tokens": 2048}


def test_newer_claude_gets_adaptive_thinking_with_visible_summaries(
    fake_provider: FakeProvider, settings: ModelSettings
) -> None:
    fake_provider.reply(Reply("done", thinking="summary of the reasoning"))
    [reply] = generate(create, "claude-opus-5-5", settings, chat("hi", thinking_budget=4096, max_tokens=2048))
    assert reply.thinking == "summary of the reasoning"
    [sent] = fake_provider.chat_requests()
    assert sent.body["thinking"] == {"type": "adaptive", "display": "summarized"}


@pytest.mark.parametrize(
    ("model_id", "adaptive"),
    [
        ("claude-3-7-sonnet-20250219", False),
        ("claude-haiku-4-5", False),
        ("claude-haiku-4-5-20251001", False),
        ("claude-opus-4-5-20251101", False),
        ("claude-opus-4-6", True),
        ("claude-sonnet-4-6", True),
        ("claude-opus-4-7", True),
        ("claude-opus-5", True),
        ("claude-opus-5-5", True),
        ("claude-mythos-preview", True),
        ("claude-fable-5-2", True),
        ("some-proxy-alias", False),
    ],
)
def test_which_models_get_adaptive_thinking(model_id: str, adaptive: bool) -> None:
    assert uses_adaptive_thinking(model_id) is adaptive


def test_a_budget_not_below_max_tokens_fails_before_any_request(
    fake_provider: FakeProvider, settings: ModelSettings
) -> None:
    err = generate_error(create, MODEL, settings, chat("hi", thinking_budget=4096, max_tokens=4096))
    assert "thinking_budget (4096) must be less than max_tokens (4096)" in str(err)
    assert fake_provider.request_count == 0
    assert thinking_config(MODEL, 1024, 1025) == {"type": "enabled", "budget_tokens": 1024}


def test_text_blocks_are_concatenated_and_cache_tokens_counted(
    fake_provider: FakeProvider, settings: ModelSettings
) -> None:
    def messages(request: HTTPRequest) -> HTTPReply:
        content = [
            {"type": "thinking", "thinking": "first", "signature": "s"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "Part (a): 4. "},
            {"type": "thinking", "thinking": "second", "signature": "s"},
            {"type": "text", "text": "Part (b): 9."},
        ]
        usage = {
            "input_tokens": 5,
            "output_tokens": 9,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 20,
        }
        body = {"id": "msg_1", "type": "message", "role": "assistant", "model": request.body["model"]}
        return HTTPReply(200, {**body, "content": content, "stop_reason": "end_turn", "usage": usage})

    fake_provider.route("POST", "/v1/messages", messages)
    [reply] = generate(create, MODEL, settings, chat("hi"))
    assert reply.text == "Part (a): 4. Part (b): 9."
    assert reply.thinking == "first\n\nsecond"
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (125, 9)
    assert (reply.usage.cache_read_tokens, reply.usage.cache_write_tokens) == (100, 20)


def test_concurrent_calls_share_one_client(fake_provider: FakeProvider, settings: ModelSettings) -> None:
    fake_provider.latency_s = 0.2
    fake_provider.respond_with(lambda call: call.last_user.upper())

    async def main() -> list[str]:
        model = create(MODEL, settings)
        try:
            replies = await asyncio.gather(*(model.generate(chat(f"question {i}")) for i in range(5)))
        finally:
            await model.aclose()
        return [r.text for r in replies]

    assert asyncio.run(main()) == [f"QUESTION {i}" for i in range(5)]
    assert fake_provider.max_in_flight == 5


def test_base_url_comes_from_the_environment_when_not_given(
    fake_provider: FakeProvider, provider_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_provider.anthropic_base_url)
    [reply] = generate(create, MODEL, ModelSettings(), chat("hi"))
    assert reply.text == "ok" and fake_provider.request_count == 1


def test_model_satisfies_the_protocol(provider_env: dict) -> None:
    async def main() -> AnthropicModel:
        model = create(MODEL, ModelSettings(base_url="http://127.0.0.1:9"))
        await model.aclose()
        return model

    model = asyncio.run(main())
    assert isinstance(model, Model)
    assert (model.name, model.provider) == (f"anthropic:{MODEL}", "anthropic")


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_key_names_the_variable_and_the_offline_alternative(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    else:
        monkeypatch.setenv("ANTHROPIC_API_KEY", value)
    with pytest.raises(MissingKeyError) as info:
        create(MODEL, ModelSettings())
    message = str(info.value)
    assert "\n" not in message
    assert "ANTHROPIC_API_KEY" in message and "'evalkit run'" in message


def test_missing_sdk_says_how_to_install_it(provider_env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "anthropic", None)  # makes `import anthropic` raise ImportError
    with pytest.raises(ModelError, match="pip install anthropic"):
        create(MODEL, ModelSettings())


def test_bad_key_says_which_variable_to_fix(fake_provider: FakeProvider, settings: ModelSettings) -> None:
    fake_provider.api_key = "another-key"
    err = generate_error(create, MODEL, settings, chat("hi"))
    assert err.status == 401
    assert "the API key was rejected (401 unauthorized); check ANTHROPIC_API_KEY" in str(err)


def test_unknown_model_is_named(fake_provider: FakeProvider, settings: ModelSettings) -> None:
    fake_provider.models = frozenset({MODEL})
    err = generate_error(create, "claude-opus-9-9", settings, chat("hi"))
    assert err.status == 404
    assert "anthropic:claude-opus-9-9: unknown model id 'claude-opus-9-9'" in str(err)
    assert "model: claude-opus-9-9" in str(err)  # the provider's own words


def test_bad_request_passes_on_the_providers_message(
    fake_provider: FakeProvider, settings: ModelSettings
) -> None:
    err = generate_error(create, MODEL, settings, chat())  # no messages at all
    assert err.status == 400
    assert str(err) == (
        f"anthropic:{MODEL}: request rejected (400): messages: at least one message is required"
    )


@pytest.mark.live
@pytest.mark.skipif(not os.environ.get("ANTHROPIC_API_KEY"), reason="needs ANTHROPIC_API_KEY")
def test_live_anthropic() -> None:
    model_id = os.environ.get("EVALKIT_LIVE_ANTHROPIC_MODEL", MODEL)
    [reply] = generate(
        create, model_id, ModelSettings(max_retries=2), chat("Reply with the word: pong", max_tokens=64)
    )
    assert "pong" in reply.text.lower()
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0
    assert reply.stop_reason == "end_turn"
