"""Reference attention modules in torch: the ground truth that code checks compare against.

Nothing here ever runs inside the sandbox: the parent computes reference
outputs itself, and the sandbox's filesystem does not contain this package.

* :mod:`~evalkit.reference.attention` — scaled dot-product and argmax attention;
* :mod:`~evalkit.reference.mha` — the homework's ``MultiHeadAttention`` and its wide-values variant;
* :mod:`~evalkit.reference.decoding` — multi-head and multi-query decoding steps;
* :mod:`~evalkit.reference.linear` — kernelized linear attention and softmax attention;
* :mod:`~evalkit.reference.skeletons` — the homework code with blanks;
* :mod:`~evalkit.reference.patch` — applying a model's code fragments to a skeleton.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evalkit.reference.registry import Reference, get_reference, reference_names
    from evalkit.reference.skeletons import (
        BlankError,
        Skeleton,
        fill_blanks,
        find_blanks,
        get_skeleton,
        skeleton_names,
    )

__all__ = [
    "BlankError",
    "Reference",
    "Skeleton",
    "fill_blanks",
    "find_blanks",
    "get_reference",
    "get_skeleton",
    "reference_names",
    "skeleton_names",
]

# the skeletons need no torch: a submodule such as evalkit.reference.skeletons or .files is imported
# without the registry (and torch) until a reference is asked for
_HOMES = {
    "Reference": "registry",
    "get_reference": "registry",
    "reference_names": "registry",
    "BlankError": "skeletons",
    "Skeleton": "skeletons",
    "fill_blanks": "skeletons",
    "find_blanks": "skeletons",
    "get_skeleton": "skeletons",
    "skeleton_names": "skeletons",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
