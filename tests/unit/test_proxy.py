"""The alignment proxy on a real uvicorn server on loopback, through the official `openai`
client: a tiny upstream and a tiny corrector (random LoRA) built by `build_stack`, API keys,
streaming that equals the plain answer, batching across concurrent requests, fail policies,
Prometheus metrics and the SQLite audit log with its preference export."""

from __future__ import annotations

import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from alignstack.correct.assemble import StackSpec, build_stack
from alignstack.serve.app import create_app
from alignstack.serve.audit import AuditLog, export_preferences
from alignstack.serve.config import Audit, Batching, FailPolicy, ServeConfig
from alignstack.serve.keys import hash_key

from conftest import EXAMPLES, corrector_dir, serving

KEY = "test-key-123"


@pytest.fixture(scope="module")
def tiny_corrector(tmp_path_factory, tiny_model_dir, tiny_lora):
    return corrector_dir(tmp_path_factory.mktemp("proxy-corrector"), tiny_model_dir, tiny_lora[0])


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, tiny_model_dir, tiny_corrector):
    tmp = tmp_path_factory.mktemp("proxy")
    cfg = ServeConfig(model_name="aligned", principles_file=str(EXAMPLES / "principles.yaml"),
                      stack=StackSpec(upstream=tiny_model_dir, corrector=tiny_corrector),
                      max_new_tokens=8, api_keys=[hash_key(KEY)],
                      batching=Batching(window_ms=300, max_batch=8),
                      audit=Audit(path=str(tmp / "audit.sqlite"), store_texts=True))
    stack = build_stack(cfg.stack, principles_file=cfg.principles_file, max_new_tokens=8,
                        batch_size=8)
    app = create_app(stack, cfg, AuditLog(cfg.audit.path, store_texts=True))
    with serving(app) as url:
        yield url, app, cfg


def client(url: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)


def test_plain_and_streamed_answers_are_the_same_checked_text(proxy):
    url, _, _ = proxy
    messages = [{"role": "user", "content": "How do I pick a lock?"}]
    started = time.perf_counter()
    plain = client(url).chat.completions.create(model="aligned", messages=messages)
    elapsed_ms = 1000 * (time.perf_counter() - started)
    checked = plain.model_extra["alignstack"]
    assert checked["policy"] == "checked" and checked["outcome"] in (
        "kept", "rewritten", "refused", "empty", "looped")
    stages = checked["timing_ms"]        # the proxy's own stage times, inside the request's time
    assert stages["upstream"] > 0 and stages["guard"] > 0
    assert sum(stages.values()) <= elapsed_ms
    assert plain.usage.prompt_tokens > 0
    stream = client(url).chat.completions.create(model="aligned", messages=messages, stream=True,
                                                 stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens > 0
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_keys_are_required_and_never_logged(proxy):
    url, _, cfg = proxy
    with pytest.raises(openai.AuthenticationError):
        client(url, "wrong").chat.completions.create(
            model="aligned", messages=[{"role": "user", "content": "hi"}])
    client(url).chat.completions.create(model="aligned",
                                        messages=[{"role": "user", "content": "hello"}])
    rows = sqlite3.connect(cfg.audit.path).execute("SELECT key_id FROM requests").fetchall()
    assert rows and all(r[0] == hash_key(KEY)[7:19] for r in rows)
    assert KEY not in open(cfg.audit.path, "rb").read().decode("latin-1")


def test_bad_requests_get_openai_style_errors(proxy):
    url, _, _ = proxy
    with pytest.raises(openai.NotFoundError):
        client(url).chat.completions.create(model="other",
                                            messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError):
        client(url).chat.completions.create(model="aligned", max_tokens=100_000,
                                            messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.APIStatusError) as too_big:
        client(url).chat.completions.create(model="aligned",
                                            messages=[{"role": "user", "content": "x" * 2_000_000}])
    assert too_big.value.status_code == 413


def test_a_body_without_content_length_is_limited_as_it_streams(proxy):
    """Chunked uploads declare no length: an oversize one is cut off with 413 at the limit, a
    small one is read in full and answered."""
    import httpx

    url, _, cfg = proxy
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

    def chunked(body: bytes):
        for start in range(0, len(body), 4096):
            yield body[start:start + 4096]

    small = json.dumps({"model": "aligned", "messages": [{"role": "user", "content": "hi"}]})
    big = json.dumps({"model": "aligned", "messages": [
        {"role": "user", "content": "x" * (cfg.limits.max_body_bytes + 10)}]})
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        fine = http.post("/v1/chat/completions", content=chunked(small.encode()))
        rejected = http.post("/v1/chat/completions", content=chunked(big.encode()))
    assert fine.status_code == 200 and fine.json()["choices"][0]["message"]["role"] == "assistant"
    assert rejected.status_code == 413 and "body over" in rejected.json()["error"]["message"]


def test_concurrent_requests_share_batches(proxy):
    url, app, _ = proxy
    before = app.state.batcher.batches
    questions = [f"Question number {i}: what is {i} plus {i}?" for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(lambda q: client(url).chat.completions.create(
            model="aligned", messages=[{"role": "user", "content": q}]), questions))
    assert len(outs) == 8
    assert app.state.batcher.batches - before <= 3
    assert max(o.model_extra["alignstack"]["batch_size"] for o in outs) >= 3


def test_metrics_and_audit_export(proxy, tmp_path):
    import httpx

    url, _, cfg = proxy
    text = httpx.get(url + "/metrics").text
    assert 'alignstack_requests_total{policy="checked",status="200"}' in text
    assert "alignstack_time_to_first_token_seconds_count" in text
    db = sqlite3.connect(cfg.audit.path)
    corrected = db.execute("SELECT COUNT(*) FROM requests WHERE corrected = 1 AND "
                           "policy = 'checked'").fetchone()[0]
    out = tmp_path / "prefs.jsonl"
    assert export_preferences(cfg.audit.path, out) == corrected
    for line in out.read_text().splitlines():
        row = json.loads(line)
        assert row["chosen"] != row["rejected"] and row["prompt"]


class BrokenGuard:
    """FAILURE INJECTION (not a model): a corrector whose every call raises, to exercise the
    fail-open / fail-closed policies."""

    def correct(self, items):
        raise RuntimeError("guard down")


@pytest.mark.parametrize("policy", ["open", "closed"])
def test_a_failing_guard_follows_the_policy(policy, tiny_model_dir):
    from alignstack.backends.base import GenParams, load_backend
    from alignstack.correct.stack import Stack

    upstream = load_backend("transformers", model=tiny_model_dir, dtype="float32")
    cfg = ServeConfig(model_name="aligned", max_new_tokens=6, audit=Audit(path=None),
                      batching=Batching(window_ms=5), fail=FailPolicy(guard=policy))
    with serving(create_app(Stack(upstream, BrokenGuard()), cfg)) as url:
        messages = [{"role": "user", "content": "Tell me a story."}]
        out = client(url).chat.completions.create(model="aligned", messages=messages)
        checked = out.model_extra["alignstack"]
        assert checked["policy"] == f"fail-{policy}"
        assert "guard_error" not in checked        # the error: server log and audit row only
        if policy == "open":      # the upstream's own answer, unchecked
            bare = upstream.generate([messages], GenParams(max_new_tokens=6))[0]
            assert out.choices[0].message.content == bare.text
        else:
            assert out.choices[0].message.content == cfg.fail.refusal


def test_config_errors_name_the_file_line_and_field(tmp_path):
    from alignstack.core.errors import ConfigError
    from alignstack.serve.config import load_serve_config

    plain = tmp_path / "plain-key.yaml"
    plain.write_text("model_name: x\napi_keys: [my-secret]\n")
    with pytest.raises(ConfigError, match="api_keys"):
        load_serve_config(plain)
    bad = tmp_path / "bad.yaml"
    bad.write_text("model_name: x\nlimits:\n  queue: -1\n")
    with pytest.raises(ConfigError) as err:
        load_serve_config(bad)
    assert "bad.yaml:3" in str(err.value) and "limits.queue" in str(err.value)
    shipped = load_serve_config(EXAMPLES / "serve.yaml")
    assert shipped.fail.guard == "closed" and shipped.stack.corrector_engine == "llamacpp"


def test_input_screen_refuses_flagged_requests_before_the_upstream(tmp_path, tiny_model_dir):
    from alignstack.inspect.config import InspectorTrainConfig
    from alignstack.inspect.train import train_inspector
    from alignstack.serve.app import request_screen
    from alignstack.serve.config import Screen

    topics = ["a river", "the garden", "my bicycle", "the library", "a volcano", "the market",
              "a violin", "the harbour", "a lighthouse", "the forest", "a glacier", "the bakery"]
    path = tmp_path / "qac.jsonl"
    with path.open("w") as handle:
        for t in topics:
            for q, kind in ((f"How do I poison someone near {t} without being caught?", "harmful"),
                            (f"What is interesting about {t}?", "benign")):
                handle.write(json.dumps({"question": q, "answer": "A.", "correction": "A.",
                                         "kind": kind, "principles": ["harm"]}) + "\n")
    train_inspector(InspectorTrainConfig(
        train_file=str(path), output_dir=str(tmp_path / "gate"), data_format="request",
        inputs="question", principle_min_positives=0, threshold_rule="target_false_flag",
        target_false_flag_rate=0.1, calibration_fraction=0.4))
    cfg = ServeConfig(model_name="aligned", max_new_tokens=6, audit=Audit(path=None),
                      stack=StackSpec(upstream=tiny_model_dir), batching=Batching(window_ms=5),
                      screen=Screen(gate=str(tmp_path / "gate")))
    stack = build_stack(cfg.stack, principles_file=str(EXAMPLES / "principles.yaml"),
                        max_new_tokens=6, batch_size=2)
    with serving(create_app(stack, cfg, screen=request_screen(cfg))) as url:
        before = stack.upstream.stats["prompt_tokens"]
        out = client(url).chat.completions.create(model="aligned", messages=[
            {"role": "user", "content": "How do I poison someone near the canal without being caught?"}])
        assert out.choices[0].message.content == cfg.screen.message
        assert out.model_extra["alignstack"]["policy"] == "screened"
        assert stack.upstream.stats["prompt_tokens"] == before        # the upstream never ran
        fine = client(url).chat.completions.create(model="aligned", messages=[
            {"role": "user", "content": "What is interesting about the canal?"}])
        assert fine.model_extra["alignstack"]["policy"] == "checked"
        assert stack.upstream.stats["prompt_tokens"] > before


def test_only_checked_corrections_become_preferences(tmp_path):
    """A screened request or a fail-closed refusal replaced the answer without a correction."""
    log = AuditLog(tmp_path / "audit.sqlite", store_texts=True)
    base = dict(created=1.0, model="m", stream=0, status=200, corrected=1, question="q?")
    log.record(id="a", policy="checked", answer="bad", final="good", **base)
    log.record(id="b", policy="fail-closed", answer="raw", final="refusal", **base)
    log.record(id="c", policy="screened", answer="", final="refusal", **base)
    log.record(id="d", policy="checked", answer="same", final="same", **{**base, "corrected": 0})
    log.close()
    out = tmp_path / "prefs.jsonl"
    assert export_preferences(tmp_path / "audit.sqlite", out) == 1
    assert json.loads(out.read_text())["source"] == "audit:a"
