"""Aliases and provider creation through the registry, the way ``evalkit.api.run`` uses them."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import typing

import pytest

from evalkit.errors import MissingKeyError
from evalkit.models.anthropic import AnthropicModel
from evalkit.models.base import Model
from evalkit.models.openai import OpenAIModel
from evalkit.models.registry import ModelSettings, expand_alias, preflight, resolve_model
from tests.fakeserver import FakeProvider, Fault
from tests.models.support import chat


def _version(numbers: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", numbers))


def test_gpt_is_the_newest_flagship_the_sdk_names() -> None:
    from openai.types.shared.chat_model import ChatModel

    names = [n for n in typing.get_args(ChatModel) if isinstance(n, str)]
    provider, _, model_id = expand_alias("gpt").partition(":")
    assert provider == "openai" and model_id in names
    flagship = [n for n in names if re.fullmatch(r"gpt-\d+(\.\d+)?(-astra)?", n)]
    newest = max(_version(n) for n in flagship)
    assert _version(model_id) == newest
    assert not re.search(r"-(sol|terra|luna|mini|nano|pro)\b|\d{4}-\d\d-\d\d", model_id)


def test_claude_is_the_newest_opus_the_sdk_names() -> None:
    from anthropic.types.model_param import ModelParam

    names = [a for arg in typing.get_args(ModelParam) for a in typing.get_args(arg) if isinstance(a, str)]
    provider, _, model_id = expand_alias("claude").partition(":")
    assert provider == "anthropic" and model_id in names
    opus = [n for n in names if re.fullmatch(r"claude-opus-\d+(-\d)?", n)]
    assert _version(model_id) == max(_version(n) for n in opus)


@pytest.mark.parametrize(
    ("name", "cls", "attr"),
    [
        ("anthropic:claude-haiku-4-5", AnthropicModel, "anthropic_base_url"),
        ("openai:gpt-5.5", OpenAIModel, "openai_base_url"),
    ],
)
def test_resolve_model_creates_a_working_provider(
    name: str,
    cls: type,
    attr: str,
    fake_provider: FakeProvider,
    provider_env: dict,
    fast_retries: list[float],
) -> None:
    fake_provider.fail(Fault.overloaded())
    fake_provider.reply("resolved")
    # Like evalkit.api.run: the model is made outside the event loop, then used inside one.
    model = resolve_model(name, ModelSettings(base_url=getattr(fake_provider, attr), max_retries=3))
    assert isinstance(model, cls) and isinstance(model, Model)
    assert model.name == name

    async def main() -> str:
        try:
            return (await model.generate(chat("hi"))).text
        finally:
            await model.aclose()

    assert asyncio.run(main()) == "resolved"
    assert isinstance(model, AnthropicModel | OpenAIModel)
    assert model.retry_policy.max_retries == 3 and len(fast_retries) == 1


@pytest.mark.parametrize("name", ["claude", "gpt"])
def test_aliases_without_a_key_say_what_to_set(
    name: str, provider_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(MissingKeyError, match=r"_API_KEY.*'evalkit run'"):
        resolve_model(name)


def test_importing_the_models_package_imports_no_provider_sdk() -> None:
    code = "import sys, evalkit.models; print(sorted({'anthropic', 'openai'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(("name", "says"), [("claude", "no Anthropic API key: set ANTHROPIC_API_KEY"),
                                            ("anthropic:claude-haiku-4-5", "no Anthropic API key"),
                                            ("gpt", "no OpenAI API key: set OPENAI_API_KEY"),
                                            ("openai:gpt-5.5", "no OpenAI API key")])  # fmt: skip
def test_preflight_names_the_missing_key_without_importing_the_sdk(name: str, says: str) -> None:
    code = (
        "import sys\nfrom evalkit.models.registry import preflight\n"
        f"try:\n    preflight(['replay', {name!r}])\nexcept Exception as err:\n"
        "    print(type(err).__name__, err)\n"
        "print(sorted({'anthropic', 'openai'} & set(sys.modules)))"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    first, imported = out.stdout.strip().splitlines()
    assert first.startswith(f"MissingKeyError {says}") and "'evalkit run'" in first
    assert imported == "[]"


def test_preflight_passes_with_a_key_or_a_compatible_server(
    provider_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    preflight(["claude", "gpt", "replay", "local", "openai:x"])
    monkeypatch.delenv("OPENAI_API_KEY")
    preflight(["openai:llama3"], ModelSettings(base_url="http://10.0.0.5:8000/v1"))  # takes no key
    with pytest.raises(MissingKeyError):
        preflight(["openai:llama3"], ModelSettings(base_url="https://api.openai.com/v1"))
    preflight(["nonsense", "mystery:model"])  # resolve_model says what is wrong with these


def test_preflight_leaves_a_replaced_provider_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from evalkit.models import registry

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setitem(registry._PROVIDERS, "anthropic", lambda model_id, settings: None)
    preflight(["anthropic:claude-haiku-4-5"])  # its factory decides what it needs
