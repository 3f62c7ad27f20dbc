"""TeX math to MathML for the HTML report, rendered when the report is written (no script at view time).

The formula is first re-emitted by :func:`~evalkit.report.texmath.sanitize_math`,
then converted with :mod:`latex2mathml`, and the result is parsed as XML and
written out again keeping only MathML elements and presentation attributes
(latex2mathml copies ``\\href`` targets and ``\\text`` contents into its
output as they are). A formula that cannot be converted comes back as
``None``; the caller shows its source as text.

Example::

    to_mathml(r"\\frac{1}{\\sqrt{d}}")   # '<math display="inline"><mfrac>...</mfrac></math>'
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET

from evalkit.report.texmath import (
    MATHML_AMP,
    MATHML_BACKSLASH,
    MATHML_GT,
    MATHML_LT,
    MathTooComplex,
    sanitize_math,
)

__all__ = ["to_mathml"]

_NS = "{http://www.w3.org/1998/Math/MathML}"
_ELEMENTS = set(
    "math mrow mi mn mo ms mtext mspace msub msup msubsup mfrac msqrt mroot mover munder munderover "
    "mtable mtr mtd mstyle mpadded mphantom menclose merror mmultiscripts mprescripts none".split()
)
_ATTRIBUTES = set(
    "display mathvariant stretchy fence form separator lspace rspace width height depth voffset "
    "linebreak columnalign rowalign columnspacing rowspacing columnlines rowlines frame displaystyle "
    "scriptlevel notation accent accentunder movablelimits minsize maxsize symmetric largeop "
    "linethickness mathsize".split()
)
_PLACEHOLDERS = str.maketrans({MATHML_LT: "<", MATHML_GT: ">", MATHML_AMP: "&", MATHML_BACKSLASH: "\\"})
MAX_MATHML_CHARS = 200_000


class _Rejected(ValueError):
    pass


def _text(value: str | None) -> str:
    return html.escape((value or "").translate(_PLACEHOLDERS), quote=False)


def _write(elem: ET.Element, out: list[str]) -> None:
    tag = elem.tag.removeprefix(_NS) if isinstance(elem.tag, str) else ""
    if tag not in _ELEMENTS:
        raise _Rejected(tag)
    attrs = {k: v for k, v in elem.attrib.items() if k in _ATTRIBUTES}
    if tag == "menclose":  # not in MathML Core: draw \boxed with CSS instead
        tag, attrs = "mrow", {"class": "boxed"}
    if tag == "math":
        attrs = {"display": attrs.get("display", "inline")}
    rendered = "".join(f' {k}="{html.escape(v, quote=True)}"' for k, v in sorted(attrs.items()))
    out.append(f"<{tag}{rendered}>")
    out.append(_text(elem.text))
    for child in elem:
        _write(child, out)
        out.append(_text(child.tail))
    out.append(f"</{tag}>")


def to_mathml(tex: str, display: bool = False) -> str | None:
    """MathML for the TeX formula ``tex`` (without its ``$`` delimiters), or None if it cannot be shown."""
    from latex2mathml.converter import convert

    try:
        safe = sanitize_math(tex, "mathml")
        markup = convert(safe, display="block" if display else "inline")
    except MathTooComplex:
        return None
    except Exception:  # latex2mathml raises many kinds of errors for input it cannot read
        return None
    if len(markup) > MAX_MATHML_CHARS:
        return None
    try:
        root = ET.fromstring(markup)
        out: list[str] = []
        _write(root, out)
    except (ET.ParseError, _Rejected):
        return None
    return "".join(out)
