"""Reading a child's report: whatever the bytes, a report is sound or malformed, never an exception."""

from __future__ import annotations

import json
import random
import struct

import pytest
import torch

from evalkit.sandbox import Limits
from evalkit.sandbox.jobs import parse_report

HONEST = {"load_error": None, "calls": [{"outputs": [0], "grads": [None], "error": None}]}


def _report(header: dict, blobs: bytes = b"") -> bytes:
    head = json.dumps(header).encode()
    message = b"EVK1" + struct.pack(">I", len(head)) + head + blobs
    return struct.pack(">Q", len(message)) + message


def _honest() -> bytes:
    table = [{"dtype": "float32", "shape": [2, 3], "nbytes": 24}]
    return _report({**HONEST, "tensors": table}, torch.arange(6.0).numpy().tobytes())


def test_a_sound_report_is_read() -> None:
    load_error, calls, problem = parse_report(_honest(), Limits())
    assert problem is None and load_error is None
    assert calls[0].outputs[0].tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]] and calls[0].grads == (None,)


@pytest.mark.parametrize(
    "table",
    [
        [{"dtype": "float32", "shape": [0, 2**62, 2**62], "nbytes": 0}],  # torch cannot build it
        [{"dtype": "float32", "shape": [0, 2**31, 2**31, 2**31], "nbytes": 0}],
        [{"dtype": "float64", "shape": [2**63, 0], "nbytes": 0}],
    ],
)
def test_an_impossible_tensor_is_a_malformed_report(table: list) -> None:
    assert parse_report(_report({**HONEST, "tensors": table}), Limits())[2] == (
        f"the report is malformed (shape {table[0]['shape']} is too large)"
    )


def test_no_damage_to_a_report_raises() -> None:
    """Thousands of byte flips, truncations and JSON edits: each is read as sound or as malformed."""
    rng = random.Random(13)
    honest = _honest()
    head_end = 20 + struct.unpack(">I", honest[12:16])[0]
    values = [None, 0, -1, 2**62, -(2**63), 1e308, float("nan"), "x", [], {}, [0, 2**62, 2**62], [-1], True]
    problems = set()
    for _ in range(3000):
        data = bytearray(honest)
        kind = rng.randrange(3)
        if kind == 0:
            for _ in range(rng.randrange(1, 4)):
                data[rng.randrange(8, head_end)] = rng.randrange(256)
        elif kind == 1:
            data = data[: rng.randrange(len(data))]
        else:
            header = json.loads(
                json.dumps({**HONEST, "tensors": [{"dtype": "float32", "shape": [2, 3], "nbytes": 24}]})
            )
            targets = [header, header["calls"][0], header["tensors"][0]]
            for _ in range(rng.randrange(1, 4)):
                target = rng.choice(targets)
                target[rng.choice(sorted(target))] = rng.choice(values)
            data = bytearray(_report(header, bytes(data[head_end:])))
        _, _, problem = parse_report(bytes(data), Limits())
        if problem is not None:
            problems.add(problem.split(" (")[0])
    assert "the report is malformed" in problems
