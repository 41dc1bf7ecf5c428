"""The proxy as a real `alignstack serve --no-auth` process on loopback: it warns that it runs
without keys; SIGTERM finishes the request in flight and exits cleanly; SIGKILL mid-load loses no
answered request from the audit log (each answer's row is committed before the answer is sent,
SQLite WAL), and the restarted server on the same log is healthy."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai

from conftest import EXAMPLES, free_port

ROOT = Path(__file__).resolve().parents[2]


def start(tmp_path: Path, model_dir: str, port: int, max_new_tokens: int) -> subprocess.Popen:
    config = tmp_path / "serve.yaml"
    config.write_text(f"""\
model_name: aligned
principles_file: {EXAMPLES / 'principles.yaml'}
stack: {{upstream: {model_dir}}}
max_new_tokens: {max_new_tokens}
batching: {{window_ms: 20, max_batch: 4}}
audit: {{path: {tmp_path / 'audit.sqlite'}, store_texts: true}}
""")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ALIGNSTACK_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "alignstack", "serve", "--config", str(config),
                             "--port", str(port), "--no-auth"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("the server never became ready")


def ask(port: int, i: int, max_tokens: int | None = None):
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none", max_retries=0,
                           timeout=120)
    extra = {"max_tokens": max_tokens} if max_tokens else {}
    return client.chat.completions.create(
        model="aligned", messages=[{"role": "user", "content": f"Tell me about topic {i}."}],
        **extra)


def audit_ids(tmp_path: Path) -> set[str]:
    db = sqlite3.connect(tmp_path / "audit.sqlite")
    try:
        return {row[0] for row in db.execute("SELECT id FROM requests WHERE status = 200")}
    finally:
        db.close()


def test_sigterm_finishes_the_request_in_flight_and_exits(tmp_path, tiny_model_dir):
    port = free_port()
    proc = start(tmp_path, tiny_model_dir, port, max_new_tokens=8)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(ask, port, 0, 200)     # long enough to be in flight
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        reply = pending.result(timeout=120)
    # uvicorn shuts down gracefully, then re-raises the signal it caught (exit status -15)
    assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
    stderr = proc.stderr.read()
    assert "Application shutdown complete" in stderr
    assert "WARNING" in stderr and "NO API KEY" in stderr            # --no-auth says so loudly
    assert reply.model_extra["alignstack"]["policy"] == "checked"
    assert reply.id in audit_ids(tmp_path)


def test_sigkill_mid_load_loses_no_answered_request(tmp_path, tiny_model_dir):
    port = free_port()
    proc = start(tmp_path, tiny_model_dir, port, max_new_tokens=8)
    answered: list[str] = []

    def one(i: int) -> None:
        try:
            answered.append(ask(port, i).id)
        except (openai.APIConnectionError, openai.APIStatusError):
            pass                                      # cut off by the kill

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(one, i) for i in range(64)]
        while len(answered) < 8:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        for future in futures:
            future.result(timeout=120)
    proc.wait(timeout=30)
    assert 8 <= len(answered) < 64
    assert set(answered) <= audit_ids(tmp_path)       # every 200 the clients saw is logged

    restarted = start(tmp_path, tiny_model_dir, port, max_new_tokens=8)
    try:
        again = ask(port, 99)
        assert again.id in audit_ids(tmp_path)
    finally:
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(timeout=60) in (0, -signal.SIGTERM)
