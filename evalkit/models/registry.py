"""Provider registry and aliases: ``resolve_model("claude")`` → an Anthropic model.

A model name is ``provider:model-id`` (``anthropic:claude-opus-4-5``,
``openai:gpt-4o``, ``replay:cassettes/hw9.yaml``, ``local:model.gguf``) or an alias
(``claude``, ``gpt``, ``replay``, ``local``). Provider modules are imported lazily, so a missing SDK
only matters when that provider is used.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from evalkit.errors import ModelError
from evalkit.models.base import Model

__all__ = [
    "ModelSettings",
    "expand_alias",
    "known_providers",
    "preflight",
    "register_provider",
    "resolve_model",
]


@dataclass(frozen=True)
class ModelSettings:
    """Connection settings that are not generation parameters."""

    base_url: str | None = None
    max_retries: int = 6
    timeout_s: float = 600.0
    prompt_cache: bool = True  # Anthropic: mark cache breakpoints (OpenAI caches by itself)
    # local models (a llama.cpp server evalkit starts): CPU threads, context per conversation, slots
    threads: int | None = None
    ctx: int | None = None
    parallel: int = 1
    progress: Callable[[str], None] | None = field(default=None, compare=False)  # says what a model is doing


Factory = Callable[[str, ModelSettings], Model]

# provider name -> "module:function" (imported on first use) or a factory
_PROVIDERS: dict[str, str | Factory] = {
    "anthropic": "evalkit.models.anthropic:create",
    "openai": "evalkit.models.openai:create",
    "replay": "evalkit.models.replay:create",
    "local": "evalkit.models.local:create",
}
_BUILTIN_PROVIDERS = dict(_PROVIDERS)


# provider name -> "module:function(name, settings)" raising ModelError for what is known to fail before a
# run starts (no key; no server at a --base-url on this machine), without importing the provider's SDK
_PREFLIGHTS: dict[str, str] = {
    "anthropic": "evalkit.models.anthropic:preflight",
    "openai": "evalkit.models.openai:preflight",
}


def register_provider(name: str, factory: str | Factory) -> None:
    """Register a provider by name: a factory ``(model_id, settings) -> Model`` or ``"module:function"``."""
    _PROVIDERS[name] = factory


def known_providers() -> list[str]:
    return sorted(_PROVIDERS)


def _newest_claude_opus() -> str:
    """The newest Claude Opus model id that the installed anthropic SDK names."""
    fallback = "claude-opus-4-5"
    try:
        import typing

        from anthropic.types import model_param

        names = [
            a
            for arg in typing.get_args(model_param.ModelParam)
            for a in (typing.get_args(arg) or (arg,))
            if isinstance(a, str)
        ]
    except Exception:
        return fallback

    def version(name: str) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", name.removeprefix("claude-opus-"))[:2])

    opus = [n for n in names if re.fullmatch(r"claude-opus-\d+(-\d)?", n)]
    return max(opus, key=version) if opus else fallback


def _newest_gpt() -> str:
    """The newest flagship GPT model id that the installed openai SDK names for Chat Completions.

    The flagship line is ``gpt-N`` / ``gpt-N.M`` and, from GPT-6 on, ``gpt-N.M-astra``
    (``-sol``, ``-terra`` and ``-luna`` are the smaller tiers); dated snapshots are skipped.
    """
    fallback = "gpt-5.5"
    try:
        import typing

        from openai.types.shared import chat_model

        names = [a for a in typing.get_args(chat_model.ChatModel) if isinstance(a, str)]
    except Exception:
        return fallback

    flagship: dict[str, tuple[int, int, bool]] = {}
    for name in names:
        match = re.fullmatch(r"gpt-(\d+)(?:\.(\d+))?(-astra)?", name)
        if match:
            flagship[name] = (int(match[1]), int(match[2] or 0), bool(match[3]))
    return max(flagship, key=flagship.__getitem__) if flagship else fallback


_ALIASES: dict[str, Callable[[], str]] = {
    "claude": lambda: f"anthropic:{_newest_claude_opus()}",
    "gpt": lambda: f"openai:{_newest_gpt()}",
    "replay": lambda: "replay:default",
    "local": lambda: "local:default",
}


_ALIAS_PROVIDERS = {"claude": "anthropic", "gpt": "openai", "replay": "replay", "local": "local"}


def preflight(names: Sequence[str], settings: ModelSettings | None = None) -> None:
    """Raise what a run of ``names`` is bound to fail with, before it loads anything or works out an alias.

    :class:`~evalkit.errors.MissingKeyError` when a provider's key is not set, and a
    :class:`~evalkit.errors.ModelError` when ``base_url`` is on this machine and nothing listens there.
    Imports no provider SDK (the alias ``claude`` imports one to find the newest model). Unknown
    names, and providers registered in place of the built-in ones, are left to :func:`resolve_model`.
    """
    for name in names:
        provider = _ALIAS_PROVIDERS.get(name) or name.partition(":")[0]
        check = _PREFLIGHTS.get(provider)
        if check is not None and _PROVIDERS.get(provider) == _BUILTIN_PROVIDERS.get(provider):
            module_name, _, func = check.partition(":")
            getattr(importlib.import_module(module_name), func)(name, settings or ModelSettings())


def expand_alias(name: str) -> str:
    """``claude`` → ``anthropic:claude-opus-…``; full names pass through unchanged.

    Only the alias asked for is worked out (``claude`` imports the anthropic SDK to find the newest id).
    """
    if name in _ALIASES:
        return _ALIASES[name]()
    if ":" not in name:
        raise ModelError(
            f"unknown model {name!r}: use provider:model (providers: {', '.join(known_providers())}) "
            f"or an alias ({', '.join(sorted(_ALIASES))})"
        )
    return name


def resolve_model(name: str, settings: ModelSettings | None = None) -> Model:
    """Create the model named ``name`` (an alias or ``provider:model-id``)."""
    full = expand_alias(name)
    provider, _, model_id = full.partition(":")
    if provider not in _PROVIDERS:
        raise ModelError(f"unknown provider {provider!r} in {name!r}; known: {', '.join(known_providers())}")
    if not model_id:
        raise ModelError(f"model {name!r} names no model after '{provider}:'")
    factory = _PROVIDERS[provider]
    if isinstance(factory, str):
        module_name, _, func = factory.partition(":")
        factory = getattr(importlib.import_module(module_name), func)
    return factory(model_id, settings or ModelSettings())
