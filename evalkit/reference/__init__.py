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

from evalkit.reference.registry import (
    Reference,
    get_reference,
    get_skeleton,
    reference_names,
    skeleton_names,
)
from evalkit.reference.skeletons import BlankError, Skeleton, fill_blanks, find_blanks

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
