"""YAML loading that maps every error to ``path:line: field.path: message``.

PyYAML's node tree keeps the line of every key and value; pydantic's error
locations are mapped back to those lines, so a user sees exactly where to look.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from evalkit.errors import SpecError

__all__ = ["LineMap", "format_loc", "load_model", "read_yaml", "validation_to_spec_error"]

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


def _build(node: yaml.Node, loc: Loc, lines: LineMap, loader: yaml.SafeLoader, path: str) -> Any:
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


def read_yaml(path: str | Path, text: str | None = None) -> tuple[Any, LineMap]:
    """Parse one YAML document; return the data and a map from location to line."""
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
    loader = yaml.SafeLoader(text)
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


def validation_to_spec_error(err: ValidationError, path: str | Path, lines: LineMap) -> SpecError:
    """The first pydantic error as a SpecError pointing at the offending line."""
    errors = err.errors()
    first = errors[0]
    loc: Loc = tuple(x for x in first["loc"] if not (isinstance(x, str) and x.startswith("function-")))
    message = first["msg"]
    if message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown field (check the spelling; 'evalkit schema' lists the fields)"
    elif first["type"] == "missing":
        message = "required field is missing"
    # a validator's message may start with a sub-field ("expected: Field required")
    field = format_loc(loc)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return SpecError(message + more, path=path, line=_line_for(loc, lines), field=field or None)


def load_model(model: type[M], path: str | Path, text: str | None = None) -> M:
    """Read ``path`` as YAML and validate it as ``model``; errors become one-line SpecErrors."""
    data, lines = read_yaml(path, text)
    if not isinstance(data, dict):
        raise SpecError(
            f"expected a YAML mapping at the top level, got {type(data).__name__}", path=path, line=1
        )
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise validation_to_spec_error(err, path, lines) from None
