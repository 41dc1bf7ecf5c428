"""Upstream faults behind the proxy: a timeout, a 5xx, a connection reset and garbage JSON each
give the client a clear OpenAI-style error, are logged, and leave the server healthy (the next
request is answered).

The failing upstream is a test double of a remote OpenAI-compatible API (a real one cannot be
made to fail on demand here): `remote_api_double` answers normally unless the question names a
fault; `resetting_server` accepts a connection and resets it.
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import struct
import threading
import time

import openai
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from alignstack.correct.assemble import StackSpec
from alignstack.serve.app import build_app
from alignstack.serve.config import Audit, Batching, Limits, ServeConfig

from conftest import EXAMPLES, serving


def remote_api_double() -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        question = body["messages"][-1]["content"]
        if "fault:500" in question:
            return JSONResponse({"error": {"message": "internal error"}}, status_code=500)
        if "fault:hang" in question:
            await asyncio.sleep(3)
        if "fault:garbage" in question:
            return Response("{not json", media_type="application/json")
        return {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "A plain answer."}}],
                "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}

    return app


class resetting_server:
    """Accepts each connection and closes it with a TCP reset (SO_LINGER 0)."""

    def __enter__(self) -> str:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.running = True
        threading.Thread(target=self._serve, daemon=True).start()
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    def __exit__(self, *exc) -> None:
        self.running = False
        self.sock.close()


def proxy_config(base_url: str, tmp_path) -> ServeConfig:
    return ServeConfig(model_name="aligned", principles_file=str(EXAMPLES / "principles.yaml"),
                       stack=StackSpec(upstream="remote", backend="openai",
                                       base_url=base_url + "/v1"),
                       limits=Limits(upstream_timeout_s=1.0, timeout_s=30.0),
                       batching=Batching(window_ms=5, max_batch=4),
                       audit=Audit(path=str(tmp_path / "audit.sqlite")))


def ask(url: str, question: str):
    client = openai.OpenAI(base_url=url + "/v1", api_key="none", max_retries=0, timeout=60)
    return client.chat.completions.create(model="aligned",
                                          messages=[{"role": "user", "content": question}])


@pytest.mark.parametrize("fault", ["fault:500", "fault:hang", "fault:garbage"])
def test_an_upstream_fault_is_a_clear_error_and_the_server_stays_healthy(fault, tmp_path):
    with serving(remote_api_double()) as upstream:
        app = build_app(proxy_config(upstream, tmp_path))
        with serving(app) as url:
            with pytest.raises(openai.APIStatusError) as err:
                ask(url, f"Please answer. {fault}")
            assert err.value.status_code == 502
            assert err.value.body["message"].startswith("the upstream model failed; request id ")
            assert err.value.body["type"] == "upstream_error"
            assert ask(url, "A normal question?").choices[0].message.content == "A plain answer."
            assert app.state.batcher.alive
    rows = sqlite3.connect(tmp_path / "audit.sqlite").execute(
        "SELECT id, status, policy, error FROM requests ORDER BY created").fetchall()
    assert [(status, policy) for _, status, policy, _ in rows] == [(502, "error"),
                                                                   (200, "checked")]
    failed_id, _, _, error = rows[0]
    assert failed_id in err.value.body["message"] and error     # the details: the log only


def test_a_connection_reset_is_a_clear_error(tmp_path):
    with resetting_server() as upstream:
        app = build_app(proxy_config(upstream, tmp_path))
        with serving(app) as url:
            for _ in range(2):                  # and again: the worker survived the first
                with pytest.raises(openai.APIStatusError) as err:
                    ask(url, "Anything?")
                assert err.value.status_code == 502
                assert "the upstream model failed" in err.value.body["message"]
            assert app.state.batcher.alive


def test_a_client_that_gives_up_does_not_take_the_worker_down(tmp_path):
    with serving(remote_api_double()) as upstream:
        cfg = proxy_config(upstream, tmp_path)
        cfg = cfg.model_copy(update={"limits": Limits(upstream_timeout_s=10.0, timeout_s=1.0)})
        app = build_app(cfg)
        with serving(app) as url:
            with pytest.raises(openai.APIStatusError) as err:
                ask(url, "Slow one. fault:hang")     # the proxy's own limit: 504
            assert err.value.status_code == 504
            time.sleep(3)                           # the upstream answers the abandoned request
            assert ask(url, "A normal question?").choices[0].message.content == "A plain answer."
            assert app.state.batcher.alive
