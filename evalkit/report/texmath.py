"""Model-written TeX math made safe: parse it, keep an allow-list, re-emit it.

Math from a model is untrusted, and TeX math can run any TeX (``\\input``,
``\\write18``, ``\\catcode``, ``^^5c`` ...). So a formula is never passed
through: it is tokenised, parsed into a small tree and written out again
using only allow-listed commands and environments. On the way out,
arguments are completed (``\\frac{a}`` → ``\\frac{a}{}``), braces balanced,
double scripts separated (``a^b^c`` → ``a^b{}^c``), ``\\left``/``\\right``
paired, and ``&``/``\\\\`` kept only where an alignment allows them. Anything
not on the list is shown, not run: ``\\input`` comes out as the glyphs
``\\input``.

Two targets share the parser: ``latex`` (pdflatex with amsmath, amssymb,
mathtools and bm) and ``mathml`` (the dialect :mod:`latex2mathml` reads).

Example::

    sanitize_math(r"\\frac{a}{b} \\input{/etc/passwd}")
    # '\\frac{a}{b}\\backslash\\mathtt{input}{/etc/passwd}'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from evalkit.report.allowlist import (
    DELIM_CHARS,
    DELIM_CMDS,
    DROP,
    DROP_WITH_ARG,
    ENVS,
    ESCAPED_CHARS,
    LARGE_OPS,
    ONE_ARG,
    OPTIONAL,
    SINGLE_OK,
    SIZES,
    STARRED,
    TEXT_CMDS,
    TWO_ARG,
    WITH_COUNT_ARG,
    ZERO_ARG,
)
from evalkit.report.texescape import MATH_UNICODE, escape_text

__all__ = ["MathTooComplex", "sanitize_math"]

Target = Literal["latex", "mathml"]

MAX_MATH_CHARS = 6000
MAX_DEPTH = 40


class MathTooComplex(ValueError):
    """The formula is larger or more deeply nested than the report renders as math."""


# --- tokens ------------------------------------------------------------------------------------------

Token = tuple[str, str]  # ("cmd", name) | ("char", c) | ("space", " ")

_TOKEN = re.compile(r"\\([A-Za-z]+)|\\(.)|\\$|(\s+)|(.)", re.DOTALL)


def _tokenize(src: str) -> list[Token]:
    tokens: list[Token] = []
    for m in _TOKEN.finditer(src):
        word, single, space, char = m.groups()
        if word is not None:
            tokens.append(("cmd", word))
        elif single is not None:
            tokens.append(("cmd", single))
        elif space is not None:
            tokens.append(("space", " "))
        elif char is not None:
            tokens.append(("char", char))
        else:  # a lone trailing backslash
            tokens.append(("char", "\\"))
    return tokens


def _raw(tokens: list[Token]) -> str:
    return "".join("\\" + v if k == "cmd" else v for k, v in tokens)


# --- tree --------------------------------------------------------------------------------------------


@dataclass
class _Atom:
    tex: str  # safe for both targets
    role: str = "ord"  # ord | prime | limits | op


@dataclass
class _Group:
    items: list[_Node] = field(default_factory=list)


@dataclass
class _Cmd:
    name: str
    args: list[_Group]
    opt: _Group | None = None
    star: bool = False


@dataclass
class _Script:
    kind: str  # "^" | "_"
    arg: _Group


@dataclass
class _Sep:
    kind: str  # "&" | "nl"


@dataclass
class _Fence:
    kind: str  # left | right | middle | a size (big, Bigl ...)
    delim: str


@dataclass
class _Env:
    name: str  # canonical
    cols: int
    spec: str
    body: list[_Node]


@dataclass
class _Text:
    cmd: str
    parts: list[str | list[_Node]]  # text runs and nested inline math


_Node = _Atom | _Group | _Cmd | _Script | _Sep | _Fence | _Env | _Text


class _Parser:
    def __init__(self, tokens: list[Token], depth: int = 0) -> None:
        self.toks = tokens
        self.i = 0
        self.depth = depth

    def _peek(self, skip_space: bool = True) -> Token | None:
        j = self.i
        while skip_space and j < len(self.toks) and self.toks[j][0] == "space":
            j += 1
        return self.toks[j] if j < len(self.toks) else None

    def _skip_space(self) -> None:
        while self.i < len(self.toks) and self.toks[self.i][0] == "space":
            self.i += 1

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise MathTooComplex(f"nested deeper than {MAX_DEPTH}")

    def seq(self, stop: str | None = None, env: str | None = None) -> list[_Node]:
        """Nodes up to ``stop`` (``}`` or ``]``), ``\\end{env}``, or the end."""
        self._enter()
        items: list[_Node] = []
        while self.i < len(self.toks):
            kind, val = self.toks[self.i]
            self.i += 1
            if kind == "space":
                continue
            if kind == "char":
                if val == stop:
                    break
                node = self._char(val)
            elif val == "end" and env is not None and self._env_name(peek=True) == env:
                self._env_name()
                break
            else:
                node = self._command(val)
            if node is not None:
                items.append(node)
        self.depth -= 1
        return items

    def _char(self, c: str) -> _Node | None:
        if c == "{":
            return _Group(self.seq("}"))
        if c in "^_":
            return _Script(c, self._argument())
        if c == "&":
            return _Sep("&")
        if c == "'":
            return _Atom("'", "prime")
        if c in ESCAPED_CHARS:  # a stray }, or characters TeX gives a meaning to
            return _Atom(ESCAPED_CHARS[c])
        if c == "\\":
            return _Text("texttt", ["\\"])
        if c == "~":
            return _Atom(r"\ ")
        if ord(c) < 0x80:
            return _Atom(c) if c.isprintable() else None
        if c in MATH_UNICODE:
            return _Atom(MATH_UNICODE[c] + " ")
        return _Text("text", [c])

    def _argument(self) -> _Group:
        self._skip_space()
        tok = self._peek()
        if tok is None:
            return _Group()
        kind, val = tok
        if kind == "char":
            if val in "}]&^_":
                return _Group()
            self.i += 1
            if val == "{":
                return _Group(self.seq("}"))
            node = self._char(val)
            return _Group([node] if node is not None else [])
        if val == "\\" or val in ("end", "begin", "right", "left"):
            return _Group()
        self.i += 1
        node = self._command(val)
        return _Group([node] if node is not None else [])

    def _raw_argument(self) -> str:
        """The characters of the next braced group (or single token), unparsed."""
        self._skip_space()
        tok = self._peek()
        if tok is None:
            return ""
        if tok != ("char", "{"):
            self.i += 1
            return _raw([tok])
        self.i += 1
        start, level = self.i, 1
        while self.i < len(self.toks):
            if self.toks[self.i] == ("char", "{"):
                level += 1
            elif self.toks[self.i] == ("char", "}"):
                level -= 1
                if level == 0:
                    self.i += 1
                    return _raw(self.toks[start : self.i - 1])
            self.i += 1
        return _raw(self.toks[start:])

    def _env_name(self, peek: bool = False) -> str | None:
        j = self.i
        while j < len(self.toks) and self.toks[j][0] == "space":
            j += 1
        if j >= len(self.toks) or self.toks[j] != ("char", "{"):
            return None
        name = ""
        j += 1
        while (
            j < len(self.toks) and self.toks[j][0] == "char" and re.fullmatch(r"[A-Za-z*]", self.toks[j][1])
        ):
            name += self.toks[j][1]
            j += 1
        if j >= len(self.toks) or self.toks[j] != ("char", "}") or not name:
            return None
        if not peek:
            self.i = j + 1
        return name

    def _delimiter(self) -> str | None:
        self._skip_space()
        tok = self._peek()
        if tok is None:
            return None
        kind, val = tok
        if kind == "char" and val in DELIM_CHARS:
            self.i += 1
            return {"<": r"\langle ", ">": r"\rangle "}.get(val, val)
        if kind == "cmd" and val in DELIM_CMDS:
            self.i += 1
            return f"\\{val} " if val.isalpha() else f"\\{val}"
        if kind == "char" and val in ("⟨", "⟩", "‖"):
            self.i += 1
            return MATH_UNICODE[val] + " "
        return None

    def _command(self, name: str) -> _Node | None:
        if name == "\\" or name in ("cr", "newline"):
            return _Sep("nl")
        if name in SINGLE_OK:
            return _Atom(SINGLE_OK[name])
        if name in ESCAPED_CHARS:
            return _Atom(ESCAPED_CHARS[name])
        if name == "begin":
            return self._environment()
        if name in ZERO_ARG:
            return _Atom(f"\\{name} ", "op" if name in LARGE_OPS else "ord")
        if name in ("limits", "nolimits"):
            return _Atom(f"\\{name} ", "limits")
        star = False
        if name in STARRED and self._peek(skip_space=False) == ("char", "*"):
            self.i += 1
            star = True
        if name in ONE_ARG or name in TWO_ARG:
            opt = None
            if name in OPTIONAL and self._peek() == ("char", "["):
                self._skip_space()
                self.i += 1
                opt = _Group(self.seq("]"))
            args = [self._argument() for _ in range(2 if name in TWO_ARG else 1)]
            return _Cmd(name, args, opt, star)
        if name in TEXT_CMDS:
            return self._text(name, self._raw_argument())
        if name in DROP_WITH_ARG:
            self._raw_argument()
            return None
        if name in DROP:
            return None
        if name in ("left", "right", "middle") or name in SIZES:
            delim = self._delimiter()
            return _Fence(name, delim) if delim is not None else None
        # not on the list: show the command's name, run nothing
        return _Text("texttt", ["\\" + name])

    def _environment(self) -> _Node | None:
        name = self._env_name()
        if name is None or name not in ENVS:
            return _Text("texttt", ["\\begin" + (f"{{{name}}}" if name else "")])
        canonical, cols = ENVS[name]
        spec = ""
        if name == "array":
            spec = re.sub(r"[^lcr|]", "", self._raw_argument())
        elif name in WITH_COUNT_ARG:
            self._raw_argument()
        canonical = canonical or name
        return _Env(canonical, cols, spec, self.seq(env=name))

    def _text(self, cmd: str, raw: str) -> _Text:
        parts: list[str | list[_Node]] = []
        for i, piece in enumerate(re.split(r"(?<!\\)\$", raw)):
            if i % 2 == 1 and piece:
                sub = _Parser(_tokenize(piece), self.depth + 1)
                parts.append(sub.seq())
            elif piece:
                parts.append(_text_unescape(piece))
        return _Text(cmd, parts)


def _text_unescape(raw: str) -> str:
    """Text-mode TeX to the characters it means (``\\%`` → ``%``); other commands stay visible."""
    raw = re.sub(r"\\([%&#_${}])", r"\1", raw)
    raw = re.sub(r"\\[,;: ]|~", " ", raw)
    return raw.replace("{", "").replace("}", "")


# --- emitting ----------------------------------------------------------------------------------------


class _Emitter:
    def __init__(self, target: Target) -> None:
        self.target = target

    def seq(self, items: list[_Node], align_cols: int = 0) -> str:
        """Emit ``items``; ``align_cols`` > 0 inside an alignment (``&`` and ``\\\\`` allowed)."""
        plain = self._unpaired_fences(items)
        out: list[str] = []
        scripts: set[str] = set()
        col = 1
        prev: _Node | None = None
        for node in items:
            if isinstance(node, _Script):
                if node.kind in scripts:
                    out.append("{}")
                    scripts = set()
                scripts.add(node.kind)
                out.append(f"{node.kind}{{{self.seq(node.arg.items)}}}")
            elif isinstance(node, _Atom) and node.role == "prime":
                if "^" in scripts and not (isinstance(prev, _Atom) and prev.role == "prime"):
                    out.append("{}")
                    scripts = set()
                scripts.add("^")
                out.append("'")
            elif isinstance(node, _Atom) and node.role == "limits":
                if _is_large_op(prev):
                    out.append(node.tex)
                continue  # keeps prev: the scripts that follow belong to the operator
            elif isinstance(node, _Sep):
                scripts = set()
                if align_cols and node.kind == "nl":
                    out.append(r"\\ ")
                    col = 1
                elif align_cols and col < align_cols:
                    out.append("&")
                    col += 1
                else:
                    out.append(r"\& " if node.kind == "&" else r"\quad ")
            else:
                scripts = set()
                out.append(self.node(node, id(node) in plain))
            prev = node
        return "".join(out)

    def node(self, node: _Node, plain_fence: bool = False) -> str:
        if isinstance(node, _Atom):
            return node.tex
        if isinstance(node, _Group):
            return "{" + self.seq(node.items) + "}"
        if isinstance(node, _Cmd):
            star = "*" if node.star else ""
            opt = f"[{self.seq(node.opt.items)}]" if node.opt is not None else ""
            args = "".join("{" + self.seq(a.items) + "}" for a in node.args)
            return f"\\{node.name}{star}{opt}{args}"
        if isinstance(node, _Fence):
            if plain_fence:
                return "" if node.delim == "." else node.delim
            return f"\\{node.kind}{node.delim}"
        if isinstance(node, _Env):
            return self.env(node)
        if isinstance(node, _Text):
            return self.text(node)
        raise TypeError(type(node).__name__)  # pragma: no cover

    def env(self, env: _Env) -> str:
        if env.name == "group":
            return "{" + self.seq(_without_seps(env.body)) + "}"
        rows = _split_rows(env.body)
        width = max((sum(1 for n in r if isinstance(n, _Sep)) + 1 for r in rows), default=1)
        cols = env.cols
        spec = env.spec
        if env.name == "array":
            spec = (spec or "c") + "c" * max(0, width - len(spec.replace("|", "")))
            cols = min(50, len(spec.replace("|", "")))
        name, arg = env.name, f"{{{spec}}}" if env.name == "array" else ""
        if self.target == "mathml":
            if name == "aligned":
                name = "align*"
            elif name == "gathered":
                name, arg = "array", "{c}"
        body = self.seq(env.body, align_cols=cols)
        return f"\\begin{{{name}}}{arg}{body}\\end{{{name}}}"

    def text(self, node: _Text) -> str:
        out = []
        for part in node.parts:
            if isinstance(part, str) and self.target == "mathml":
                cmd = "textbf" if node.cmd == "textbf" else "texttt" if node.cmd == "texttt" else "text"
                out.append(f"\\{cmd}{{{_mathml_text(part)}}}")
            elif isinstance(part, str):
                out.append(escape_text(part))
            elif self.target == "mathml":
                out.append(self.seq(part))
            else:
                out.append("$" + self.seq(part) + "$")
        if self.target == "mathml":
            return "".join(out)
        cmd = {"textbf": "textbf", "textit": "textit", "texttt": "texttt", "emph": "textit"}.get(
            node.cmd, "text"
        )
        return f"\\{cmd}{{{''.join(out)}}}"

    @staticmethod
    def _unpaired_fences(items: list[_Node]) -> set[int]:
        """ids of \\left/\\middle/\\right that have no partner in the same cell (emitted as plain delimiters)."""
        plain: set[int] = set()
        stack: list[_Fence] = []
        middles: list[_Fence] = []

        def flush() -> None:
            plain.update(id(f) for f in stack)
            plain.update(id(f) for f in middles)
            stack.clear()
            middles.clear()

        for node in items:
            if isinstance(node, _Sep):
                flush()
            elif isinstance(node, _Fence):
                if node.kind == "left":
                    stack.append(node)
                elif node.kind == "right":
                    if stack:
                        stack.pop()
                        if not stack:
                            middles.clear()
                    else:
                        plain.add(id(node))
                elif node.kind == "middle":
                    if stack:
                        middles.append(node)
                    else:
                        plain.add(id(node))
        flush()
        return plain


# private-use placeholders for characters latex2mathml copies into its XML unescaped
MATHML_LT, MATHML_GT, MATHML_AMP, MATHML_BACKSLASH = "\ue000", "\ue001", "\ue002", "\ue003"


def _mathml_text(text: str) -> str:
    return (
        text.replace("&", MATHML_AMP)
        .replace("<", MATHML_LT)
        .replace(">", MATHML_GT)
        .replace("\\", MATHML_BACKSLASH)
        .replace("{", "(")
        .replace("}", ")")
        .replace("$", "")
    )


def _is_large_op(node: _Node | None) -> bool:
    if isinstance(node, _Atom):
        return node.role == "op"
    return isinstance(node, _Cmd) and node.name == "operatorname"


def _split_rows(items: list[_Node]) -> list[list[_Node]]:
    rows: list[list[_Node]] = [[]]
    for node in items:
        if isinstance(node, _Sep) and node.kind == "nl":
            rows.append([])
        else:
            rows[-1].append(node)
    return rows


def _without_seps(items: list[_Node]) -> list[_Node]:
    return [n for n in items if not isinstance(n, _Sep)]


def sanitize_math(src: str, target: Target = "latex") -> str:
    """``src`` (the inside of ``$...$``) re-emitted with allow-listed TeX only.

    Raises :class:`MathTooComplex` for formulas longer than ``MAX_MATH_CHARS``
    or nested deeper than ``MAX_DEPTH``; callers show those as text.
    """
    if len(src) > MAX_MATH_CHARS:
        raise MathTooComplex(f"longer than {MAX_MATH_CHARS} characters")
    items = _Parser(_tokenize(src)).seq()
    if any(isinstance(n, _Sep) for n in items):  # top-level & or \\: an alignment was meant
        items = [_Env("aligned", 50, "", items)]
    return _Emitter(target).seq(items).strip()
