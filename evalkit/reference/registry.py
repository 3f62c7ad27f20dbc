"""Name registries of reference implementations and homework skeletons.

Code checks name their ground truth (``reference: mha_wide_v``) and their
starting code (``skeleton: mha``); an unknown name is a SpecError that lists
the known ones. Example::

    ref = get_reference("sdpa")
    expected = ref.call({}, (Q, K, V))
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from evalkit.errors import SpecError
from evalkit.reference.names import BUILTIN, Builtin, builtin, builtin_names
from evalkit.reference.skeletons import get_skeleton, skeleton_names

__all__ = ["Reference", "get_reference", "get_skeleton", "reference_names", "skeleton_names"]


@dataclass(frozen=True)
class Reference:
    """A trusted implementation: a function, or an ``nn.Module`` class built from ``init`` keywords.

    ``entry`` is the name the homework gives it, the default name looked up in
    a model's code. ``origin`` tells apart references of the same name: empty
    for the built-in ones, the file's path and content digest for an author's
    (:mod:`evalkit.reference.files`).
    """

    name: str
    target: Callable[..., Any]
    entry: str
    summary: str
    is_module: bool = False
    origin: str = ""

    def build(self, init: Mapping[str, Any], seed: int) -> nn.Module:
        """The module with weights drawn from ``seed`` (its state dict is what a model's class receives)."""
        if not self.is_module:
            raise SpecError(f"reference {self.name!r} is a function; it has no weights to copy")
        torch.manual_seed(seed)
        module = self.target(**init)
        assert isinstance(module, nn.Module)
        return module.eval()

    def call(self, init: Mapping[str, Any], args: Sequence[Any], module: nn.Module | None = None) -> Any:
        """Run the reference on ``args`` (for a module: ``module`` or a fresh one built from ``init``)."""
        if self.is_module:
            module = module if module is not None else self.target(**init)
            return module(*args)
        return self.target(*args, **init)


def outputs_of(value: Any) -> tuple[Tensor, ...]:
    """A call's result as a tuple of tensors (a single tensor becomes a 1-tuple)."""
    if isinstance(value, Tensor):
        return (value,)
    if isinstance(value, tuple | list) and all(isinstance(v, Tensor) for v in value):
        return tuple(value)
    raise TypeError(f"expected a tensor or a tuple of tensors, got {type(value).__name__}")


def _built(name: str, builtin: Builtin) -> Reference:
    home, _, attribute = builtin.target.partition(":")
    target = getattr(importlib.import_module(f"evalkit.reference.{home}"), attribute)
    return Reference(name, target, builtin.entry, builtin.summary, is_module=builtin.is_module)


_REFERENCES: dict[str, Reference] = {name: _built(name, builtin) for name, builtin in BUILTIN.items()}


def reference_names() -> list[str]:
    """The registered reference names, sorted."""
    return builtin_names()


def get_reference(name: str) -> Reference:
    """The reference called ``name``; a SpecError naming the known ones otherwise."""
    builtin(name)  # an unknown name: the SpecError that lists the known ones
    return _REFERENCES[name]
