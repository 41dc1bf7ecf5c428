"""The audit log off the event loop: `record()` only enqueues, one writer thread commits rows in
batches (SQLite WAL), `close()` flushes; a SIGKILLed writer leaves a clean file holding every
committed window; a stream the client drops early is still logged, marked `disconnected`, with
how much of the text it was sent.

Real SQLite files, a real subprocess, a real uvicorn server on loopback read with httpx."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from alignstack.correct.stack import Stack
from alignstack.serve.app import create_app
from alignstack.serve.audit import COLUMNS, AuditError, AuditLog
from alignstack.serve.config import Audit, Batching, ServeConfig

from conftest import serving

ROOT = Path(__file__).resolve().parents[2]


def row(i: int, **extra) -> dict:
    return dict(id=f"r{i}", created=float(i), model="m", stream=0, status=200, policy="checked",
                question=f"q{i}", **extra)


def count(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
    finally:
        db.close()


def test_many_records_from_many_threads_then_close_keeps_every_row(tmp_path):
    log = AuditLog(tmp_path / "audit.sqlite", store_texts=True)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: log.record(**row(i)), range(3000)))
    log.close()
    assert count(tmp_path / "audit.sqlite") == 3000
    db = sqlite3.connect(tmp_path / "audit.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT question FROM requests WHERE id = 'r2999'").fetchone() == ("q2999",)


def test_record_never_waits_for_the_database(tmp_path):
    """Another process holding SQLite's write lock stalls the writer thread, not the caller:
    `record()` returns at once, and the row lands once the lock is released."""
    path = tmp_path / "audit.sqlite"
    log = AuditLog(path)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")                       # the write lock, held
    started = time.perf_counter()
    committed = [log.record(**row(i)) for i in range(50)]
    assert time.perf_counter() - started < 0.5
    assert not any(f.done() for f in committed)
    blocker.execute("ROLLBACK")
    blocker.close()
    for future in committed:
        future.result(timeout=30)
    assert count(path) == 50
    log.close()


def test_a_bad_row_fails_alone(tmp_path):
    """A row the table refuses (no model: NOT NULL) fails its own future; the rows committed
    in the same window are kept, and the writer goes on."""
    log = AuditLog(tmp_path / "audit.sqlite")
    futures = [log.record(**row(i)) for i in range(20)]
    bad = log.record(**{**row(20), "model": None})
    futures += [log.record(**row(i)) for i in range(21, 40)]
    with pytest.raises(AuditError, match="model"):
        bad.result(timeout=30)
    for future in futures:
        future.result(timeout=30)
    log.close()
    assert count(tmp_path / "audit.sqlite") == 39


WRITER = """
import sys, time
from alignstack.serve.audit import AuditLog

log = AuditLog(sys.argv[1], store_texts=True, batch_rows=50, batch_ms=5)

def committed(future, i):
    if future.exception() is None:
        print(i, flush=True)

i = 0
while True:
    log.record(id=f"r{i}", created=time.time(), model="m", stream=0, status=200,
               policy="checked", question="q" * 200, final="a" * 400).add_done_callback(
        lambda f, i=i: committed(f, i))
    i += 1
    if i % 200 == 0:
        time.sleep(0.001)
"""


def test_a_sigkilled_writer_leaves_a_clean_file_with_every_committed_window(tmp_path):
    path = tmp_path / "audit.sqlite"
    env = {**os.environ, "ALIGNSTACK_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    acknowledged = -1
    try:
        for line in proc.stdout:                 # committed rows, in order
            acknowledged = max(acknowledged, int(line))
            if acknowledged >= 3000:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert acknowledged >= 3000, proc.stderr.read()[-2000:]
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    ids = {r[0] for r in db.execute("SELECT id FROM requests")}
    assert {f"r{i}" for i in range(acknowledged + 1)} <= ids


def test_an_old_log_gains_the_new_columns(tmp_path):
    path = tmp_path / "audit.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE requests (id TEXT PRIMARY KEY, created REAL NOT NULL, key_id TEXT,"
                " model TEXT NOT NULL, stream INTEGER NOT NULL, status INTEGER NOT NULL, flagged"
                " INTEGER, corrected INTEGER, outcome TEXT, score REAL, policy TEXT NOT NULL, "
                "error TEXT, latency_ms REAL, ttft_ms REAL, prompt_tokens INTEGER, "
                "completion_tokens INTEGER, question TEXT, answer TEXT, final TEXT)")
    old.execute("INSERT INTO requests (id, created, model, stream, status, policy) VALUES "
                "('old', 0, 'm', 0, 200, 'checked')")
    old.commit()
    old.close()
    log = AuditLog(path)
    log.record(**row(1, disconnected=1, sent_chars=12))
    log.close()
    db = sqlite3.connect(path)
    names = [r[1] for r in db.execute("PRAGMA table_info(requests)")]
    assert set(COLUMNS) <= set(names)
    assert db.execute("SELECT disconnected, sent_chars FROM requests WHERE id = 'r1'"
                      ).fetchone() == (1, 12)
    assert count(path) == 2


class LongAnswerEngineDouble:
    """TEST DOUBLE (not a model): an upstream that answers every chat with the same very long
    text, long enough (about 20 MB of stream frames) that no socket buffer holds it all, so a
    client that stops reading is still mid-stream when it hangs up."""

    name = "long-answer-double"
    text = " ".join(f"w{i}" for i in range(300_000))

    def generate(self, prompts, params):
        from alignstack.backends.base import Completion

        return [Completion(text=self.text, prompt_tokens=5, completion_tokens=300_000)
                for _ in prompts]

    def generate_text(self, prompts, params, max_new_tokens=None):
        return self.generate(prompts, params)

    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]

    def format_chat(self, messages):
        return "\n".join(m["content"] for m in messages)


def test_a_stream_the_client_drops_is_logged_as_disconnected(tmp_path):
    cfg = ServeConfig(model_name="aligned", batching=Batching(window_ms=5),
                      audit=Audit(path=str(tmp_path / "audit.sqlite"), store_texts=True))
    engine = LongAnswerEngineDouble()
    app = create_app(Stack(engine), cfg, AuditLog(cfg.audit.path, store_texts=True))
    body = {"model": "aligned", "stream": True,
            "messages": [{"role": "user", "content": "Tell me everything."}]}
    with serving(app) as url:
        with httpx.Client(base_url=url, timeout=60) as http:
            with http.stream("POST", "/v1/chat/completions", json=body) as response:
                assert response.status_code == 200
                lines = response.iter_lines()
                first = [next(lines) for _ in range(6)]        # a few frames, then hang up
        assert any(line.startswith("data: ") for line in first)
        deadline = time.monotonic() + 30
        found = None
        while found is None and time.monotonic() < deadline:
            db = sqlite3.connect(cfg.audit.path)
            found = db.execute("SELECT status, stream, disconnected, sent_chars, final, policy "
                               "FROM requests").fetchone()
            db.close()
            time.sleep(0.1)
    assert found is not None, "no audit row for the dropped stream"
    status, stream, disconnected, sent_chars, final, policy = found
    assert (status, stream, disconnected, policy) == (200, 1, 1, "checked")
    assert 0 < sent_chars < len(engine.text) and final == engine.text
