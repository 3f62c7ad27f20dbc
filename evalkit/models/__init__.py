"""Models: the protocol, the provider registry, and the built-in providers (imported lazily)."""

from evalkit.models.base import GenerationOptions, Message, Model, ModelRequest, ModelResponse, Turn, Usage
from evalkit.models.registry import ModelSettings, expand_alias, register_provider, resolve_model

__all__ = [
    "GenerationOptions",
    "Message",
    "Model",
    "ModelRequest",
    "ModelResponse",
    "ModelSettings",
    "Turn",
    "Usage",
    "expand_alias",
    "register_provider",
    "resolve_model",
]
