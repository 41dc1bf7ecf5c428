"""The proxy's audit log: one SQLite row per request (WAL mode, so readers never block the
server), texts only when enabled. `export_preferences` turns checked, corrected requests into
preference records (prompt / chosen = the correction / rejected = the upstream answer) for preference
optimisation."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    key_id TEXT,
    model TEXT NOT NULL,
    stream INTEGER NOT NULL,
    status INTEGER NOT NULL,
    flagged INTEGER,              -- the inspector / answer gate sent it to the corrector
    corrected INTEGER,            -- the final text differs from the upstream answer
    outcome TEXT,                 -- kept / rewritten / refused / empty / looped
    score REAL,                   -- inspector P(misaligned), when there is one
    policy TEXT NOT NULL,         -- checked / fail-open / fail-closed / rejected / error
    error TEXT,
    latency_ms REAL,
    ttft_ms REAL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    question TEXT,                -- texts: only with store_texts
    answer TEXT,
    final TEXT
)
"""
COLUMNS = ("id", "created", "key_id", "model", "stream", "status", "flagged", "corrected",
           "outcome", "score", "policy", "error", "latency_ms", "ttft_ms", "prompt_tokens",
           "completion_tokens", "question", "answer", "final")
TEXTS = ("question", "answer", "final")


class AuditLog:
    def __init__(self, path: str | Path, store_texts: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.store_texts = store_texts
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(SCHEMA)
        self._db.commit()

    def record(self, **row) -> None:
        if not self.store_texts:
            for name in TEXTS:
                row[name] = None
        values = [row.get(c) for c in COLUMNS]
        with self._lock:
            self._db.execute(f"INSERT OR REPLACE INTO requests ({', '.join(COLUMNS)}) VALUES "
                             f"({', '.join('?' for _ in COLUMNS)})", values)
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()


def export_preferences(path: str | Path, out: str | Path) -> int:
    """Corrected requests with texts -> JSONL preference records (written to a temp file, then
    renamed). Returns how many."""
    import os
    import tempfile

    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    # only answers the corrector changed after a completed check: a screened request, or a
    # fail-closed refusal, replaced the answer without judging it, and is no preference
    rows = db.execute("SELECT id, question, answer, final, outcome FROM requests WHERE "
                      "corrected = 1 AND policy = 'checked' AND question IS NOT NULL AND "
                      "answer IS NOT NULL AND final IS NOT NULL ORDER BY created").fetchall()
    db.close()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        for rid, question, answer, final, outcome in rows:
            handle.write(json.dumps({"prompt": question, "chosen": final, "rejected": answer,
                                     "source": f"audit:{rid}", "outcome": outcome}) + "\n")
    os.replace(tmp, out)
    return len(rows)
