"""Helpers for provider tests: build requests, run one model call in a fresh event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from evalkit.errors import ModelError
from evalkit.models.base import GenerationOptions, Message, Model, ModelRequest, ModelResponse, Turn
from evalkit.models.registry import ModelSettings

Factory = Callable[..., Model]


def chat(*texts: str, system: str | None = None, **options: Any) -> ModelRequest:
    """A request whose messages alternate user, assistant, user, ... starting with the user."""
    messages = tuple(Message("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(texts))
    return ModelRequest(
        messages=messages,
        turn=Turn("question", problem="q1"),
        system=system,
        options=GenerationOptions(**options),
    )


def generate(
    create: Factory, model_id: str, settings: ModelSettings, *requests: ModelRequest
) -> list[ModelResponse]:
    """Create the model, send ``requests`` one after another, close it; the replies in order."""

    async def main() -> list[ModelResponse]:
        model = create(model_id, settings)
        try:
            return [await model.generate(r) for r in requests]
        finally:
            await model.aclose()

    return asyncio.run(main())


def generate_error(
    create: Factory, model_id: str, settings: ModelSettings, request: ModelRequest
) -> ModelError:
    """The ModelError that sending ``request`` raises (fails the test if it succeeds)."""
    try:
        reply = generate(create, model_id, settings, request)
    except ModelError as exc:
        return exc
    raise AssertionError(f"expected a ModelError, got {reply}")


def exception_texts(exc: BaseException) -> list[str]:
    """The text of ``exc`` and of every exception chained to it (cause and context)."""
    texts: list[str] = []
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        texts.append(f"{type(current).__name__}: {current} {current.args!r}")
        stack.extend([current.__cause__, current.__context__])
    return texts
