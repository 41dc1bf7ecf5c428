"""Dataclass configs: a YAML file maps 1:1 onto fields (TRL style); `key=value` overrides on top."""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Sequence, TypeVar

import yaml

from alignstack.core.errors import ConfigError
from alignstack.core.yamlio import line_of, load_yaml

C = TypeVar("C")


def as_list(value: str | Sequence[str] | None) -> list[str]:
    """A config value that names one thing or several (`path` or `[paths]`, None: none) as a list."""
    return [value] if isinstance(value, str) else list(value or [])


def _coerce(value: Any, hint: Any, *, where: dict) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where=where)
            except ConfigError as exc:
                errors.append(exc.reason)
        raise ConfigError("; ".join(errors), **where)
    if origin in (list, Sequence) or hint is list:
        if not isinstance(value, list):
            raise ConfigError(f"expected a list, got {type(value).__name__}", **where)
        inner = args[0] if args else Any
        return [_coerce(v, inner, where=where) for v in value]
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"expected a mapping, got {type(value).__name__}", **where)
        return dict(value)
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"expected one of {list(args)}, got {value!r}", **where)
        return value
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"expected true or false, got {value!r}", **where)
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):   # PyYAML reads 1e-4 (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    if hint in (int, str) and isinstance(value, hint) and not isinstance(value, bool):
        return value
    if hint is str and isinstance(value, (int, float)):
        return str(value)
    raise ConfigError(f"expected {getattr(hint, '__name__', hint)}, got {value!r}", **where)


def from_dict(cls: type[C], data: dict, *, path: str | Path | None = None,
              node: yaml.Node | None = None, overridden: frozenset[str] = frozenset()) -> C:
    """Build dataclass `cls` from a mapping; unknown or mistyped fields name file, line, field
    (or `--set` for keys that came from command-line overrides)."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs = {}
    for key, value in data.items():
        where = ({"path": "--set", "field": key} if key in overridden
                 else {"path": path, "line": line_of(node, [key]), "field": key})
        if key not in fields:
            raise ConfigError(f"unknown field (known: {', '.join(sorted(fields))})", **where)
        kwargs[key] = _coerce(value, hints[key], where=where)
    missing = [name for name, f in fields.items() if name not in kwargs
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"missing required field(s): {', '.join(missing)}", path=path, line=1,
                          field=missing[0])
    return cls(**kwargs)


def parse_overrides(overrides: Sequence[str]) -> dict:
    """`["lr=1e-4", "epochs=2"]` -> {"lr": 1e-4, "epochs": 2} (values parsed as YAML scalars)."""
    out = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' must look like key=value")
        key, raw = item.split("=", 1)
        out[key.strip()] = yaml.safe_load(raw) if raw else ""
    return out


def load_config(cls: type[C], path: str | Path | None = None,
                overrides: Sequence[str] | dict = ()) -> C:
    data: dict = {}
    node = None
    if path is not None:
        loaded, node = load_yaml(path)
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError("expected a mapping at the top level", path=path, line=1)
        data = loaded
    extra = overrides if isinstance(overrides, dict) else parse_overrides(overrides)
    return from_dict(cls, {**data, **extra}, path=path, node=node, overridden=frozenset(extra))
