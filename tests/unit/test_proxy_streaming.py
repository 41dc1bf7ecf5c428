"""Sentence streaming through the proxy (`streaming: sentences`): a real server on loopback, the
official `openai` client with `stream=True`, the shipped SmolLM2 on llama.cpp as the upstream
(it writes real sentences, fast), a tiny corrector (random LoRA) and simple keyword gates. The
upstream is wrapped in a spy that records its streams and can hold one piece until the test says
so, so the tests assert the order of events, never wall-clock times."""

from __future__ import annotations

import sqlite3
import threading
import time

import httpx
import openai
import pytest

from alignstack.backends.base import GenParams, load_backend
from alignstack.correct.corrector import Corrector
from alignstack.correct.exit import ServePolicy
from alignstack.correct.stack import Stack
from alignstack.correct.verify import PairwiseVerifier
from alignstack.serve.app import create_app
from alignstack.serve.audit import AuditLog
from alignstack.serve.config import Audit, Batching, ServeConfig
from alignstack.serve.streaming import continuation

from conftest import EXAMPLES, corrector_dir, serving

SEA = "Tell me three facts about the sea, in one line each."
LONG = 80            # the answer gate's limit for a question that asks for one line each


class KeywordRequestGate:
    """A request classifier flagging questions that name a bomb (the RequestGate protocol)."""
    threshold = 0.5

    def score(self, items):
        return [1.0 if "bomb" in i.question.lower() else 0.0 for i in items]


class OneLineGate:
    """An answer inspector (the protocol): for a question asking for "one line each", it flags
    an answer over LONG characters; it records the thread each call ran on."""
    threshold = 0.5

    def __init__(self):
        self.threads: set[str] = set()

    def score(self, items):
        self.threads.add(threading.current_thread().name)
        return [1.0 if "one line each" in i.question and len(i.answer) > LONG else 0.0
                for i in items]


class RecordingUpstream:
    """The real upstream engine, its streams recorded (a spy: the real model generates).
    `hold = (at, event)` holds the piece at index `at` ("last": the final one) until `event` is
    set, and records whether it was within 30 s (`held`)."""

    def __init__(self, engine):
        self.engine, self.streams, self.events, self.hold = engine, [], [], None

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def stream_chat(self, messages, params):
        record = {"pieces": 0, "finished": False, "closed": False, "held": None}
        self.streams.append(record)
        at, event = self.hold or (None, None)
        source = iter(self.engine.stream_chat(messages, params))
        try:
            piece = next(source, None)
            while piece is not None:
                following = next(source, None)
                if event is not None and (record["pieces"] == at or
                                          (at == "last" and following is None)):
                    record["held"] = event.wait(30)
                self.events.append(("upstream", record["pieces"]))
                record["pieces"] += 1
                yield piece
                piece = following
            record["finished"] = True
        finally:
            record["closed"] = True
            source.close()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, tiny_model_dir, tiny_lora):
    tmp = tmp_path_factory.mktemp("proxy-streaming")
    source = corrector_dir(tmp / "corrector", tiny_model_dir, tiny_lora[0])
    gate = OneLineGate()
    corrector = Corrector.load(source, batch_size=2, max_new_tokens=8,
                               request_gate=KeywordRequestGate(), answer_gate=gate,
                               refuse_flagged=True)
    engine = load_backend("llamacpp", model="smollm2", parallel=2)
    upstream = RecordingUpstream(engine)
    stack = Stack(upstream, corrector, GenParams(max_new_tokens=60),
                  exit=ServePolicy.for_corrector(corrector, PairwiseVerifier(engine)))
    cfg = ServeConfig(model_name="aligned", principles_file=str(EXAMPLES / "principles.yaml"),
                      max_new_tokens=60, streaming="sentences",
                      batching=Batching(window_ms=5, max_batch=4),
                      audit=Audit(path=str(tmp / "audit.sqlite"), store_texts=True))
    app = create_app(stack, cfg, AuditLog(cfg.audit.path, store_texts=True))
    with serving(app) as url:
        yield url, upstream, gate, cfg.audit.path


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)


def audit_row(path: str, rid: str, wait_s: float = 10.0) -> dict:
    """The request's audit row (written off the event loop: waited for)."""
    deadline = time.monotonic() + wait_s
    while True:
        db = sqlite3.connect(path)
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM requests WHERE id = ?", (rid,)).fetchone()
        db.close()
        if row is not None or time.monotonic() > deadline:
            return dict(row) if row is not None else {}
        time.sleep(0.05)


def test_sentences_reach_the_client_before_the_upstream_ends(proxy):
    url, upstream, gate, audit = proxy
    messages = [{"role": "user", "content": "Tell me three facts about the sea."}]
    plain = client(url).chat.completions.create(model="aligned", messages=messages)
    saw_text = threading.Event()
    upstream.hold = ("last", saw_text)      # the upstream's last piece waits for the client
    try:
        stream = client(url).chat.completions.create(
            model="aligned", messages=messages, stream=True,
            stream_options={"include_usage": True})
        chunks = []
        for chunk in stream:
            chunks.append(chunk)
            if chunk.choices and chunk.choices[0].delta.content and not saw_text.is_set():
                upstream.events.append(("client", chunk.choices[0].delta.content))
                saw_text.set()
    finally:
        upstream.hold = None
    record = upstream.streams[-1]
    assert record["held"] is True and record["finished"]
    events = upstream.events
    first_text = events.index(next(e for e in events if e[0] == "client"))
    last_piece = max(k for k, e in enumerate(events) if e[0] == "upstream")
    assert first_text < last_piece                   # time to first token: before the end
    contents = [c.choices[0].delta.content for c in chunks if c.choices and
                c.choices[0].delta.content]
    text = "".join(contents)
    assert len(contents) >= 2 and text == plain.choices[0].message.content   # kept: the same
    last = [c for c in chunks if c.choices][-1]
    assert last.choices[0].finish_reason == "stop"
    checked = last.model_extra["alignstack"]
    assert checked["path"] == "stream-kept" and checked["stream_mode"] == "sentences"
    assert checked["released"] == len(contents)
    assert chunks[-1].usage.prompt_tokens > 0 and chunks[-1].usage.completion_tokens > 0
    row = audit_row(audit, chunks[0].id)
    assert row["path"] == "stream-kept" and row["stream_mode"] == "sentences"
    assert row["released"] == len(contents) and row["final"] == text and row["ttft_ms"] > 0
    assert row["sent_chars"] == len(text) and row["disconnected"] is None
    assert gate.threads == {"stack-batcher"}         # every model call on the worker


def test_after_a_flagged_sentence_the_exit_decides_on_the_whole_answer(proxy):
    url, upstream, _, audit = proxy
    messages = [{"role": "user", "content": SEA}]
    plain = client(url).chat.completions.create(model="aligned", messages=messages)
    stream = client(url).chat.completions.create(model="aligned", messages=messages,
                                                 stream=True)
    chunks = list(stream)
    contents = [c.choices[0].delta.content for c in chunks if c.choices and
                c.choices[0].delta.content]
    text = "".join(contents)
    row = audit_row(audit, chunks[0].id)
    assert row["path"] not in ("stream-kept", None) and row["flagged"] == 1
    assert row["stream_mode"] == "sentences" and row["final"] == text
    released = row["released"]
    prefix = "".join(contents[:released])
    assert 0 < len(prefix) <= LONG               # the sentences the gate passed, sent first
    # then one piece: the exit's text for the whole answer (what final mode serves), after it
    assert len(contents) == released + 1
    assert text == prefix + continuation(prefix, plain.choices[0].message.content)
    assert row["path"] == plain.model_extra["alignstack"]["path"]
    assert len(row["answer"]) > LONG and upstream.streams[-1]["finished"]


def test_a_request_refused_from_the_request_alone_streams_no_upstream_token(proxy):
    url, upstream, _, audit = proxy
    messages = [{"role": "user", "content": "How do I build a bomb at home?"}]
    before = len(upstream.streams)
    plain = client(url).chat.completions.create(model="aligned", messages=messages)
    stream = client(url).chat.completions.create(model="aligned", messages=messages,
                                                 stream=True)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(upstream.streams) == before                     # the upstream never streamed
    assert text == plain.choices[0].message.content             # served as without streaming
    row = audit_row(audit, chunks[0].id)
    assert row["path"].startswith("refused") and row["released"] is None
    assert row["stream_mode"] == "sentences"


def test_a_client_that_leaves_stops_the_upstream_and_is_logged(proxy):
    url, upstream, _, audit = proxy
    logged = threading.Event()
    upstream.hold = (40, logged)          # the upstream waits until the drop is in the log
    try:
        with httpx.stream("POST", url + "/v1/chat/completions", json={
                "model": "aligned", "stream": True, "max_tokens": 200,
                "messages": [{"role": "user", "content": "Describe the moon."}]}) as response:
            for line in response.iter_lines():
                if '"content": "' in line and '"content": ""' not in line:
                    rid = line.split('"id": "')[1].split('"')[0]
                    break                 # the first sentence: leave
        row = audit_row(audit, rid)
        logged.set()
        assert row["disconnected"] == 1 and row["stream_mode"] == "sentences"
        assert row["sent_chars"] < 400          # the first sentence at most (counted once sent)
        record = upstream.streams[-1]
        for _ in range(200):
            if record["closed"]:
                break
            time.sleep(0.05)
        assert record["closed"] and not record["finished"] and record["pieces"] < 200
    finally:
        upstream.hold = None
        logged.set()
