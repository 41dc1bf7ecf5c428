"""YAML loading that keeps line numbers, so validation errors can name the line of a field."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import yaml
from pydantic import BaseModel, ValidationError

from alignstack.core.errors import ConfigError


def load_yaml(path: str | Path) -> tuple[Any, yaml.Node | None]:
    """Return (data, node tree). Syntax errors become ConfigError with the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", path=path) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ConfigError(f"invalid YAML: {exc.problem}", path=path, line=line) from None
    return data, node


def line_of(node: yaml.Node | None, loc: Sequence[str | int]) -> int | None:
    """1-based line of the value at `loc` (as in a pydantic error), or of its deepest parent."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if k.value == key]
            if not match:
                break
            k, node = match[0]
            line = k.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line


# what pydantic adds to an error's location inside a union (`chosen.str`, `prompt.list[dict]`)
_UNION_TAGS = re.compile(r"^(str|int|float|bool|list\[.*\]|dict\[.*\])$")


def field_path(loc: Sequence[str | int]) -> str:
    out = ""
    for key in loc:
        if isinstance(key, str) and _UNION_TAGS.match(key):
            continue
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out


def validate_yaml(path: str | Path, model: type[BaseModel]) -> BaseModel:
    """Load `path` and validate it as `model`; the first error names file, line and field."""
    data, node = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping at the top level", path=path, line=1)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        raise ConfigError(err["msg"], path=path, line=line_of(node, loc),
                          field=field_path(loc)) from None
