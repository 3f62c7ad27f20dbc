"""The OpenAI adapter, through the real ``openai`` SDK against the fake Chat Completions API."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from evalkit.errors import MissingKeyError, ModelError
from evalkit.models.base import Model
from evalkit.models.openai import PLACEHOLDER_KEY, OpenAIModel, create, is_compatible_server
from evalkit.models.registry import ModelSettings
from tests.fakeserver import FakeProvider, HTTPReply, HTTPRequest, Reply
from tests.models.support import chat, generate, generate_error

MODEL = "gpt-5.5"


@pytest.fixture
def settings(fake_provider: FakeProvider, provider_env: dict) -> ModelSettings:
    return ModelSettings(base_url=fake_provider.openai_base_url)


def test_text_usage_model_and_finish_reason(fake_provider: FakeProvider, settings: ModelSettings) -> None:
    fake_provider.reply(Reply("The answer is 4.", input_tokens=30, output_tokens=8, stop_reason="max_tokens"))
    [reply] = generate(create, MODEL, settings, chat("What is 2+2?"))
    assert reply.text == "The answer is 4."
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (30, 8)
    assert reply.model == MODEL
    assert reply.stop_reason == "length"
    assert reply.thinking is None


def test_request_carries_system_history_and_options(
    fake_provider: FakeProvider, settings: ModelSettings
) -> None:
    request = chat(
        "Question 1: what is 2+2?",
        "It is 5.",
        "Check your arithmetic.",
        system="You are a patient tutor.",
        temperature=0.2,
        max_tokens=555,
        thinking_budget=2048,  # a Claude option: not sent
    )
    generate(create, MODEL, settings, request)
    [sent] = fake_provider.chat_requests("openai")
    assert sent.body == {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are a patient tutor."},
            {"role": "user", "content": "Question 1: what is 2+2?"},
            {"role": "assistant", "content": "It is 5."},
            {"role": "user", "content": "Check your arithmetic."},
        ],
        "max_tokens": 555,  # a compatible server (the fake is not openai.com)
        "temperature": 0.2,
    }
    assert sent.auth == "bearer"


def test_openai_itself_gets_max_completion_tokens(provider_env: dict) -> None:
    async def main() -> dict:
        model = create(MODEL, ModelSettings())
        await model.aclose()
        return model.request_params(chat("hi", max_tokens=300))

    params = asyncio.run(main())  # no request is sent
    assert params["max_completion_tokens"] == 300 and "max_tokens" not in params
    assert "temperature" not in params


@pytest.mark.parametrize(
    ("base_url", "compatible"),
    [
        (None, False),
        ("https://api.openai.com/v1", False),
        ("https://eu.api.openai.com/v1", False),
        ("http://localhost:8000/v1", True),
        ("http://127.0.0.1:11434/v1", True),
        ("https://openai.com.example.org/v1", True),
    ],
)
def test_which_base_urls_are_compatible_servers(base_url: str | None, compatible: bool) -> None:
    assert is_compatible_server(base_url) is compatible


def test_a_multi_turn_conversation_is_answered_deterministically(
    fake_provider: FakeProvider, settings: ModelSettings
) -> None:
    answers = {"question 3": "x = 3", "question 4": "O(n log n)"}
    fake_provider.respond_with(lambda call: answers.get(call.last_user.lower(), "?"))
    replies = generate(
        create, MODEL, settings, chat("Question 4"), chat("Question 4", "O(n log n)", "Question 3")
    )
    assert [r.text for r in replies] == ["O(n log n)", "x = 3"]


def test_compatible_server_without_a_key_gets_a_placeholder(
    fake_provider: FakeProvider, provider_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    fake_provider.api_key = PLACEHOLDER_KEY  # the fake answers 401 to any other key
    fake_provider.reply("served locally")
    [reply] = generate(create, "qwen3-8b", ModelSettings(base_url=fake_provider.openai_base_url), chat("hi"))
    assert reply.text == "served locally"


def test_compatible_server_reasoning_is_kept_as_thinking(
    fake_provider: FakeProvider, settings: ModelSettings
) -> None:
    def completions(request: HTTPRequest) -> HTTPReply:
        message = {"role": "assistant", "content": "x = 3", "reasoning_content": "5 - 2 = 3"}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        usage = {"prompt_tokens": 4, "completion_tokens": 9, "total_tokens": 13}
        body = {"id": "c1", "object": "chat.completion", "created": 0, "model": "qwen3-8b"}
        return HTTPReply(200, {**body, "choices": [choice], "usage": usage})

    fake_provider.route("POST", "/v1/chat/completions", completions)
    [reply] = generate(create, "qwen3-8b", settings, chat("Solve x + 2 = 5"))
    assert (reply.text, reply.thinking, reply.stop_reason) == ("x = 3", "5 - 2 = 3", "stop")


def test_missing_usage_and_content_are_tolerated(
    fake_provider: FakeProvider, settings: ModelSettings
) -> None:
    def completions(request: HTTPRequest) -> HTTPReply:
        choice = {"index": 0, "message": {"role": "assistant", "content": None}, "finish_reason": "stop"}
        return HTTPReply(
            200, {"id": "c1", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice]}
        )

    fake_provider.route("POST", "/v1/chat/completions", completions)
    [reply] = generate(create, "m", settings, chat("hi"))
    assert (reply.text, reply.usage.input_tokens, reply.usage.output_tokens) == ("", 0, 0)


def test_a_reply_without_choices_is_an_error(fake_provider: FakeProvider, settings: ModelSettings) -> None:
    fake_provider.route(
        "POST",
        "/v1/chat/completions",
        lambda request: HTTPReply(
            200, {"id": "c", "object": "chat.completion", "created": 0, "model": "m", "choices": []}
        ),
    )
    err = generate_error(create, "m", settings, chat("hi"))
    assert str(err) == "openai:m: the reply has no choices"


def test_concurrent_calls_share_one_client(fake_provider: FakeProvider, settings: ModelSettings) -> None:
    fake_provider.latency_s = 0.2

    async def main() -> None:
        model = create(MODEL, settings)
        try:
            await asyncio.gather(*(model.generate(chat(f"q{i}")) for i in range(4)))
        finally:
            await model.aclose()

    asyncio.run(main())
    assert fake_provider.max_in_flight == 4


def test_base_url_comes_from_the_environment_when_not_given(
    fake_provider: FakeProvider, provider_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_provider.openai_base_url)
    [reply] = generate(create, MODEL, ModelSettings(), chat("hi"))
    assert reply.text == "ok" and fake_provider.request_count == 1


def test_model_satisfies_the_protocol(provider_env: dict) -> None:
    async def main() -> OpenAIModel:
        model = create(MODEL, ModelSettings(base_url="http://127.0.0.1:9/v1"))
        await model.aclose()
        return model

    model = asyncio.run(main())
    assert isinstance(model, Model)
    assert (model.name, model.provider, model.compatible_server) == (f"openai:{MODEL}", "openai", True)


def test_missing_key_names_the_variable_and_both_alternatives(
    provider_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    for base_url in (None, "https://api.openai.com/v1"):
        with pytest.raises(MissingKeyError) as info:
            create(MODEL, ModelSettings(base_url=base_url))
        message = str(info.value)
        assert "\n" not in message
        assert "OPENAI_API_KEY" in message and "'evalkit run'" in message and "--base-url" in message


def test_missing_sdk_says_how_to_install_it(provider_env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # makes `import openai` raise ImportError
    with pytest.raises(ModelError, match="pip install openai"):
        create(MODEL, ModelSettings())


def test_bad_key_says_which_variable_to_fix(fake_provider: FakeProvider, settings: ModelSettings) -> None:
    fake_provider.api_key = "another-key"
    err = generate_error(create, MODEL, settings, chat("hi"))
    assert err.status == 401
    assert str(err).startswith(
        f"openai:{MODEL}: the API key was rejected (401 unauthorized); check OPENAI_API_KEY"
    )
    assert fake_provider.openai_base_url in str(err)  # which server wanted the key


def test_unknown_model_is_named_with_the_base_url(
    fake_provider: FakeProvider, settings: ModelSettings
) -> None:
    fake_provider.models = frozenset({MODEL})
    err = generate_error(create, "gpt-9", settings, chat("hi"))
    assert err.status == 404
    message = str(err)
    assert message.startswith("openai:gpt-9: unknown model id 'gpt-9' (404: The model `gpt-9` does not exist")
    assert f"--base-url ({fake_provider.openai_base_url})" in message


def test_bad_request_passes_on_the_providers_message(
    fake_provider: FakeProvider, settings: ModelSettings
) -> None:
    err = generate_error(create, MODEL, settings, chat())  # no messages at all
    assert err.status == 400
    assert str(err) == f"openai:{MODEL}: request rejected (400): messages: at least one message is required"


@pytest.mark.live
@pytest.mark.skipif(not os.environ.get("OPENAI_API_KEY"), reason="needs OPENAI_API_KEY")
def test_live_openai() -> None:
    model_id = os.environ.get("EVALKIT_LIVE_OPENAI_MODEL", "gpt-5.4-mini")
    [reply] = generate(
        create, model_id, ModelSettings(max_retries=2), chat("Reply with the word: pong", max_tokens=512)
    )
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0
    assert reply.stop_reason in ("stop", "length")
    if reply.stop_reason == "stop":
        assert "pong" in reply.text.lower()
