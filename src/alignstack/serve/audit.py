"""The proxy's audit log: one SQLite row per request (WAL mode, so readers never block the
server), texts only when enabled. `export_preferences` turns checked, corrected requests into
preference records (prompt / chosen = the correction / rejected = the upstream answer) for preference
optimisation.

Writing happens off the event loop: `record()` only puts the row on a queue and returns a
`Future` that completes once the row is committed; one writer thread owns the connection and
commits in windows (group commit: the rows queued while the last commit ran, at most
`batch_rows` of them, gathered for at most `batch_ms`), so an idle server commits each row
straight away and a busy one many rows per transaction. A caller that must not answer before
its row is durable awaits the future (the proxy does, for every answer it serves). A SIGKILL
loses only rows not yet committed; WAL keeps the file consistent. `close()` flushes what is
queued."""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from concurrent.futures import Future, InvalidStateError
from pathlib import Path

from alignstack.core.errors import AlignstackError

log = logging.getLogger("alignstack.serve.audit")

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
    error TEXT,                   -- what failed, in full (clients get a short message)
    latency_ms REAL,
    ttft_ms REAL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    question TEXT,                -- texts: only with store_texts
    answer TEXT,
    final TEXT,
    path TEXT,                    -- how the served text was decided (correct.exit.PATHS;
                                  -- stream-kept: every streamed sentence passed the gate)
    disconnected INTEGER,         -- 1: the client closed the stream before its end
    sent_chars INTEGER,           -- a stream: characters of `final` sent (final[:sent_chars])
    stream_mode TEXT,             -- a stream: final (checked whole, then sent) or sentences
    released INTEGER              -- sentences: sentences sent before the gate flagged one (all of
                                  -- them on path stream-kept); NULL: decided from the request
)
"""
COLUMNS = ("id", "created", "key_id", "model", "stream", "status", "flagged", "corrected",
           "outcome", "score", "policy", "error", "latency_ms", "ttft_ms", "prompt_tokens",
           "completion_tokens", "question", "answer", "final", "disconnected", "sent_chars",
           "path", "stream_mode", "released")
TEXTS = ("question", "answer", "final")
# columns newer than the table (added when an older file is opened)
ADDED = {"disconnected": "INTEGER", "sent_chars": "INTEGER", "path": "TEXT",
         "stream_mode": "TEXT", "released": "INTEGER"}
INSERT = (f"INSERT OR REPLACE INTO requests ({', '.join(COLUMNS)}) VALUES "
          f"({', '.join('?' for _ in COLUMNS)})")


class AuditError(AlignstackError):
    """The audit log cannot take or write a row."""


def settle(future: Future, error: BaseException | None = None) -> None:
    """Complete a row's future; one its waiter cancelled (a client that went away) is left as
    is: the row is written all the same."""
    try:
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
    except InvalidStateError:
        pass


def open_db(path: Path) -> sqlite3.Connection:
    """The log's connection: WAL, the table (an older file gains the newer columns)."""
    db = sqlite3.connect(str(path), check_same_thread=False, timeout=30.0)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")     # WAL + NORMAL: a commit survives a killed process
    db.execute(SCHEMA)
    present = {row[1] for row in db.execute("PRAGMA table_info(requests)")}
    for name, kind in ADDED.items():
        if name not in present:
            db.execute(f"ALTER TABLE requests ADD COLUMN {name} {kind}")
    db.commit()
    return db


class AuditLog:
    def __init__(self, path: str | Path, store_texts: bool = False, *, batch_rows: int = 64,
                 batch_ms: float = 20.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.store_texts = store_texts
        self.batch_rows, self.batch_s = batch_rows, batch_ms / 1000.0
        self._db = open_db(self.path)           # here, so a bad path fails at start-up
        self._rows: queue.Queue[tuple[list, Future] | None] = queue.Queue()
        self._closing = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._write_loop, name="audit-writer",
                                        daemon=True)
        self._thread.start()

    def record(self, **row) -> Future:
        """Queue one row (COLUMNS by name; texts dropped unless store_texts). The future
        completes when the row is committed, or holds the error that stopped it."""
        if not self.store_texts:
            for name in TEXTS:
                row[name] = None
        future: Future = Future()
        with self._closing:
            if self._closed:
                raise AuditError(f"{self.path}: the audit log is closed")
            self._rows.put(([row.get(c) for c in COLUMNS], future))
        return future

    def close(self) -> None:
        """Write every queued row, then close the file."""
        with self._closing:
            if self._closed:
                return
            self._closed = True
            self._rows.put(None)
        self._thread.join()

    def _window(self, first: tuple[list, Future]) -> tuple[list[tuple[list, Future]], bool]:
        """The rows of one commit: `first`, then those already waiting (queued while the last
        commit ran), up to `batch_rows` and for at most `batch_ms`; never a wait for rows not yet
        queued, since callers may be waiting on this commit. True when the log closes after."""
        batch, deadline = [first], time.monotonic() + self.batch_s
        while len(batch) < self.batch_rows and time.monotonic() < deadline:
            try:
                item = self._rows.get_nowait()
            except queue.Empty:
                break                                # nothing waiting: commit now
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _write_loop(self) -> None:
        closing = False
        while not closing:
            first = self._rows.get()
            if first is None:
                break
            batch, closing = self._window(first)
            self._commit(batch)
        self._db.close()

    def _commit(self, batch: list[tuple[list, Future]]) -> None:
        """One transaction for the window; if it fails, row by row, so one bad row (or a full
        disk) fails only the rows it stops, each logged."""
        try:
            with self._db:                           # one transaction: all rows or none
                self._db.executemany(INSERT, [values for values, _ in batch])
        except Exception as exc:  # noqa: BLE001 - the writer must outlive a bad row or a full disk
            if len(batch) > 1:
                for item in batch:
                    self._commit([item])
                return
            log.error("audit log %s: row %s not written: %s", self.path, batch[0][0][0], exc)
            settle(batch[0][1], AuditError(f"{self.path}: {exc}"))
            return
        for _, future in batch:
            settle(future)


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
