"""The model cache: a model, an engine or an encoder referenced by several systems, judges or
squad members loads once per process. Callers key an entry by what determines the loaded weights
(path, adapter, dtype, device), never by how they will be used (batch size, sampling)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Callable, Hashable, TypeVar

T = TypeVar("T")

_ENTRIES: dict[Hashable, object] = {}
_LOCKS: dict[Hashable, threading.Lock] = {}
_GUARD = threading.Lock()
LOADS: Counter = Counter()        # loads per key kind (the key's first element), for tests/reports


def shared(key: tuple, build: Callable[[], T]) -> T:
    """The entry for `key`, built by `build()` the first time (one build per key, even when
    threads ask at once)."""
    with _GUARD:
        if key in _ENTRIES:
            return _ENTRIES[key]  # type: ignore[return-value]
        lock = _LOCKS.setdefault(key, threading.Lock())
    with lock:
        if key not in _ENTRIES:
            value = build()
            with _GUARD:
                _ENTRIES[key] = value
                LOADS[key[0]] += 1
    return _ENTRIES[key]  # type: ignore[return-value]


def cached_keys(kind: str | None = None) -> list[tuple]:
    return [k for k in _ENTRIES if kind is None or k[0] == kind]


def clear() -> None:
    """Forget every entry (their memory goes once nothing else holds them) and the counts."""
    with _GUARD:
        _ENTRIES.clear()
        _LOCKS.clear()
        LOADS.clear()
