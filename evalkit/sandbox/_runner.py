"""What the sandboxed child runs: load the model's program, make the calls, report data.

Runs inside the sandbox, after isolation, imported by the zygote as a
top-level module (stdlib and torch only). It reports tensors, shapes and
errors — never a verdict: the parent compares the tensors with its own
reference outputs.

Job header (from the parent)::

    {"source": str, "filename": "answer.py", "result_bytes": int,
     "calls": [{"entry": str, "args": [{"t": i} | {"v": literal}], "init": {..} | null,
                "state": [[key, i], ...] | null, "grad_of": [arg positions], "cotangents": [i, ...]}]}

Report header (to the parent)::

    {"load_error": Error | null, "calls": [{"outputs": [i], "grads": [i | null], "error": Error | null}]}
    Error = {"type": str, "message": str, "frames": [[line, function], ...]}   # frames in the model's file
"""

from __future__ import annotations

import builtins
import sys
import traceback
from typing import Any

import _wire
import torch

MAX_MESSAGE_CHARS = 2000
MAX_FRAMES = 12


def describe(err: BaseException, filename: str) -> dict[str, Any]:
    """The exception as data: type, message, and the frames that are in the model's file."""
    frames = [
        [f.lineno or 0, f.name] for f in traceback.extract_tb(err.__traceback__) if f.filename == filename
    ]
    try:
        message = str(err)
    except BaseException:  # a model's exception class can break __str__
        message = "<unprintable>"
    return {
        "type": type(err).__name__[:200],
        "message": message[:MAX_MESSAGE_CHARS],
        "frames": frames[-MAX_FRAMES:],
    }


def _arg(spec: dict[str, Any], tensors: list[torch.Tensor]) -> Any:
    return tensors[spec["t"]].clone() if "t" in spec else spec["v"]


def _outputs(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, tuple | list) and value and all(isinstance(v, torch.Tensor) for v in value):
        return list(value)
    raise TypeError(f"the call returned {type(value).__name__}, not a tensor or a tuple of tensors")


def _call(namespace: dict[str, Any], call: dict[str, Any], tensors: list[torch.Tensor]) -> tuple[list, list]:
    entry = call["entry"]
    if entry not in namespace:
        defined = sorted(k for k, v in namespace.items() if callable(v) and not k.startswith("_"))
        raise NameError(
            f"the code defines no {entry!r} (it defines: {', '.join(defined) or 'nothing callable'})"
        )
    args = [_arg(a, tensors) for a in call["args"]]
    for i in call["grad_of"]:
        args[i] = args[i].requires_grad_(True)
    target = namespace[entry]
    if call["init"] is not None:
        target = target(**call["init"])
        if call["state"] is not None:
            target.load_state_dict({key: tensors[i] for key, i in call["state"]}, strict=True)
    outputs = _outputs(target(*args))
    grads: list[torch.Tensor | None] = []
    if call["grad_of"]:
        cotangents = [tensors[i] for i in call["cotangents"]]
        loss = sum((o * c).sum() for o, c in zip(outputs, cotangents, strict=True))
        if isinstance(loss, torch.Tensor) and loss.requires_grad:
            loss.backward()
        grads = [args[i].grad for i in call["grad_of"]]
    return [o.detach() for o in outputs], grads


def run_job(header: dict[str, Any], tensors: list[torch.Tensor]) -> bytes:
    """Run the job and encode the report (the model's code may have patched anything by then)."""
    filename = header["filename"]
    namespace: dict[str, Any] = {"__name__": "__answer__", "__builtins__": builtins}
    report: dict[str, Any] = {"load_error": None, "calls": []}
    out: list[torch.Tensor] = []
    try:
        exec(compile(header["source"], filename, "exec"), namespace)
    except BaseException as err:
        report["load_error"] = describe(err, filename)
    if report["load_error"] is None:
        for call in header["calls"]:
            entry: dict[str, Any] = {"outputs": [], "grads": [], "error": None}
            report["calls"].append(entry)
            try:
                outputs, grads = _call(namespace, call, tensors)
                size = sum(
                    t.numel() * t.element_size() for t in [*outputs, *(g for g in grads if g is not None)]
                )
                if size > header["result_bytes"]:
                    raise MemoryError(
                        f"the outputs take {size} bytes, over the cap of {header['result_bytes']}"
                    )
                entry["outputs"] = [len(out) + i for i in range(len(outputs))]
                out.extend(outputs)
                entry["grads"] = []
                for g in grads:
                    entry["grads"].append(None if g is None else len(out))
                    if g is not None:
                        out.append(g.detach())
            except BaseException as err:
                entry["error"] = describe(err, filename)
                break
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    return _wire.pack(report, out)
