"""Write a small PDF write-up (text only, one page per turn) for the transcript tests.

Usage: python scripts/make_pdf_writeup.py OUT.pdf

The PDF is built by hand (Helvetica text objects, a cross-reference table), so
it needs nothing but the standard library; ``pdftotext`` reads it back the way
it reads a write-up printed to PDF.
"""

from __future__ import annotations

import sys
from pathlib import Path

TURNS = [
    ("User", ["Hi! Please walk me through my homework, one question at a time."]),
    ("Claude", ["Happy to help, one question at a time."]),
    ("User", ["Let's do question 1. Answer each part: (a) 2 + 2, (b) 3 * 5, (c) the capital of France."]),
    ("Claude", ["**Part (a)** $\\boxed{5}$", "", "**Part (b)** 3 x 5 = 15", "", "**Part (c)** `Paris`"]),
    ("User", ["Count again: two plus two."]),
    ("Claude", ["You're right, it's $\\boxed{4}$."]),
]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _page(lines: list[str]) -> bytes:
    ops = ["BT", "/F1 11 Tf", "14 TL", "72 740 Td"]
    for line in lines:
        ops.append(f"({_escape(line)}) Tj T*")
    ops.append("ET")
    return "\n".join(ops).encode("latin-1")


def build(turns: list[tuple[str, list[str]]]) -> bytes:
    """A PDF with the turns two to a page: the role on its own line, then the text."""
    pages = [turns[i : i + 2] for i in range(0, len(turns), 2)]
    objects: list[bytes] = []
    n_pages = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    for i, page in enumerate(pages):
        lines: list[str] = []
        for role, text in page:
            lines += [role, *text, ""]
        stream = _page(lines)
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


if __name__ == "__main__":
    Path(sys.argv[1]).write_bytes(build(TURNS))
