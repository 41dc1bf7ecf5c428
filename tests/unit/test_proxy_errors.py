"""Errors don't leak internals: a failing upstream or guard gives the client a short fixed
message, an error type and the request id, while the exception itself goes to the server log and
the audit row; a conversation longer than the upstream's context is a 400 that names the limit.

Served on a real uvicorn server on loopback, asked through the official `openai` client, logged
to a real SQLite file."""

from __future__ import annotations

import json
import logging
import sqlite3

import openai
import pytest

from alignstack.backends.base import GenParams
from alignstack.core.errors import BackendError
from alignstack.correct.stack import Stack
from alignstack.serve.app import create_app
from alignstack.serve.audit import AuditLog
from alignstack.serve.config import Audit, Batching, FailPolicy, ServeConfig

from conftest import serving

# what a real engine's error carries: an internal address and the engine's own error JSON
INTERNALS = ("http://10.20.30.40:8080/v1", '"n_ctx_slot": 2048', "slot 3")


class FailingEngineDouble:
    """TEST DOUBLE (not a model): an upstream engine whose every generation fails the way
    llama.cpp's server does, with its address and its own error JSON in the exception text."""

    name = "failing-engine-double"

    def generate(self, prompts, params: GenParams):
        raise BackendError(f"{INTERNALS[0]}/completions: llama.cpp: "
                           + json.dumps({"code": 500, "message": "slot 3 failed",
                                         "n_ctx_slot": 2048}))

    def generate_text(self, prompts, params, max_new_tokens=None):
        return self.generate(prompts, params)

    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]

    def format_chat(self, messages):
        return "\n".join(m["content"] for m in messages)


class BrokenGuard:
    """FAILURE INJECTION (not a model): a corrector whose every call raises with internals."""

    def correct(self, items):
        raise RuntimeError(f"guard down at {INTERNALS[0]}")


def config(tmp_path, **extra) -> ServeConfig:
    return ServeConfig(model_name="aligned", max_new_tokens=6, batching=Batching(window_ms=5),
                       audit=Audit(path=str(tmp_path / "audit.sqlite")), **extra)


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="none", max_retries=0, timeout=60)


def audit_rows(tmp_path) -> list[tuple]:
    db = sqlite3.connect(tmp_path / "audit.sqlite")
    try:
        return db.execute("SELECT id, status, policy, error FROM requests").fetchall()
    finally:
        db.close()


def test_a_failing_upstream_is_a_502_without_its_internals(tmp_path, caplog):
    cfg = config(tmp_path)
    app = create_app(Stack(FailingEngineDouble()), cfg, AuditLog(cfg.audit.path))
    with caplog.at_level(logging.WARNING), serving(app) as url:
        with pytest.raises(openai.APIStatusError) as err:
            client(url).chat.completions.create(
                model="aligned", messages=[{"role": "user", "content": "Anything?"}])
    assert err.value.status_code == 502
    body = json.dumps(err.value.body)
    for detail in INTERNALS + ("BackendError", "llama.cpp"):
        assert detail not in body
    assert err.value.body["type"] == "upstream_error"
    [(rid, status, policy, error)] = audit_rows(tmp_path)
    assert rid.startswith("chatcmpl-") and rid in err.value.body["message"]
    assert (status, policy) == (502, "error")
    assert all(detail in error for detail in INTERNALS)           # the details: the audit row
    assert rid in caplog.text and INTERNALS[0] in caplog.text     # ... and the server log


@pytest.mark.parametrize("policy", ["open", "closed"])
def test_a_failing_guard_keeps_its_error_out_of_the_answer(policy, tmp_path, tiny_model_dir,
                                                          caplog):
    from alignstack.backends.base import load_backend

    upstream = load_backend("transformers", model=tiny_model_dir, dtype="float32")
    cfg = config(tmp_path, fail=FailPolicy(guard=policy))
    app = create_app(Stack(upstream, BrokenGuard()), cfg, AuditLog(cfg.audit.path))
    with caplog.at_level(logging.WARNING), serving(app) as url:
        out = client(url).chat.completions.create(
            model="aligned", messages=[{"role": "user", "content": "Tell me a story."}])
    checked = out.model_extra["alignstack"]
    assert checked["policy"] == f"fail-{policy}" and "guard_error" not in checked
    assert INTERNALS[0] not in out.model_dump_json()
    [(rid, status, logged_policy, error)] = audit_rows(tmp_path)
    assert (rid, status, logged_policy) == (out.id, 200, f"fail-{policy}")
    assert "guard down" in error and "guard down" in caplog.text


def test_a_conversation_over_the_context_is_a_400_that_names_the_limit(tmp_path,
                                                                       tiny_model_dir):
    """The tiny upstream's context is its model config's max_position_embeddings (1024),
    exposed as `context_length`, the attribute the proxy reads from any engine."""
    from alignstack.backends.base import load_backend

    upstream = load_backend("transformers", model=tiny_model_dir, dtype="float32")
    upstream.context_length = upstream.model.config.max_position_embeddings
    cfg = config(tmp_path)
    app = create_app(Stack(upstream), cfg, AuditLog(cfg.audit.path))
    long_turn = " ".join(f"word{i}" for i in range(1500))
    with serving(app) as url:
        with pytest.raises(openai.BadRequestError) as err:
            client(url).chat.completions.create(
                model="aligned", max_tokens=8, messages=[
                    {"role": "user", "content": long_turn},
                    {"role": "assistant", "content": "Noted."},
                    {"role": "user", "content": "And now?"}])
        assert upstream.stats["prompt_tokens"] == 0                   # never reached the model
        fine = client(url).chat.completions.create(
            model="aligned", max_tokens=4, messages=[{"role": "user", "content": "Hi there."}])
    assert "1024" in err.value.body["message"]
    assert err.value.body["code"] == "context_length_exceeded"
    assert fine.choices[0].message.role == "assistant"
    statuses = sorted(row[1] for row in audit_rows(tmp_path))
    assert statuses == [200, 400]
