"""Importing the author's reference code from a problem's folder (``reference: FILE.py:NAME``).

Reference code is the author's and trusted: it is imported here, in the evalkit
process, and computes the ground truth. It never reaches the sandbox; the
model's code gets only the inputs (and a reference module's weights). Finding
and reading the folder's files is :mod:`evalkit.spec.files`. Example::

    folder = problem_folder("problems/hw10_q1.yaml")              # problems/hw10_q1/
    ref = load_file_reference(folder, "rmsnorm.py:RMSNorm")
    ref.is_module, ref.entry                                      # (True, 'RMSNorm')
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import re
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.errors import SpecError
from evalkit.reference.names import builtin
from evalkit.reference.skeletons import get_skeleton
from evalkit.spec.files import FILE_REFERENCE, folder_path, is_file_reference, read_folder_file

if TYPE_CHECKING:
    from evalkit.reference.registry import Reference

__all__ = [
    "inspect_file_reference",
    "inspect_reference",
    "load_file_reference",
    "resolve_reference",
    "resolve_skeleton",
]


_modules: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def _import(path: Path, digest: str) -> Any:
    """Import the author's module from ``path`` once per content (a changed file is imported again)."""
    key = (str(path.resolve()), digest)
    with _lock:
        if key in _modules:
            return _modules[key]
        name = f"_evalkit_reference_{digest[:16]}_{re.sub(r'[^A-Za-z0-9_]', '_', path.stem)}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise SpecError(f"{path}: cannot be imported as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses and pickling look a module up by name
        try:
            spec.loader.exec_module(module)
        except Exception as err:
            sys.modules.pop(name, None)
            raise SpecError(
                f"{path}: the reference module fails to import ({type(err).__name__}: {err}); "
                "fix it and check with 'python -c \"import runpy; runpy.run_path(PATH)\"'"
            ) from None
        _modules[key] = module
        return module


def load_file_reference(folder: Path, spec: str) -> Reference:
    """The trusted reference ``spec`` (``file.py:Name``) of the problem whose folder is ``folder``.

    ``Name`` is a function, or an ``nn.Module`` subclass (built from a case's
    ``init`` keywords with weights drawn from the seed). The :class:`Reference`'s
    ``origin`` holds the file's path and content digest, so results computed from
    an older version of the file are never reused.
    """
    from torch import nn

    from evalkit.reference.registry import Reference

    match = FILE_REFERENCE.match(spec)
    if match is None:
        raise SpecError(f"reference {spec!r} should read FILE.py:NAME, e.g. 'layernorm.py:LayerNorm'")
    path = folder_path(folder, match.group("file"))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    module = _import(path, digest)
    name = match.group("name")
    target = getattr(module, name, None)
    if target is None or not callable(target):
        defined = sorted(
            k
            for k, v in vars(module).items()
            if callable(v) and not k.startswith("_") and _is_local(v, module)
        )
        raise SpecError(
            f"{path} defines no function or class {name!r} (it defines: {', '.join(defined) or 'nothing callable'})"
        )
    is_module = isinstance(target, type) and issubclass(target, nn.Module)
    if isinstance(target, type) and not is_module:
        raise SpecError(
            f"{path}: {name} is a class but not a torch.nn.Module; use a function or an nn.Module"
        )
    doc = inspect.getdoc(target) or ""
    summary = doc.splitlines()[0] if doc else f"{name} from {path.name}"
    return Reference(spec, target, name, summary, is_module=is_module, origin=f"{path.resolve()}#{digest}")


def inspect_file_reference(folder: Path, spec: str) -> tuple[bool | None, str]:
    """What ``spec`` (``file.py:Name``) is, read without running the file: whether it is a class
    (None: bound some other way, e.g. imported) and the file's content digest.

    A SpecError says what :func:`load_file_reference` would refuse that reading shows: a name
    that is not ``FILE.py:NAME``, a missing file, a syntax error (with its line), a name the file
    never binds. What only running shows (an import that fails, a class that is not an
    ``nn.Module``) is left to loading.
    """
    match = FILE_REFERENCE.match(spec)
    if match is None:
        raise SpecError(f"reference {spec!r} should read FILE.py:NAME, e.g. 'layernorm.py:LayerNorm'")
    path = folder_path(folder, match.group("file"))
    data = path.read_bytes()
    try:
        tree = ast.parse(data, filename=str(path))
    except (SyntaxError, ValueError) as err:  # ValueError: null bytes, before Python 3.12
        line = getattr(err, "lineno", None)
        where = f"{path}:{line}" if line else str(path)
        raise SpecError(
            f"{where}: the reference module does not parse ({getattr(err, 'msg', err)})"
        ) from None
    name = match.group("name")
    bound: dict[str, bool | None] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            bound[node.name] = False
        elif isinstance(node, ast.ClassDef):
            bound[node.name] = True
        else:  # an assignment, import, or a block that binds names some other way
            for child in ast.walk(node):
                if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                    bound[child.id] = None
                elif isinstance(child, ast.alias):
                    bound[(child.asname or child.name).split(".")[0]] = None
                elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    bound[child.name] = None
    if name not in bound:
        defined = sorted(k for k, v in bound.items() if v is not None and not k.startswith("_"))
        raise SpecError(
            f"{path} defines no function or class {name!r} (it defines: {', '.join(defined) or 'nothing callable'})"
        )
    return bound[name], hashlib.sha256(data).hexdigest()


def _is_local(value: Any, module: Any) -> bool:
    return getattr(value, "__module__", None) == module.__name__


def resolve_reference(name: str, folder: Path | None) -> Reference:
    """A built-in reference by name, or the author's ``file.py:Name`` in ``folder`` (imports torch)."""
    if not is_file_reference(name):
        from evalkit.reference.registry import get_reference

        return get_reference(name)
    if folder is None:
        raise SpecError(
            f"reference {name!r} is a file beside the problem; load the rubric with its problem "
            "(evalkit validate DIR, or a run) so its folder is known"
        )
    return load_file_reference(folder, name)


def inspect_reference(name: str, folder: Path) -> tuple[bool | None, str | None]:
    """:func:`resolve_reference` without torch: whether ``name`` is a module class (None: not known
    without importing it) and, for an author's file, its content digest."""
    if not is_file_reference(name):
        return builtin(name).is_module, None
    return inspect_file_reference(folder, name)


def resolve_skeleton(name: str, folder: Path | None) -> str:
    """The source of a built-in skeleton by name, or of the author's ``file.py`` in ``folder`` (no torch)."""
    if not name.endswith(".py"):
        return get_skeleton(name).source
    if folder is None:
        raise SpecError(
            f"skeleton {name!r} is a file beside the problem, but the problem's folder is not known"
        )
    return read_folder_file(folder, name)
