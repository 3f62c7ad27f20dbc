"""Ground-truth trials: random inputs (and weights) and what the reference returns on them.

Computed in the trusted parent, never in the sandbox; the sandboxed child gets
the same inputs and weights, and its outputs are compared with these.
Inputs are drawn from seeded generators, so trials are reproducible. An input
is a shape (a float32 tensor of standard normals) or an :class:`InputSpec`
(another dtype, a range of integers, or a plain value). Example::

    trials = reference_trials(get_reference("mha"), [({"d_model": 16, "num_heads": 4},
                              {"Q": [2, 5, 16], "K": [2, 7, 16], "V": [2, 7, 16]})], seeds=[0, 1])
    trials[0].outputs[0].shape        # torch.Size([2, 5, 16])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor

from evalkit.reference.registry import Reference, outputs_of

__all__ = ["DTYPES", "InputSpec", "Trial", "einsum_trials", "reference_trials"]

DType = Literal["float32", "float64", "int64", "int32", "bool"]
DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float64": torch.float64,
    "int64": torch.int64,
    "int32": torch.int32,
    "bool": torch.bool,
}


@dataclass(frozen=True)
class InputSpec:
    """One argument of a call: a random tensor of ``shape`` and ``dtype``, or a plain ``value``.

    Floats are standard normals, or uniform in ``[low, high)`` when ``high`` is given (large
    entries, e.g. a stability case ``{low: -300, high: 300}``); integers are uniform in
    ``[low, high)`` (``high`` is required for them: class labels, token ids, positions); bools are
    fair coins.
    """

    shape: tuple[int, ...] = ()
    dtype: DType = "float32"
    low: float = 0
    high: float | None = None
    value: int | float | bool | str | None = None
    literal: bool = False

    def draw(self, generator: torch.Generator) -> Any:
        if self.literal:
            return self.value
        if self.dtype in ("float32", "float64") and self.high is not None:
            dtype = DTYPES[self.dtype]
            return self.low + (self.high - self.low) * torch.rand(
                *self.shape, generator=generator, dtype=dtype
            )
        if self.dtype == "float32":  # the draw HW9's trials were made with: keep it bit for bit
            return torch.randn(*self.shape, generator=generator)
        if self.dtype == "float64":
            return torch.randn(*self.shape, generator=generator, dtype=torch.float64)
        if self.dtype == "bool":
            return torch.randint(0, 2, self.shape, generator=generator).bool()
        assert self.high is not None, "integer inputs need 'high'"
        return torch.randint(
            int(self.low), int(self.high), self.shape, generator=generator, dtype=DTYPES[self.dtype]
        )

    def describe(self, name: str) -> str:
        if self.literal:
            return f"{name}={self.value!r}"
        kind = "" if self.dtype == "float32" else f" {self.dtype}"
        drawn = f" in [{self.low:g}, {self.high:g})" if self.high is not None and not self.literal else ""
        return f"{name} {list(self.shape)}{kind}{drawn}"


Inputs = Mapping[str, Sequence[int] | InputSpec]
Case = tuple[Mapping[str, Any], Inputs]


def _spec(value: Sequence[int] | InputSpec) -> InputSpec:
    return value if isinstance(value, InputSpec) else InputSpec(tuple(value))


@dataclass(frozen=True, eq=False)
class Trial:
    """One run of the reference: inputs, weights (module references), outputs and gradients."""

    label: str
    inputs: tuple[Any, ...]  # tensors, or plain values passed as they are
    outputs: tuple[Tensor, ...]
    init: Mapping[str, Any] | None = None
    state: Mapping[str, Tensor] | None = None
    grad_of: tuple[int, ...] = ()
    cotangents: tuple[Tensor, ...] = ()
    grads: tuple[Tensor | None, ...] = field(default=())
    compared: tuple[int, ...] | None = None  # which of the call's outputs ``outputs`` are (None: all)


def _grad(x: Tensor) -> Tensor | None:
    return None if x.grad is None else x.grad.detach()


def _describe(init: Mapping[str, Any], inputs: Inputs, seed: int) -> str:
    parts = [", ".join(f"{k}={v}" for k, v in init.items())] if init else []
    parts.append(", ".join(_spec(spec).describe(name) for name, spec in inputs.items()))
    return "; ".join(parts) + f"; seed {seed}"


def _live(x: Any, grad: bool) -> Any:
    return x.clone().requires_grad_(grad) if isinstance(x, Tensor) else x


def reference_trials(
    reference: Reference,
    cases: Sequence[Case],
    seeds: Sequence[int],
    grad_of: Sequence[str] = (),
    copy_weights: bool = True,
    compared: Sequence[int] | None = None,
) -> tuple[Trial, ...]:
    """A trial per case and seed: random inputs of the case's specs, the reference's outputs (and gradients).

    ``compared`` picks the outputs to compare (positions in the returned tuple;
    default all). Gradients are those of ``sum(output_i * c_i)`` with random
    cotangents ``c_i`` for compared outputs and zeros for the others.
    """
    trials = []
    for index, (init, specs) in enumerate(cases):
        for seed in seeds:
            generator = torch.Generator().manual_seed(1000 * seed + index)
            inputs = tuple(_spec(spec).draw(generator) for spec in specs.values())
            positions = tuple(list(specs).index(name) for name in grad_of)
            module = reference.build(init, seed) if reference.is_module else None
            live = tuple(_live(x, i in positions) for i, x in enumerate(inputs))
            with torch.set_grad_enabled(bool(positions)):
                outputs = outputs_of(reference.call(init, live, module))
            chosen = tuple(range(len(outputs))) if compared is None else tuple(compared)
            if any(not 0 <= i < len(outputs) for i in chosen):
                raise ValueError(
                    f"outputs {list(chosen)} asked for, but the reference returns {len(outputs)} tensor(s)"
                )
            cotangents: tuple[Tensor, ...] = ()
            grads: tuple[Tensor | None, ...] = ()
            if positions:
                cotangents = tuple(
                    torch.randn(o.shape, generator=generator) if i in chosen else torch.zeros(o.shape)
                    for i, o in enumerate(outputs)
                )
                loss = sum((o * c).sum() for o, c in zip(outputs, cotangents, strict=True))
                if isinstance(loss, Tensor) and loss.requires_grad:
                    loss.backward()
                grads = tuple(_grad(live[i]) for i in positions)
            state = None
            if module is not None and copy_weights:
                state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            trials.append(
                Trial(
                    label=_describe(init, specs, seed),
                    inputs=inputs,
                    outputs=tuple(outputs[i].detach() for i in chosen),
                    init=dict(init) if reference.is_module else None,
                    state=state,
                    grad_of=positions,
                    cotangents=cotangents,
                    grads=grads,
                    compared=None if compared is None else chosen,
                )
            )
    return tuple(trials)


def einsum_trials(
    expected: str | Reference,
    operands: Mapping[str, Sequence[str]],
    dims: Sequence[Mapping[str, int]],
    seeds: Sequence[int],
) -> tuple[Trial, ...]:
    """A trial per dimension assignment and seed: operands of the declared symbolic shapes, and
    ``einsum(expected)`` on them — or, for a :class:`Reference` function, its first output."""
    trials = []
    for index, sizes in enumerate(dims):
        shapes = {name: [sizes[d] for d in shape] for name, shape in operands.items()}
        for seed in seeds:
            generator = torch.Generator().manual_seed(1000 * seed + index)
            inputs = tuple(torch.randn(*shape, generator=generator) for shape in shapes.values())
            label = ", ".join(f"{k}={v}" for k, v in sizes.items()) + "; " + _describe({}, shapes, seed)
            if isinstance(expected, str):
                want = torch.einsum(expected, *inputs)
            else:
                want = outputs_of(expected.call({}, inputs))[0].detach()
            trials.append(Trial(label, inputs, (want,)))
    return tuple(trials)
