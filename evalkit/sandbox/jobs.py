"""What the parent sends to the sandbox and what comes back, as frozen dataclasses.

A :class:`Job` is the model's program (source text) and the calls to make on
it, with tensors as arguments. A :class:`RunOutcome` is what happened: how the
child ended, its capped output, and per call the output tensors, gradients or
the error — data only. The child's report is parsed strictly (pydantic,
bounds-checked indices, pickle-free tensors), so a malformed or forged report
is rejected rather than believed, and no report field is a verdict. Example::

    job = Job(source, (Call("scaled_dot_product_attention", (Q, K, V)),), Limits(cpu_s=2))
    outcome = pool.run(job)
    outcome.calls[0].outputs[0]       # a tensor, to compare with the reference
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor

from evalkit.sandbox import _wire

__all__ = ["Call", "CallOutcome", "ErrorInfo", "Job", "Limits", "RunOutcome", "Termination", "TracebackFrame"]

FILENAME = "answer.py"
Termination = Literal["exited", "signaled", "cpu_limit", "wall_limit", "memory_limit", "setup_failed"]
HARD_WALL_FACTOR = 3  # wall time that does not count waiting for a CPU is capped at this many times the limit
Scalar = int | float | str | bool | None


@dataclass(frozen=True)
class Limits:
    """Bounds on one sandboxed run. Sizes in bytes.

    ``memory_bytes`` bounds all of the check's processes together where the
    sandbox has cgroups (with the scratch tmpfs on top), and each process's
    address space above the warm zygote's mappings in any case. ``cpu_s`` is
    the CPU time of all the check's processes together (cgroups) and of each
    (rlimit). ``wall_s`` does not count time the code waited for a CPU, up to
    ``HARD_WALL_FACTOR`` times ``wall_s`` of real time.
    """

    cpu_s: float = 5.0
    wall_s: float = 12.0
    memory_bytes: int = 1 << 30
    file_bytes: int = 8 << 20
    scratch_bytes: int = 16 << 20
    scratch_inodes: int = 256
    nproc: int = 16
    nofile: int = 64
    output_bytes: int = 64 << 10
    report_bytes: int = 32 << 20

    @classmethod
    def for_time_limit(cls, seconds: float) -> Limits:
        """CPU time ``seconds``; wall time twice that plus a second (two workers share two cores)."""
        return cls(cpu_s=seconds, wall_s=2 * seconds + 1)

    @property
    def hard_wall_s(self) -> float:
        """The most real time a run may take, however long it waited for a CPU."""
        return HARD_WALL_FACTOR * self.wall_s

    def to_wire(self) -> dict[str, Any]:
        return {**{k: getattr(self, k) for k in self.__dataclass_fields__}, "hard_wall_s": self.hard_wall_s}


@dataclass(frozen=True, eq=False)
class Call:
    """Call ``entry`` in the model's program.

    With ``init`` set, ``entry`` is a class: it is built with ``init`` as
    keywords, given ``state`` with ``load_state_dict(strict=True)``, then
    called on ``args``. ``grad_of`` lists argument positions whose gradients
    to return, for ``sum(output_i * cotangents_i)``.
    """

    entry: str
    args: tuple[Any, ...] = ()
    init: Mapping[str, Scalar] | None = None
    state: Mapping[str, Tensor] | None = None
    grad_of: tuple[int, ...] = ()
    cotangents: tuple[Tensor, ...] = ()


@dataclass(frozen=True, eq=False)
class Job:
    """A program and the calls to make on it."""

    source: str
    calls: tuple[Call, ...]
    limits: Limits = field(default_factory=Limits)

    def encode(self) -> tuple[bytes, bytes]:
        """The control frame (limits) and the job message for the zygote."""
        tensors: list[Tensor] = []

        def ref(t: Tensor) -> int:
            tensors.append(t)
            return len(tensors) - 1

        calls = []
        for call in self.calls:
            args = [{"t": ref(a)} if isinstance(a, Tensor) else {"v": a} for a in call.args]
            state = [[k, ref(v)] for k, v in call.state.items()] if call.state is not None else None
            calls.append(
                {
                    "entry": call.entry,
                    "args": args,
                    "init": dict(call.init) if call.init is not None else None,
                    "state": state,
                    "grad_of": list(call.grad_of),
                    "cotangents": [ref(c) for c in call.cotangents],
                }
            )
        header = {
            "source": self.source,
            "filename": FILENAME,
            "calls": calls,
            "result_bytes": self.limits.report_bytes,
        }
        control = json.dumps({"limits": self.limits.to_wire()}).encode()
        return control, _wire.pack(header, tensors)


@dataclass(frozen=True)
class TracebackFrame:
    """A frame of the model's code in a traceback: line number in the program, function name."""

    line: int
    function: str


@dataclass(frozen=True)
class ErrorInfo:
    """An exception raised by the model's code, as reported by the child."""

    type: str
    message: str
    frames: tuple[TracebackFrame, ...] = ()


@dataclass(frozen=True, eq=False)
class CallOutcome:
    """One call's outputs and gradients (None: the argument got no gradient), or its error."""

    outputs: tuple[Tensor, ...] = ()
    grads: tuple[Tensor | None, ...] = ()
    error: ErrorInfo | None = None


@dataclass(frozen=True, eq=False)
class RunOutcome:
    """How a sandboxed run ended and what it reported (data only; verdicts are the caller's)."""

    termination: Termination
    exit_code: int | None
    signal: str | None
    cpu_s: float
    wall_s: float
    output: str
    output_truncated: bool
    load_error: ErrorInfo | None = None
    calls: tuple[CallOutcome, ...] = ()
    report_problem: str | None = None
    queued_s: float = 0.0  # time spent waiting for a CPU (not counted against the wall-time limit)

    def failure(self, limits: Limits) -> str | None:
        """Why the run as a whole gave no usable report, in words; None if it did."""
        if self.termination == "cpu_limit":
            return f"the code ran out of CPU time (limit {limits.cpu_s:g} s)"
        if self.termination == "wall_limit":
            return f"the code did not finish within {limits.wall_s:g} s of wall time"
        if self.termination == "memory_limit":
            return f"the code ran out of memory (limit {_size(limits.memory_bytes)} for all its processes together)"
        if self.termination == "setup_failed":
            return f"the sandbox could not start the code: {self.output.strip()[-300:]}"
        if self.termination == "signaled":
            hint = (
                " (a crash in native code, such as a bad pointer through ctypes)"
                if self.signal == "SIGSEGV"
                else ""
            )
            return f"the process was killed by {self.signal}{hint}"
        if self.report_problem is not None:
            return self.report_problem
        return None


class _Err(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(max_length=200)
    message: str = Field(max_length=4000)
    frames: list[tuple[int, str]] = Field(max_length=20)


class _CallReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outputs: list[int] = Field(max_length=64)
    grads: list[int | None] = Field(max_length=64)
    error: _Err | None


class _Report(BaseModel):
    model_config = ConfigDict(extra="forbid")
    load_error: _Err | None
    calls: list[_CallReport] = Field(max_length=1024)


def _size(n: int) -> str:
    return f"{n / (1 << 30):g} GiB" if n >= 1 << 30 else f"{n / (1 << 20):g} MiB"


def _error(err: _Err | None) -> ErrorInfo | None:
    if err is None:
        return None
    return ErrorInfo(err.type, err.message, tuple(TracebackFrame(line, fn[:200]) for line, fn in err.frames))


def parse_report(body: bytes, limits: Limits) -> tuple[ErrorInfo | None, tuple[CallOutcome, ...], str | None]:
    """Load error, call outcomes and a problem description (None when the report is sound).

    The report is the sandboxed code's to forge: any failure to decode it, whatever raises, is a
    malformed report (never an exception for the caller, never a verdict).
    """
    if not body:
        return None, (), "the code exited before returning any outputs"
    if len(body) < 8 or struct.unpack(">Q", body[:8])[0] != len(body) - 8:
        return None, (), "the code wrote over its report channel; the report is unusable"
    try:
        header, tensors = _wire.unpack(body[8:], limits.report_bytes)
        report = _Report.model_validate(header)
        load_error = _error(report.load_error)
        calls = tuple(
            CallOutcome(
                tuple(_tensor(tensors, i) for i in c.outputs),
                tuple(None if i is None else _tensor(tensors, i) for i in c.grads),
                _error(c.error),
            )
            for c in report.calls
        )
    except Exception as err:
        lines = str(err).splitlines() or [type(err).__name__]
        return None, (), f"the report is malformed ({lines[0][:200]})"
    return load_error, calls, None


def _tensor(tensors: list[Tensor], i: int) -> Tensor:
    if not 0 <= i < len(tensors):
        raise IndexError(f"the report refers to tensor {i}, which it does not contain")
    return tensors[i]
