"""The LaTeX report: a jinja2 environment with TeX-safe delimiters, and the PDF build.

Templates use ``\\BLOCK{...}`` for statements, ``\\VAR{...}`` for values and
``\\#{...}`` for comments, so TeX's own braces and ``%`` need no care. Every
value a template prints is escaped (:func:`~evalkit.report.texescape.escape_text`)
unless it is :class:`Tex`, which only the filters produce: ``markdown``
(model and user text), ``margin_markdown`` (the same, for a margin note)
and ``math``. So text from a model or a user cannot reach TeX unescaped.

The PDF is built by ``latexmk -pdf`` in a temporary directory with shell
escape off, TeX forbidden to open files outside that directory
(``openin_any=p``/``openout_any=p``) and a timeout; a failure raises
:class:`~evalkit.errors.ReportError` with the first error line of the log.
``latexmk`` runs under a small guard process (``_texguard``) that, once evalkit
is done, gives up, or is killed (even by SIGKILL), kills what is left of TeX
and removes the directory, which holds the whole transcript.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from evalkit.errors import EvalkitError, ReportError
from evalkit.report.document import RunReport
from evalkit.report.explain import MAX_EXPLANATION_CHARS, explanation_latex
from evalkit.report.latexmd import code_style_defs, to_latex
from evalkit.report.texescape import escape_text, unicode_declarations
from evalkit.store import write_bytes_atomic

__all__ = ["Tex", "build_pdf", "latex_environment", "render_latex"]

TEMPLATES = Path(__file__).parent / "templates"
PDF_TIMEOUT_S = 180.0
GUARD = Path(__file__).with_name("_texguard.py")


class Tex(str):
    """A string that is already TeX (templates print it as it is)."""


def _finalize(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Tex):
        return value
    return escape_text(str(value))


def _markdown(text: str, lead: str = "") -> Tex:
    """``text`` as TeX; ``lead`` is TeX the template built (a margin note for the text's first line)."""
    return Tex(to_latex(str(text), lead=str(lead)))


def _margin_markdown(text: str) -> Tex:
    return Tex(to_latex(str(text), margin=True))


def _explanation(text: str, limit: int = MAX_EXPLANATION_CHARS) -> Tex:
    return Tex(explanation_latex(str(text), limit))


def _clip(text: str, limit: int = 280) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _margin_lines(turn: Any) -> int:
    """About how many body lines the margin note of a turn's first line, or of a passage, takes (so
    that it is not put at a page's foot, where it would run off the page)."""
    lines = 1 if getattr(turn, "hinted_parts", ()) else 0
    shown = getattr(turn, "shown", None)
    for g in shown[0].gradings if shown else getattr(turn, "gradings", ()):
        lines += 1 + sum(1 + len(note) // 36 for note in g.notes)
        if g.status != "correct" and g.explanation:
            lines += -(-min(len(g.explanation), MAX_EXPLANATION_CHARS) // 48)
    for note in getattr(turn, "notes", ()):
        lines += 1 + len(note) // 36
    return min(lines + 2, 40)


def _number(value: float | int | None, spec: str = ",") -> str:
    if value is None:
        return ""
    return format(value, spec)


def _money(value: float | None) -> str:
    if value is None:
        return ""
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


@lru_cache(maxsize=1)
def latex_environment() -> jinja2.Environment:
    """The jinja2 environment for ``*.tex.j2`` templates."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        block_start_string=r"\BLOCK{",
        block_end_string="}",
        variable_start_string=r"\VAR{",
        variable_end_string="}",
        comment_start_string=r"\#{",
        comment_end_string="}",
        line_statement_prefix=None,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        keep_trailing_newline=True,
    )
    env.filters.update(
        markdown=_markdown,
        margin_markdown=_margin_markdown,
        explanation=_explanation,
        clip=_clip,
        number=_number,
        money=_money,
        margin_lines=_margin_lines,
        tex=lambda s: Tex(s),  # only for strings the template itself builds
    )
    return env


def render_latex(report: RunReport) -> str:
    """The report as a LaTeX document (pdflatex)."""
    template = latex_environment().get_template("report.tex.j2")
    return template.render(
        r=report,
        preamble_code=Tex(code_style_defs()),
        preamble_unicode=Tex(unicode_declarations()),
    )


_ERROR_LINE = re.compile(r"^(?:! .*|.*?:\d+: .*)$", re.MULTILINE)


def _first_error(log: str) -> str:
    match = _ERROR_LINE.search(log)
    return match.group(0).strip() if match else "no error line in the log"


def build_pdf(tex: str, out: Path, timeout_s: float = PDF_TIMEOUT_S) -> Path:
    """Compile ``tex`` with ``latexmk -pdf`` (shell escape off) and write the PDF to ``out`` (atomically)."""
    latexmk = shutil.which("latexmk")
    if latexmk is None:
        raise ReportError("latexmk not found; install TeX Live (latexmk, texlive-latex-extra) to build PDFs")
    out = Path(out)
    try:
        work = Path(tempfile.mkdtemp(prefix="evalkit-tex-"))
    except OSError as err:
        raise ReportError(
            f"cannot make a directory for LaTeX in {tempfile.gettempdir()}: {err.strerror}"
        ) from None
    try:
        (work / "report.tex").write_text(tex, encoding="utf-8")
    except OSError as err:
        shutil.rmtree(work, ignore_errors=True)
        raise ReportError(f"cannot write {work / 'report.tex'}: {err.strerror}") from None
    env = {**os.environ, "openin_any": "p", "openout_any": "p", "shell_escape": "f", "TEXMFOUTPUT": str(work)}
    cmd = [
        latexmk,
        "-pdf",
        "-no-shell-escape",
        "-norc",
        "-interaction=nonstopmode",
        "-halt-on-error",
        "-file-line-error",
        "-quiet",
        "report.tex",
    ]
    try:
        guard = subprocess.Popen(
            [sys.executable, "-I", "-S", str(GUARD), str(work), *cmd], env=env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    except OSError as err:
        shutil.rmtree(work, ignore_errors=True)
        raise ReportError(f"cannot start LaTeX: {err}") from None
    try:
        code = _exit_code(guard, timeout_s)
        if code is None:
            raise ReportError(f"LaTeX did not finish within {timeout_s:g}s; the report was not built")
        return _collect(work, out, code)
    finally:
        assert guard.stdin is not None and guard.stdout is not None
        guard.stdin.close()  # the guard stops TeX and removes the directory
        try:
            guard.wait(timeout=30)
        except subprocess.TimeoutExpired:
            guard.kill()
            guard.wait()
        guard.stdout.close()
        shutil.rmtree(work, ignore_errors=True)


def _exit_code(guard: subprocess.Popen[bytes], timeout_s: float) -> int | None:
    """latexmk's exit code, as the guard prints it; None if it has not ended within ``timeout_s``."""
    assert guard.stdout is not None
    fd, line, deadline = guard.stdout.fileno(), b"", time.monotonic() + timeout_s
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 64)
        if not chunk:
            raise ReportError("the LaTeX run was stopped before it finished; the report was not built")
        line += chunk
    return int(line)


def _collect(work: Path, out: Path, code: int) -> Path:
    """Copy the PDF to ``out``; on failure keep the log and the TeX source beside it and raise."""
    log_path, pdf = work / "report.log", work / "report.pdf"
    try:
        log = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
        output = (work / "latexmk.out").read_text(encoding="utf-8", errors="replace")
        if code == 0 and pdf.exists():
            write_bytes_atomic(out, pdf.read_bytes())
            return out
        kept = out.with_suffix(".log")
        write_bytes_atomic(kept, (log or output).encode("utf-8"))
        write_bytes_atomic(out.with_suffix(".tex"), (work / "report.tex").read_bytes())
    except OSError as err:
        raise ReportError(f"cannot read LaTeX's output in {work}: {err.strerror}") from None
    except EvalkitError as err:
        raise ReportError(str(err)) from None
    raise ReportError(f"LaTeX failed: {_first_error(log or output)} (log: {kept})")
