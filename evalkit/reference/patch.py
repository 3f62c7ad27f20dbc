"""Apply a model's code fragments to homework code by name, the way a grader reads a diff.

Rules, applied fragment by fragment in order (later fragments win):

* a whole ``def`` (or ``class``) replaces its namesake — a method named like
  the fragment's function if its first parameter is ``self``/``cls``, else a
  top-level function; with no namesake it is added (to the only class, for a
  method);
* a ``def`` whose body is elided with ``...`` is not applied whole: its
  signature is taken, and each statement it does show is applied inside that
  function — an assignment replaces the one with the same target, a
  ``return`` replaces the final return, a statement already present anchors
  the position, and a new one is inserted after the last anchor (or at the
  end, when it follows ``...``);
* a standalone assignment such as ``self.W_o = nn.Linear(2 * d_model, d_model)``
  replaces the assignment with the same target; if several functions have
  one, the one whose scope defines every name the statement uses and whose
  old text is most similar wins; a statement that uses names undefined there
  (``output = x + attention(x)`` in a prose example) is an illustration and
  is skipped;
* imports are added once; anything else (calls, prints, loops) is skipped.

Every decision is recorded as a :class:`PatchNote`, so a report can say what
was applied. Example::

    patched = apply_fragments(MHA_WIDE_V_START, ["self.W_o = nn.Linear(2 * d_model, d_model)"])
    patched.source     # the class with W_o replaced
"""

from __future__ import annotations

import ast
import builtins
import difflib
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

__all__ = ["PatchNote", "Patched", "apply_fragments", "assemble_program"]

_BUILTINS = frozenset(dir(builtins))
_Def = ast.FunctionDef | ast.AsyncFunctionDef
_AssignLike = ast.Assign | ast.AugAssign | ast.AnnAssign
MAX_NOTE_CHARS = 120


@dataclass(frozen=True)
class PatchNote:
    """What happened to one statement of one fragment (fragments are numbered from 1)."""

    fragment: int
    applied: bool
    what: str

    def __str__(self) -> str:
        return f"fragment {self.fragment}: {self.what}"


@dataclass(frozen=True)
class Patched:
    """The patched program's source, and a note per statement of the fragments."""

    source: str
    notes: tuple[PatchNote, ...]

    @property
    def applied(self) -> tuple[PatchNote, ...]:
        return tuple(n for n in self.notes if n.applied)

    @property
    def skipped(self) -> tuple[PatchNote, ...]:
        return tuple(n for n in self.notes if not n.applied)


def _short(node: ast.AST) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= MAX_NOTE_CHARS else text[: MAX_NOTE_CHARS - 3] + "..."


def _parse_fragment(text: str) -> ast.Module | str:
    """The fragment's AST, or the syntax error message."""
    for candidate in (text, textwrap.dedent(text)):
        try:
            return ast.parse(candidate)
        except SyntaxError as err:
            message = f"line {err.lineno}: {err.msg}"
    return message


def _is_ellipsis(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and stmt.value.value is Ellipsis
    )


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _is_elided(body: Sequence[ast.stmt]) -> bool:
    return any(_is_ellipsis(s) for s in body)


def _target_key(stmt: ast.stmt) -> str | None:
    if isinstance(stmt, ast.Assign):
        return " = ".join(ast.unparse(t) for t in stmt.targets)
    if isinstance(stmt, ast.AugAssign | ast.AnnAssign):
        return ast.unparse(stmt.target)
    return None


def _is_method(fn: _Def) -> bool:
    args = fn.args.posonlyargs + fn.args.args
    return bool(args) and args[0].arg in ("self", "cls")


@dataclass
class _Site:
    """Where a statement lives: the list holding it, its index, and its enclosing function and class."""

    body: list[ast.stmt]
    index: int
    function: _Def | None
    owner: ast.ClassDef | None

    @property
    def where(self) -> str:
        if self.function is None:
            return "the module"
        return f"{self.owner.name}.{self.function.name}" if self.owner else self.function.name


def _functions(module: ast.Module) -> Iterator[tuple[_Def, ast.ClassDef | None, list[ast.stmt], int]]:
    for i, node in enumerate(module.body):
        if isinstance(node, _Def):
            yield node, None, module.body, i
        elif isinstance(node, ast.ClassDef):
            for j, member in enumerate(node.body):
                if isinstance(member, _Def):
                    yield member, node, node.body, j


def _statement_sites(body: list[ast.stmt]) -> Iterator[tuple[list[ast.stmt], int]]:
    """Every statement under ``body`` (into if/for/while/with/try, not into nested defs)."""
    for i, stmt in enumerate(body):
        yield body, i
        if isinstance(stmt, _Def | ast.ClassDef):
            continue
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list):
                yield from _statement_sites(inner)
        for handler in getattr(stmt, "handlers", []):
            yield from _statement_sites(handler.body)


def _bound_names(node: ast.AST) -> set[str]:
    """Names bound anywhere under ``node``: parameters, assignment and loop targets, imports, defs."""
    names: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            names.add(sub.id)
        elif isinstance(sub, ast.arg):
            names.add(sub.arg)
        elif isinstance(sub, _Def | ast.ClassDef):
            names.add(sub.name)
        elif isinstance(sub, ast.alias):
            names.add((sub.asname or sub.name).split(".")[0])
        elif isinstance(sub, ast.ExceptHandler) and sub.name:
            names.add(sub.name)
    return names


def _module_names(module: ast.Module) -> set[str]:
    names: set[str] = set()
    for stmt in module.body:
        if isinstance(stmt, _Def | ast.ClassDef):
            names.add(stmt.name)
        elif isinstance(stmt, ast.Import | ast.ImportFrom | ast.Assign | ast.AnnAssign | ast.AugAssign):
            names |= _bound_names(stmt)
    return names


def _free_names(stmt: ast.stmt) -> set[str]:
    """Names ``stmt`` reads but does not bind itself (comprehension variables excluded)."""
    loads = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    local = set()
    for sub in ast.walk(stmt):
        if isinstance(sub, ast.comprehension | ast.Lambda):
            local |= _bound_names(sub)
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
        loads.add(stmt.target.id)
    return loads - local


class _Patcher:
    """Applies fragments to one module; ``program`` mode keeps plausible top-level assignments too."""

    def __init__(self, base: str, program: bool) -> None:
        self.module = ast.parse(base)
        self.program = program
        self.notes: list[PatchNote] = []
        self.fragment = 0

    def note(self, applied: bool, what: str) -> None:
        self.notes.append(PatchNote(self.fragment, applied, what))

    def apply(self, text: str) -> None:
        self.fragment += 1
        tree = _parse_fragment(text)
        if isinstance(tree, str):
            self.note(False, f"not Python ({tree}); not applied")
            return
        for stmt in tree.body:
            self.apply_top(stmt)

    def apply_top(self, stmt: ast.stmt) -> None:
        if _is_ellipsis(stmt) or _is_docstring(stmt):
            return
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            self.add_import(stmt)
        elif isinstance(stmt, ast.ClassDef):
            self.apply_class(stmt)
        elif isinstance(stmt, _Def):
            self.apply_def(stmt)
        elif isinstance(stmt, _AssignLike):
            self.apply_assignment(stmt)
        else:
            self.note(False, f"`{_short(stmt)}` is not a definition or an assignment; not applied")

    def add_import(self, stmt: ast.Import | ast.ImportFrom) -> None:
        existing = [i for i, s in enumerate(self.module.body) if isinstance(s, ast.Import | ast.ImportFrom)]
        if any(ast.unparse(self.module.body[i]) == ast.unparse(stmt) for i in existing):
            return
        self.module.body.insert(existing[-1] + 1 if existing else 0, stmt)
        self.note(True, f"added `{_short(stmt)}`")

    def apply_class(self, cls: ast.ClassDef) -> None:
        for i, node in enumerate(self.module.body):
            if isinstance(node, ast.ClassDef) and node.name == cls.name:
                if not _is_elided(cls.body):
                    self.module.body[i] = cls
                    self.note(True, f"replaced class {cls.name}")
                    return
                for member in cls.body:
                    if isinstance(member, _Def):
                        self.apply_def(member, owner=node)
                    elif not (_is_ellipsis(member) or _is_docstring(member)):
                        self.note(False, f"`{_short(member)}` in class {cls.name}: only methods are merged")
                return
        self.module.body.append(cls)
        self.note(True, f"added class {cls.name}")

    def _namesakes(self, fn: _Def, owner: ast.ClassDef | None) -> list[_Site]:
        sites = [
            _Site(body, i, node, cls)
            for node, cls, body, i in _functions(self.module)
            if node.name == fn.name and (owner is None or cls is owner)
        ]
        method = _is_method(fn)
        return sorted(sites, key=lambda s: (s.owner is None) == method)  # preferred kind first

    def apply_def(self, fn: _Def, owner: ast.ClassDef | None = None) -> None:
        sites = self._namesakes(fn, owner)
        if not sites:
            self.add_def(fn, owner)
            return
        site = sites[0]
        target = site.body[site.index]
        assert isinstance(target, _Def)
        if not _is_elided(fn.body):
            site.body[site.index] = fn
            self.note(True, f"replaced {site.where}")
            return
        if ast.unparse(fn.args) != ast.unparse(target.args):
            target.args = fn.args
            self.note(True, f"in {site.where}: signature is now ({ast.unparse(fn.args)})")
        self.merge(target, fn, site.where)

    def add_def(self, fn: _Def, owner: ast.ClassDef | None) -> None:
        if _is_elided(fn.body):
            self.note(False, f"{fn.name} is elided with `...` and has no namesake to merge into; not applied")
            return
        classes = [c for c in self.module.body if isinstance(c, ast.ClassDef)]
        if owner is None and _is_method(fn) and len(classes) == 1:
            owner = classes[0]
        if owner is not None:
            owner.body.append(fn)
            self.note(True, f"added method {owner.name}.{fn.name}")
        else:
            self.module.body.append(fn)
            self.note(True, f"added function {fn.name}")

    def merge(self, target: _Def, fragment: _Def, where: str) -> None:
        """Apply the statements an elided definition shows inside ``target``."""
        anchor: int | None = None
        after_ellipsis = False
        for stmt in fragment.body:
            if _is_ellipsis(stmt):
                after_ellipsis = True
                continue
            if _is_docstring(stmt):
                continue
            text = ast.unparse(stmt)
            same = [i for i, s in enumerate(target.body) if ast.unparse(s) == text]
            if same:
                anchor = same[0]
                continue
            replaced = self._replace_in(target, stmt)
            if replaced is not None:
                anchor = replaced
                self.note(True, f"in {where}: `{_short(stmt)}` replaces the statement it updates")
                continue
            if anchor is not None:
                index = anchor + 1
            elif after_ellipsis:
                index = len(target.body) - (1 if isinstance(target.body[-1], ast.Return) else 0)
            else:
                index = 1 if target.body and _is_docstring(target.body[0]) else 0
            target.body.insert(index, stmt)
            anchor = index
            self.note(True, f"in {where}: inserted `{_short(stmt)}`")

    def _replace_in(self, target: _Def, stmt: ast.stmt) -> int | None:
        """Replace the counterpart of ``stmt`` in ``target``; the top-level index touched, or None."""
        if isinstance(stmt, ast.Return):
            returns = [i for i, s in enumerate(target.body) if isinstance(s, ast.Return)]
            if returns:
                target.body[returns[-1]] = stmt
                return returns[-1]
            return None
        key = _target_key(stmt)
        if key is None:
            return None
        for body, i in _statement_sites(target.body):
            if _target_key(body[i]) == key:
                body[i] = stmt
                if body is target.body:
                    return i
                return next(
                    t for t, s in enumerate(target.body) if any(b is body for b, _ in _statement_sites([s]))
                )
        return None

    def apply_assignment(self, stmt: ast.stmt) -> None:
        key = _target_key(stmt)
        module_names = _module_names(self.module) | _BUILTINS
        candidates: list[_Site] = []
        for fn, owner, _, _ in _functions(self.module):
            for body, i in _statement_sites(fn.body):
                if _target_key(body[i]) == key:
                    candidates.append(_Site(body, i, fn, owner))
        for i, top in enumerate(self.module.body):
            if _target_key(top) == key:
                candidates.append(_Site(self.module.body, i, None, None))
        needed = _free_names(stmt)

        def undefined(site: _Site) -> set[str]:
            scope = module_names | (_bound_names(site.function) if site.function else set())
            return needed - scope

        plausible = [s for s in candidates if not undefined(s)]
        if not plausible:
            if self.program and not candidates and not needed - module_names:
                self.module.body.append(stmt)
                self.note(True, f"added `{_short(stmt)}`")
            elif candidates:
                missing = ", ".join(sorted(undefined(candidates[0])))
                self.note(
                    False,
                    f"`{_short(stmt)}` uses {missing}, not defined in {candidates[0].where}; "
                    "taken as an illustration, not applied",
                )
            else:
                self.note(False, f"`{_short(stmt)}`: nothing assigns `{key}` in the code; not applied")
            return
        new = ast.unparse(stmt)
        best = max(
            plausible, key=lambda s: difflib.SequenceMatcher(None, ast.unparse(s.body[s.index]), new).ratio()
        )
        old = best.body[best.index]
        best.body[best.index] = stmt
        if ast.unparse(old) != new:
            self.note(True, f"in {best.where}: `{_short(old)}` -> `{_short(stmt)}`")

    def result(self) -> Patched:
        ast.fix_missing_locations(self.module)
        return Patched(ast.unparse(self.module) + "\n", tuple(self.notes))


def apply_fragments(base: str, fragments: Sequence[str]) -> Patched:
    """``base`` with ``fragments`` applied in order by the rules of this module."""
    patcher = _Patcher(base, program=False)
    for text in fragments:
        patcher.apply(text)
    return patcher.result()


def assemble_program(fragments: Sequence[str], prelude: str = "") -> Patched:
    """A program built from a model's own fragments: definitions, imports and plausible top-level assignments.

    Later definitions replace earlier ones; example calls and prints are
    dropped, so a reply's usage examples cannot break the program.
    """
    patcher = _Patcher(prelude, program=True)
    for text in fragments:
        patcher.apply(text)
    return patcher.result()
