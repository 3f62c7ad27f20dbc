"""YAML loading that maps every error to ``path:line: field.path: message``.

PyYAML's node tree keeps the line of every key and value; pydantic's error
locations are mapped back to those lines, so a user sees exactly where to look.
Every error of a file is reported (:class:`SpecErrors`), and an unknown key
names the nearest known one::

    problems/hw10_q1.yaml:7: parts[0].promt: unknown field 'promt'; did you mean 'prompt'?
    problems/hw10_q1.yaml:6: parts[0].prompt: required field is missing
"""

from __future__ import annotations

import difflib
import hashlib
import threading
import types
import typing
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from evalkit.errors import SpecError

__all__ = [
    "NESTED_ERRORS",
    "LineMap",
    "SpecErrors",
    "format_loc",
    "load_model",
    "nearest",
    "read_yaml",
    "spec_error_lines",
    "validation_to_spec_error",
]

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]
LineMap = dict[Loc, int]

_MAX_BYTES = 5_000_000


def format_loc(loc: Loc) -> str:
    """``('parts', 1, 'checks', 0, 'kind')`` → ``parts[1].checks[0].kind``."""
    out = ""
    for item in loc:
        if isinstance(item, int):
            out += f"[{item}]"
        else:
            out += ("." if out else "") + str(item)
    return out


def _build(node: yaml.Node, loc: Loc, lines: LineMap, loader: Any, path: str) -> Any:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) or key is None:
                raise SpecError(
                    "mapping keys must be plain strings", path=path, line=key_node.start_mark.line + 1
                )
            key = str(key)
            if key in result:
                raise SpecError(
                    f"duplicate key {key!r}",
                    path=path,
                    line=key_node.start_mark.line + 1,
                    field=format_loc((*loc, key)),
                )
            result[key] = _build(value_node, (*loc, key), lines, loader, path)
            lines[(*loc, key)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*loc, i), lines, loader, path) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML was built with it
_parsed: OrderedDict[tuple[str, str], tuple[Any, LineMap]] = OrderedDict()
_PARSED_MAX = 256
_parsed_lock = threading.Lock()


def read_yaml(path: str | Path, text: str | None = None) -> tuple[Any, LineMap]:
    """Parse one YAML document; return the data and a map from location to line.

    A file is parsed once per process for each content it has (the text is read
    every time, so a changed file is parsed again); callers share the result
    and must not change it.
    """
    path = Path(path)
    if text is None:
        try:
            if path.stat().st_size > _MAX_BYTES:
                raise SpecError(f"file is larger than {_MAX_BYTES // 1_000_000} MB", path=path)
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SpecError("file not found", path=path) from None
        except IsADirectoryError:
            raise SpecError("is a directory, expected a YAML file", path=path) from None
        except UnicodeDecodeError as err:
            raise SpecError(f"not UTF-8 text ({err.reason} at byte {err.start})", path=path) from None
    key = (str(path), hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())
    with _parsed_lock:
        if key in _parsed:
            _parsed.move_to_end(key)
            return _parsed[key]
    try:
        found = _parse(path, text, _Loader)
    except SpecError:
        if _Loader is yaml.SafeLoader:
            raise
        # the pure-Python parser's message and line, as they always were (libyaml words its errors
        # differently); a document it accepts after all is taken as it reads it
        found = _parse(path, text, yaml.SafeLoader)
    with _parsed_lock:
        _parsed[key] = found
        if len(_parsed) > _PARSED_MAX:
            _parsed.popitem(last=False)
    return found


def _parse(path: Path, text: str, loader_class: Any) -> tuple[Any, LineMap]:
    """The data of ``text`` and its line map, read with ``loader_class``; a SpecError if it is not YAML."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise SpecError("the file is empty; expected a YAML mapping", path=path, line=1)
        lines: LineMap = {}
        data = _build(node, (), lines, loader, str(path))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = err.problem or err.context or "invalid YAML"
        raise SpecError(f"invalid YAML: {problem}", path=path, line=line) from None
    except yaml.YAMLError as err:
        raise SpecError(f"invalid YAML: {err}", path=path) from None
    finally:
        loader.dispose()
    return data, lines


def _line_for(loc: Loc, lines: LineMap) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


class SpecErrors(SpecError):
    """Several errors in spec files; ``errors`` holds each one, ``str()`` lists them all, one per line.

    It is a :class:`SpecError` whose path, line and field are those of the first error.
    """

    def __init__(self, errors: Sequence[SpecError]) -> None:
        if not errors:
            raise ValueError("SpecErrors needs at least one error")
        self.errors: tuple[SpecError, ...] = tuple(
            e for err in errors for e in (err.errors if isinstance(err, SpecErrors) else (err,))
        )
        first = self.errors[0]
        super().__init__(first.message, path=first.path, line=first.line, field=first.field)

    def _render(self) -> str:
        return "\n".join(SpecError._render(e) for e in getattr(self, "errors", ()))


def spec_error_lines(err: SpecError) -> list[str]:
    """One line per error: all of a :class:`SpecErrors`, or the error itself."""
    return [str(e) for e in err.errors] if isinstance(err, SpecErrors) else [str(err)]


#: The pydantic error type a validator raises (``PydanticCustomError``) to report errors found in a
#: nested model it validates itself; ``ctx["errors"]`` holds ``(sub-location, message, type, fields)``
#: tuples, and ``fields`` are the known keys at that location (to suggest one for an unknown key).
NESTED_ERRORS = "nested_errors"


def nearest(name: str, known: Sequence[str]) -> str | None:
    """The known name closest to ``name`` (a likely misspelling), or None."""
    found = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return found[0] if found else None


def _model_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold at its top level."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _model_in(arg)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """The field names of the model found at ``loc`` (inside ``model``), or [] if there is none."""
    current: Any = model
    for item in loc:
        models = _model_in(current)
        if models:
            field = models[0].model_fields.get(str(item))
            if field is None:
                return []
            current = field.annotation
            continue
        origin = typing.get_origin(current)
        args = typing.get_args(current)
        if origin in (list, tuple, Sequence) and args:
            current = args[0]
        elif origin in (dict, Mapping) and len(args) == 2:
            current = args[1]
        else:
            return []
    models = _model_in(current)
    return sorted(models[0].model_fields) if models else []


def _message(kind: str, msg: str, name: str, known: Sequence[str]) -> str:
    if kind == "extra_forbidden":
        guess = nearest(name, known)
        listed = f"known: {', '.join(known)}" if known else "'evalkit schema' lists the fields"
        if guess is not None:
            return f"unknown field {name!r}; did you mean {guess!r}? ({listed})"
        return f"unknown field {name!r} ({listed})"
    if kind == "missing":
        return "required field is missing"
    return msg.removeprefix("Value error, ")


def validation_to_spec_error(
    err: ValidationError, path: str | Path, lines: LineMap, model: type[BaseModel] | None = None
) -> SpecError:
    """Every pydantic error as a SpecError pointing at its line (a :class:`SpecErrors` if there are several).

    ``model`` (the validated model) lets an unknown key name the nearest known field.
    """
    out: list[SpecError] = []
    for item in err.errors():
        loc: Loc = tuple(x for x in item["loc"] if not (isinstance(x, str) and x.startswith("function-")))
        if item["type"] == NESTED_ERRORS:
            for sub, msg, kind, known in item["ctx"]["errors"]:
                full = (*loc, *sub)
                name = str(full[-1]) if full else ""
                out.append(
                    SpecError(
                        _message(kind, msg, name, known),
                        path=path,
                        line=_line_for(full, lines),
                        field=format_loc(full) or None,
                    )
                )
            continue
        name = str(loc[-1]) if loc else ""
        known = _fields_at(model, loc[:-1]) if model is not None and loc else []
        out.append(
            SpecError(
                _message(item["type"], item["msg"], name, known),
                path=path,
                line=_line_for(loc, lines),
                field=format_loc(loc) or None,
            )
        )
    # a misspelt key first: it usually explains the "required field is missing" next to it
    out.sort(key=lambda e: (not e.message.startswith("unknown field"), e.line or 0))
    return out[0] if len(out) == 1 else SpecErrors(out)


def load_model(
    model: type[M], path: str | Path, text: str | None = None, context: Mapping[str, Any] | None = None
) -> M:
    """Read ``path`` as YAML and validate it as ``model``; errors become SpecErrors with file:line.

    ``context`` is passed to the validators (the problem's folder, for files named in the YAML).
    """
    data, lines = read_yaml(path, text)
    if not isinstance(data, dict):
        raise SpecError(
            f"expected a YAML mapping at the top level, got {type(data).__name__}", path=path, line=1
        )
    try:
        return model.model_validate(data, context=dict(context or {}))
    except ValidationError as err:
        raise validation_to_spec_error(err, path, lines, model) from None
