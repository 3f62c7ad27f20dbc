"""Pull per-part answers out of a model's prose reply.

``split_parts`` cuts a reply into the sections that answer each part, by
headings such as ``Part (a)``, ``### (b)(ii)`` or ``**Blank (d)**``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["split_parts"]


def _label_regex(label: str) -> str:
    pieces = [re.escape(p) for p in label.split(".")]
    return r"\s*".join(rf"\(\s*{p}\s*\)" for p in pieces)


def split_parts(reply: str, labels: Sequence[str]) -> dict[str, str]:
    """Map each part label (``a``, ``b.ii``) to the section of ``reply`` that answers it.

    Labels with no heading in the reply are absent from the result.
    """
    starts: list[tuple[int, str]] = []
    for label in labels:
        pattern = re.compile(
            rf"^[ \t>#*_]*(?:part|blank|question)?\s*{_label_regex(label)}(?![\s(]*\()",
            re.IGNORECASE | re.MULTILINE,
        )
        match = pattern.search(reply)
        if match:
            starts.append((match.start(), label))
    starts.sort()
    sections: dict[str, str] = {}
    for i, (start, label) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(reply)
        sections[label] = reply[start:end].strip()
    return sections
