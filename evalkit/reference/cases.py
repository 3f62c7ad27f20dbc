"""Ground-truth trials: random inputs (and weights) and what the reference returns on them.

Computed in the trusted parent, never in the sandbox; the sandboxed child gets
the same inputs and weights, and its outputs are compared with these.
Inputs are drawn from seeded generators, so trials are reproducible. Example::

    trials = reference_trials(get_reference("mha"), [({"d_model": 16, "num_heads": 4},
                              {"Q": [2, 5, 16], "K": [2, 7, 16], "V": [2, 7, 16]})], seeds=[0, 1])
    trials[0].outputs[0].shape        # torch.Size([2, 5, 16])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from evalkit.reference.registry import Reference, outputs_of

__all__ = ["Trial", "einsum_trials", "reference_trials"]

Case = tuple[Mapping[str, Any], Mapping[str, Sequence[int]]]


@dataclass(frozen=True, eq=False)
class Trial:
    """One run of the reference: inputs, weights (module references), outputs and gradients."""

    label: str
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    init: Mapping[str, Any] | None = None
    state: Mapping[str, Tensor] | None = None
    grad_of: tuple[int, ...] = ()
    cotangents: tuple[Tensor, ...] = ()
    grads: tuple[Tensor | None, ...] = field(default=())


def _grad(x: Tensor) -> Tensor | None:
    return None if x.grad is None else x.grad.detach()


def _describe(init: Mapping[str, Any], shapes: Mapping[str, Sequence[int]], seed: int) -> str:
    parts = [", ".join(f"{k}={v}" for k, v in init.items())] if init else []
    parts.append(", ".join(f"{name} {list(shape)}" for name, shape in shapes.items()))
    return "; ".join(parts) + f"; seed {seed}"


def reference_trials(
    reference: Reference,
    cases: Sequence[Case],
    seeds: Sequence[int],
    grad_of: Sequence[str] = (),
    copy_weights: bool = True,
) -> tuple[Trial, ...]:
    """A trial per case and seed: normal inputs of the case's shapes, the reference's outputs (and gradients)."""
    trials = []
    for index, (init, shapes) in enumerate(cases):
        for seed in seeds:
            generator = torch.Generator().manual_seed(1000 * seed + index)
            inputs = tuple(torch.randn(*shape, generator=generator) for shape in shapes.values())
            positions = tuple(list(shapes).index(name) for name in grad_of)
            module = reference.build(init, seed) if reference.is_module else None
            live = tuple(x.clone().requires_grad_(i in positions) for i, x in enumerate(inputs))
            with torch.set_grad_enabled(bool(positions)):
                outputs = outputs_of(reference.call(init, live, module))
            cotangents: tuple[Tensor, ...] = ()
            grads: tuple[Tensor | None, ...] = ()
            if positions:
                cotangents = tuple(torch.randn(o.shape, generator=generator) for o in outputs)
                loss = sum((o * c).sum() for o, c in zip(outputs, cotangents, strict=True))
                if isinstance(loss, Tensor) and loss.requires_grad:
                    loss.backward()
                grads = tuple(_grad(live[i]) for i in positions)
            state = None
            if module is not None and copy_weights:
                state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            trials.append(
                Trial(
                    label=_describe(init, shapes, seed),
                    inputs=inputs,
                    outputs=tuple(o.detach() for o in outputs),
                    init=dict(init) if reference.is_module else None,
                    state=state,
                    grad_of=positions,
                    cotangents=cotangents,
                    grads=grads,
                )
            )
    return tuple(trials)


def einsum_trials(
    expected: str,
    operands: Mapping[str, Sequence[str]],
    dims: Sequence[Mapping[str, int]],
    seeds: Sequence[int],
) -> tuple[Trial, ...]:
    """A trial per dimension assignment and seed: operands of the declared symbolic shapes, ``einsum(expected)``."""
    trials = []
    for index, sizes in enumerate(dims):
        shapes = {name: [sizes[d] for d in shape] for name, shape in operands.items()}
        for seed in seeds:
            generator = torch.Generator().manual_seed(1000 * seed + index)
            inputs = tuple(torch.randn(*shape, generator=generator) for shape in shapes.values())
            label = ", ".join(f"{k}={v}" for k, v in sizes.items()) + "; " + _describe({}, shapes, seed)
            trials.append(Trial(label, inputs, (torch.einsum(expected, *inputs),)))
    return tuple(trials)
