"""Prompt caching: breakpoints sent, cache reads and writes read back, priced, and accounted by the fake."""

from __future__ import annotations

import json

import pytest

from evalkit import api
from evalkit.models import anthropic as anthropic_adapter
from evalkit.models import openai as openai_adapter
from evalkit.models.base import Message, ModelRequest, ModelResponse, Turn, Usage
from evalkit.models.registry import ModelSettings
from evalkit.pricing import cost_usd
from tests.fakecache import PromptCache, tokens
from tests.fakeserver import FakeProvider
from tests.models.support import generate
from tests.tutor import TRIO, answer

LONG = "wor " * 1500  # 1,500 tokens for the fake (4 characters each): above every minimum but 4,096


def turn(*texts: str, kind: str = "question") -> ModelRequest:
    messages = tuple(Message("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(texts))
    return ModelRequest(messages=messages, turn=Turn(kind, problem="p"), system="Be a tutor.")  # type: ignore[arg-type]


def marked(body: dict) -> list[int]:
    """Which messages of a Messages API body carry a cache_control breakpoint."""
    return [
        i
        for i, m in enumerate(body["messages"])
        if isinstance(m["content"], list) and any("cache_control" in block for block in m["content"])
    ]


def test_breakpoints_on_the_opening_exchange_and_the_newest_message(fake_provider, provider_env) -> None:
    settings = ModelSettings(base_url=fake_provider.anthropic_base_url)
    requests = [
        turn("Walk me through it.", kind="opening"),
        turn("Walk me through it.", "Sure.", "Question 1"),
        turn("Walk me through it.", "Sure.", "Question 1", "Answer 1", "Hint 1"),
    ]
    generate(anthropic_adapter.create, "claude-sonnet-4-5", settings, *requests)
    sent = [r.body for r in fake_provider.chat_requests("anthropic")]
    assert [marked(b) for b in sent] == [[0], [1, 2], [1, 4]]
    block = sent[1]["messages"][1]["content"]
    assert block == [{"type": "text", "text": "Sure.", "cache_control": {"type": "ephemeral"}}]

    fake_provider.reset()
    off = ModelSettings(base_url=fake_provider.anthropic_base_url, prompt_cache=False)
    generate(anthropic_adapter.create, "claude-sonnet-4-5", off, requests[2])
    [plain] = fake_provider.chat_requests("anthropic")
    assert marked(plain.body) == [] and all(isinstance(m["content"], str) for m in plain.body["messages"])


def test_anthropic_reads_what_an_earlier_conversation_wrote(fake_provider, provider_env) -> None:
    settings = ModelSettings(base_url=fake_provider.anthropic_base_url)
    opening = (LONG, "I understand.")
    first, second = generate(
        anthropic_adapter.create,
        "claude-sonnet-4-5",
        settings,
        turn(*opening, "Question one"),
        turn(*opening, "Question two"),  # another problem's conversation, from the same opening
    )
    shared = tokens("Be a tutor.") + 1500 + tokens("I understand.")  # the system prompt, the opening exchange
    question = tokens("Question one")
    assert first.usage == Usage(
        shared + question, 1, cache_read_tokens=0, cache_write_tokens=shared + question
    )
    assert second.usage.cache_read_tokens == shared  # the opening exchange, through the 20-block lookback
    assert second.usage.cache_write_tokens == question  # its own question, for its next turn
    assert second.usage.input_tokens == shared + question
    # priced at the cache rates: a read costs a tenth of the input price, a write a quarter more
    price = 3.0 / 1e6  # claude-sonnet input
    assert cost_usd("anthropic:claude-sonnet-4-5", second.usage) == pytest.approx(
        shared * price * 0.1 + question * price * 1.25 + 1 * 15.0 / 1e6
    )


def test_a_prefix_below_the_model_minimum_is_not_cached(fake_provider, provider_env) -> None:
    settings = ModelSettings(base_url=fake_provider.anthropic_base_url)
    replies = generate(
        anthropic_adapter.create,
        "claude-haiku-4-5",  # caches prefixes of 4,096 tokens or more
        settings,
        turn(LONG, "Yes.", "Question one"),
        turn(LONG, "Yes.", "Question two"),
    )
    assert [(r.usage.cache_read_tokens, r.usage.cache_write_tokens) for r in replies] == [(0, 0), (0, 0)]
    assert replies[1].usage.uncached_input_tokens == replies[1].usage.input_tokens == 3 + 1500 + 1 + 3


def test_openai_caches_by_itself_and_says_so_in_prompt_tokens_details(fake_provider, provider_env) -> None:
    settings = ModelSettings(base_url=fake_provider.openai_base_url)
    first, second = generate(
        openai_adapter.create,
        "gpt-5.5",
        settings,
        turn(LONG, "Yes.", "Question one"),
        turn(LONG, "Yes.", "Question two"),
    )
    assert [m["content"] for m in fake_provider.chat_requests("openai")[0].body["messages"]][
        1
    ] == LONG  # no markers
    assert (first.usage.cache_read_tokens, first.usage.cache_write_tokens) == (0, 1408)  # 1,024 + 3 x 128
    assert second.usage.cache_read_tokens == 1408
    assert second.usage.input_tokens == 3 + 1500 + 1 + 3  # prompt_tokens includes the cached tokens
    assert cost_usd("openai:gpt-5", second.usage) == pytest.approx(
        (second.usage.uncached_input_tokens * 1.25 + 1408 * 0.125 + 1 * 10.0) / 1e6
    )


def test_cache_counts_survive_the_journal_and_the_response_cache() -> None:
    response = ModelResponse(
        "hi", Usage(100, 5, cache_read_tokens=60, cache_write_tokens=30), stop_reason="end_turn"
    )
    data = json.loads(json.dumps(response.to_json()))
    assert data["usage"] == {
        "input_tokens": 100,
        "output_tokens": 5,
        "cache_read_tokens": 60,
        "cache_write_tokens": 30,
    }
    assert ModelResponse.from_json(data) == response
    assert Usage(1, 1).to_json() == {"input_tokens": 1, "output_tokens": 1}  # no cache: the old shape


def test_price_file_may_set_cache_rates(tmp_path, monkeypatch) -> None:
    from evalkit import pricing

    prices = tmp_path / "prices.yaml"
    prices.write_text("openai:my-model: {input: 2.0, output: 4.0, cache_read: 0.2, cache_write: 2.5}\n")
    monkeypatch.setenv("EVALKIT_PRICES", str(prices))
    pricing._table.cache_clear()
    try:
        usage = Usage(1_000_000, 0, cache_read_tokens=500_000, cache_write_tokens=250_000)
        assert cost_usd("openai:my-model", usage) == pytest.approx(0.25 * 2.0 + 0.5 * 0.2 + 0.25 * 2.5)
        # without cache rates, OpenAI's rule: reads at half the input price, writes at the input price
        assert cost_usd("openai:other", usage) == 0.0  # unknown model
        assert cost_usd("openai:gpt-4o", usage) == pytest.approx(0.25 * 2.5 + 0.5 * 1.25 + 0.25 * 2.5)
    finally:
        pricing._table.cache_clear()


def test_fake_cache_lookback_is_twenty_blocks() -> None:
    cache = PromptCache(min_tokens=1)
    base = [("user", f"m{i}", False) for i in range(30)]
    cache.anthropic("m", [*base[:5], ("user", "x", True)])
    near = cache.anthropic("m", [*base[:5], ("user", "x", False), *base[6:24], ("user", "end", True)])
    far = cache.anthropic("m", [*base[:5], ("user", "x", False), *base[6:30], ("user", "end", True)])
    assert near.read == 6  # the write at block 5 is found 19 blocks back
    assert far.read == 0  # 25 blocks back: out of reach


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_run_with_prompt_caching_costs_less(tmp_path, provider_env, provider) -> None:
    """The trio suite with a long system prompt: every conversation shares it, so caching pays."""
    costs = {}
    for prompt_cache in (True, False):
        with FakeProvider(prompt_cache=prompt_cache) as fake:
            fake.respond_with(lambda call: answer(call.last_user))
            base_url = fake.anthropic_base_url if provider == "anthropic" else fake.openai_base_url
            config = api.RunConfig(
                model="anthropic:claude-sonnet-4-5" if provider == "anthropic" else "openai:gpt-4o",
                base_url=base_url,
                problems=str(TRIO / "problems"),
                rubrics=str(TRIO / "rubrics"),
                runs_dir=str(tmp_path / f"runs-{prompt_cache}"),
                cache=False,
                max_connections=1,
                system=LONG,
                prompt_cache=prompt_cache,
            )
            totals = api.run(config).to_json()["totals"]
        costs[prompt_cache] = totals["cost_usd"]
        assert (totals["cache_read_tokens"] > 0) is prompt_cache
    assert costs[True] < costs[False]
