"""The HTML report: one self-contained file (inline CSS, MathML, one small inline script).

The jinja2 environment autoescapes everything; model and user text is shown
through the ``markdown`` filter, which returns safe HTML (see
:mod:`evalkit.report.markdown`). The page carries a Content-Security-Policy
that allows no network access at all and only its own script (by hash), so
even a rendering bug could not make the page fetch or run anything else.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from evalkit.report.explain import explanation_html
from evalkit.report.markdown import to_html, to_html_inline

__all__ = ["html_environment", "page_context"]

TEMPLATES = Path(__file__).parent / "templates"

# "Show only parts that needed help": toggles a class that CSS uses to hide the rest.
SCRIPT = """
(function () {
  var box = document.getElementById("only-help");
  if (!box) { return; }
  function apply() { document.body.classList.toggle("only-help", box.checked); }
  box.addEventListener("change", apply);
  apply();
})();
""".strip()


def _csp(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )


def _number(value: float | int | None, spec: str = ",") -> str:
    return "" if value is None else format(value, spec)


def _money(value: float | None) -> str:
    if value is None:
        return ""
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def _clip(text: str, limit: int = 280) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@lru_cache(maxsize=1)
def html_environment() -> jinja2.Environment:
    """The jinja2 environment for ``*.html.j2`` templates (autoescaping)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        markdown=to_html,
        inline_markdown=to_html_inline,
        explanation=explanation_html,
        number=_number,
        money=_money,
        clip=_clip,
    )
    return env


@lru_cache(maxsize=1)
def _css() -> str:
    from pygments.formatters import HtmlFormatter

    base = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    return base + "\n" + str(HtmlFormatter(style="default").get_style_defs(".hl"))


def page_context() -> dict[str, Any]:
    """What every page template needs: the stylesheet, the script and the CSP that allows it."""
    return {"css": Markup(_css()), "script": Markup(SCRIPT), "csp": _csp(SCRIPT)}
