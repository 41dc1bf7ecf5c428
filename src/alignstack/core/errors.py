"""One exception type per module boundary; each message names file, line and field where known."""

from __future__ import annotations

from pathlib import Path


class AlignstackError(Exception):
    """Base class: the CLI prints these without a traceback unless --debug."""


def _where(path: str | Path | None, line: int | None, field: str | None) -> str:
    parts = []
    if path is not None:
        parts.append(f"{path}:{line}" if line is not None else str(path))
    elif line is not None:
        parts.append(f"line {line}")
    if field:
        parts.append(f"field '{field}'")
    return ", ".join(parts)


class LocatedError(AlignstackError):
    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None,
                 field: str | None = None):
        self.path, self.line, self.field, self.reason = path, line, field, message
        where = _where(path, line, field)
        super().__init__(f"{where}: {message}" if where else message)


class ConfigError(LocatedError):
    """A config, principles or flow file is invalid."""


class DataError(LocatedError):
    """A data file (JSONL records) is invalid."""


class BackendError(AlignstackError):
    """A model backend could not load or generate."""
