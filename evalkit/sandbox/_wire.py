"""Framing and a pickle-free tensor codec, shared by the parent, the zygote and the child.

Imported by the zygote as a top-level module (it must not import evalkit), so
it depends on the standard library and torch only.

A *message* is ``MAGIC | u32 header length | JSON header | tensor bytes``; the
header's ``"tensors"`` table gives each tensor's dtype, shape and byte count,
in order. Decoding checks every count against the data and the caps, and
never unpickles: data from the sandbox can at worst be rejected.

A *frame* (the child's report on its pipe) is ``u64 length | payload``.
"""

from __future__ import annotations

import json
import os
import struct
from math import prod
from typing import Any

import torch

MAGIC = b"EVK1"
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
MAX_HEADER_BYTES = 4 << 20
MAX_TENSORS = 4096
MAX_DIMS = 8
MAX_ELEMENTS = (
    1 << 40
)  # of a tensor's shape with its zero sizes read as 1: bounds what torch is asked to build

DTYPES: dict[str, torch.dtype] = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "int32": torch.int32,
    "int64": torch.int64,
    "bool": torch.bool,
    "uint8": torch.uint8,
}
_NAMES = {v: k for k, v in DTYPES.items()}


class WireError(ValueError):
    """A message or frame is malformed, or larger than its cap."""


def pack(header: dict[str, Any], tensors: list[torch.Tensor]) -> bytes:
    """Encode ``header`` (JSON-able, without a ``"tensors"`` key) and ``tensors``."""
    table = []
    blobs = []
    for t in tensors:
        if t.dtype not in _NAMES:
            raise WireError(f"dtype {t.dtype} cannot be sent")
        t = t.detach().cpu().contiguous()
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        table.append({"dtype": _NAMES[t.dtype], "shape": list(t.shape), "nbytes": len(data)})
        blobs.append(data)
    head = json.dumps({**header, "tensors": table}, separators=(",", ":")).encode()
    return b"".join([MAGIC, _U32.pack(len(head)), head, *blobs])


def unpack(data: bytes, max_bytes: int) -> tuple[dict[str, Any], list[torch.Tensor]]:
    """Decode a message of at most ``max_bytes``; WireError if anything does not add up."""
    if len(data) > max_bytes:
        raise WireError(f"message of {len(data)} bytes exceeds the cap of {max_bytes}")
    if len(data) < 8 or data[:4] != MAGIC:
        raise WireError("not an evalkit message")
    (head_len,) = _U32.unpack_from(data, 4)
    if head_len > MAX_HEADER_BYTES or 8 + head_len > len(data):
        raise WireError("header length out of range")
    try:
        header = json.loads(data[8 : 8 + head_len])
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WireError(f"header is not JSON: {err}") from None
    if not isinstance(header, dict) or not isinstance(header.get("tensors"), list):
        raise WireError("header has no tensor table")
    table = header.pop("tensors")
    if len(table) > MAX_TENSORS:
        raise WireError(f"{len(table)} tensors exceed the cap of {MAX_TENSORS}")
    offset = 8 + head_len
    tensors = []
    for entry in table:
        tensors.append(_tensor(entry, data, offset))
        offset += entry["nbytes"]
    if offset != len(data):
        raise WireError(f"{len(data) - offset} trailing bytes after the tensors")
    return header, tensors


def _tensor(entry: Any, data: bytes, offset: int) -> torch.Tensor:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "nbytes"}:
        raise WireError("malformed tensor entry")
    dtype = DTYPES.get(entry["dtype"]) if isinstance(entry["dtype"], str) else None
    shape, nbytes = entry["shape"], entry["nbytes"]
    if dtype is None:
        raise WireError(f"unknown dtype {entry['dtype']!r}")
    if not (
        isinstance(shape, list) and len(shape) <= MAX_DIMS and all(type(s) is int and s >= 0 for s in shape)
    ):
        raise WireError(f"bad shape {shape!r}")
    if prod(max(s, 1) for s in shape) > MAX_ELEMENTS:
        raise WireError(f"shape {shape} is too large")
    if type(nbytes) is not int or nbytes != prod(shape) * torch.empty((), dtype=dtype).element_size():
        raise WireError(f"byte count {nbytes!r} does not match shape {shape} and dtype {entry['dtype']}")
    if offset + nbytes > len(data):
        raise WireError("tensor data is truncated")
    if nbytes == 0:
        return torch.empty(shape, dtype=dtype)
    raw = torch.frombuffer(bytearray(data[offset : offset + nbytes]), dtype=torch.uint8)
    return raw.view(dtype).reshape(shape)


def write_frame(fd: int, payload: bytes) -> None:
    """Write ``payload`` with its length prefix, all of it."""
    view = memoryview(_U64.pack(len(payload)) + payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]
