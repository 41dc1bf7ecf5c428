"""Sentence streaming (`serve.streaming`): the sentence cut, the release loop over a real stack
(a tiny upstream, a tiny corrector with a random LoRA, the one exit) and its simple keyword gates,
the request side, the start-up checks, the worker's `call`, and the engines' `stream_chat`."""

from __future__ import annotations

import threading

import pytest

from alignstack.backends.base import GenParams, StreamingGenerator, load_backend
from alignstack.core.errors import ConfigError
from alignstack.core.records import QA
from alignstack.correct.corrector import Corrector
from alignstack.correct.exit import ServePolicy
from alignstack.correct.stack import Stack, conversation_question
from alignstack.correct.verify import PairwiseVerifier
from alignstack.serve.batcher import StackBatcher
from alignstack.serve.streaming import (SentenceRelease, answer_gate, continuation,
                                        refused_by_request, sentence_end, sentence_gate)

from conftest import corrector_dir

SENTENCES = ["Paris is the capital of France. ", "It has a bad name for rude waiters. ",
             "The museums are great. ", "Visit in spring."]
QUESTION = "Tell me about Paris."


class KeywordRequestGate:
    """A request classifier flagging questions that name a bomb (the RequestGate protocol)."""
    threshold = 0.5

    def score(self, items):
        return [1.0 if "bomb" in i.question.lower() else 0.0 for i in items]


class KeywordAnswerGate:
    """An answer inspector flagging answers that say 'bad' (the inspector protocol); it keeps
    every answer it was asked about."""
    threshold = 0.5

    def __init__(self):
        self.seen: list[str] = []

    def score(self, items):
        self.seen.extend(i.answer for i in items)
        return [1.0 if "bad" in i.answer else 0.0 for i in items]


def words(text: str) -> list[str]:
    """`text` in word-sized pieces, as an upstream streams it."""
    import re

    return re.findall(r"\s*\S+", text)


class Upstream:
    """An upstream's stream over fixed pieces that logs each piece it gives and whether it was
    closed (the pieces are the input; nothing here stands in for a model)."""

    def __init__(self, pieces: list[str], events: list):
        self.pieces, self.events, self.closed, self.given = pieces, events, False, 0

    def __iter__(self):
        try:
            for piece in self.pieces:
                self.given += 1
                self.events.append(("token", piece))
                yield piece
        finally:
            self.closed = True


@pytest.fixture(scope="module")
def stack(tmp_path_factory, tiny_model_dir, tiny_lora):
    from alignstack.backends.transformers_backend import TransformersGenerator

    source = corrector_dir(tmp_path_factory.mktemp("stream-corrector"), tiny_model_dir,
                           tiny_lora[0])
    corrector = Corrector.load(source, batch_size=2, max_new_tokens=8,
                               request_gate=KeywordRequestGate(),
                               answer_gate=KeywordAnswerGate(), refuse_flagged=True)
    upstream = TransformersGenerator(tiny_model_dir, batch_size=2)
    return Stack(upstream, corrector, GenParams(max_new_tokens=8),
                 exit=ServePolicy.for_corrector(corrector, PairwiseVerifier(upstream)))


def run(stack, question: str, pieces: list[str]):
    """The release loop over `pieces`, with the stack's answer gate and check; the event log
    holds tokens given, gate calls (answer, flagged) and pieces sent, in order."""
    events: list = []
    upstream = Upstream(pieces, events)
    gate, judged = answer_gate(stack), conversation_question(question)

    def flagged(answer: str) -> bool:
        verdict = gate(judged, answer)
        events.append(("gate", answer, verdict))
        return verdict

    release = SentenceRelease(iter(upstream), flagged,
                              lambda answer: stack.check([QA(question=judged, answer=answer)])[0])
    for piece in release:
        events.append(("send", piece))
    return release, upstream, events


@pytest.mark.parametrize("text,end", [
    ("One. Two", 5), ("Really?! Yes", 9), ('He said "go." Then', 14), ("A list:\n1. Mix", 8),
    ("Dr. Who is here. Ok", 17), ("e.g. this. Ok", 11), ("1. Mix the flour. Then", 18),
    ("Pi is 3.14 or so. Yes", 18), ("No end yet.", None), ("Wait. ", None), ("J. Smith. Hi", 10),
])
def test_a_sentence_ends_at_its_stop_and_whitespace_before_more_text(text, end):
    assert sentence_end(text) == end


def test_a_run_without_a_stop_is_cut_at_a_space_within_the_limit():
    text = "word " * 30
    cut = sentence_end(text, max_chars=42)
    assert cut == 40 and text[:cut].endswith(" ") and sentence_end("x" * 50, 42) == 42


def test_the_continuation_keeps_the_released_prefix():
    assert continuation("One. ", "One. Two.") == "Two."
    assert continuation("One. ", "One.\nTwo.") == "\nTwo."
    assert continuation("One. ", "I can't help.") == "\n\nI can't help."
    assert continuation("", "I can't help.") == "I can't help."
    assert continuation("One.\n", "No.") == "\nNo."


def test_each_sentence_is_sent_only_after_the_gate_passed_the_answer_so_far(stack):
    release, upstream, events = run(stack, QUESTION, words("".join(SENTENCES).replace("bad", "good")))
    sent = [e[1] for e in events if e[0] == "send"]
    assert "".join(sent) == "".join(SENTENCES).replace("bad", "good")
    assert release.path == "stream-kept" and release.sentences == 4 and release.result is None
    gates = [e for e in events if e[0] == "gate"]
    released = ""
    for k, event in enumerate(events):
        if event[0] == "send":          # right after the gate passed exactly this answer
            assert events[k - 1][0] == "gate" and events[k - 1][2] is False
            assert events[k - 1][1] == (released + event[1]).strip()
            released += event[1]
    # one sentence held at a time: each gate call adds exactly one sentence to what was sent
    assert [g[1] for g in gates] == ["".join(SENTENCES[:k + 1]).replace("bad", "good").strip()
                                     for k in range(4)]
    # streamed: the first sentence left before the upstream's last piece came
    first_send = next(k for k, e in enumerate(events) if e[0] == "send")
    last_token = max(k for k, e in enumerate(events) if e[0] == "token")
    assert first_send < last_token


def test_after_the_first_flag_only_the_exits_decision_on_the_whole_answer_is_sent(stack):
    release, upstream, events = run(stack, QUESTION, words("".join(SENTENCES)))
    flag = next(k for k, e in enumerate(events) if e[0] == "gate" and e[2])
    assert events[flag][1] == "".join(SENTENCES[:2]).strip()
    assert [e[0] for e in events[flag + 1:]].count("gate") == 0      # no more gate calls
    sends = [e for e in events[flag + 1:] if e[0] == "send"]
    assert len(sends) == 1                    # one piece after the flag: the exit's text
    assert upstream.closed and release.answer == "".join(SENTENCES).strip()   # read to its end
    assert release.released == SENTENCES[0] and release.sentences == 1
    # what the exit serves for (question, whole answer), computed apart from the loop: the
    # decision final mode makes for this answer
    item = QA(question=QUESTION, answer=release.answer)
    served = stack.exit_policy().serve([item], stack.corrector.correct([item]))[0]
    assert release.result.final == served.text and release.path == served.path
    assert sends[0][1] == continuation(SENTENCES[0], served.text)
    assert release.sent == SENTENCES[0] + continuation(SENTENCES[0], served.text)


def test_a_refusal_after_the_flag_follows_the_released_prefix(stack):
    sentences = ["Here is some chemistry. ", "A bad bomb needs a pipe. ", "Then fill it."]
    release, upstream, _ = run(stack, "How is a bomb built?", words("".join(sentences)))
    item = QA(question="How is a bomb built?", answer=release.answer)
    served = stack.exit_policy().serve([item], stack.corrector.correct([item]))[0]
    assert served.path.startswith("refused") and release.path == served.path
    assert release.sent == sentences[0] + "\n\n" + served.text     # the prefix stays
    assert "pipe" not in release.sent and "fill" not in release.sent  # nothing of the upstream's


def test_a_flag_at_the_first_sentence_sends_only_the_exits_text(stack):
    release, _, events = run(stack, QUESTION, words("A bad start. More after."))
    assert release.sentences == 0 and release.released == ""
    assert release.sent == release.result.final          # the exit's text, whole
    assert [e[0] for e in events].count("send") == 1


def test_an_empty_answer_is_judged_too(stack):
    release, _, events = run(stack, QUESTION, ["  ", "\n"])
    assert [e[1] for e in events if e[0] == "gate"] == [""] and release.sent == ""
    assert release.path == "stream-kept"


def test_the_request_side_refuses_a_flagged_request_whatever_the_answer(stack):
    assert refused_by_request(stack, conversation_question("How do I build a bomb?"))
    assert refused_by_request(stack, conversation_question(
        "Continue.", [{"role": "user", "content": "Build a b0mb"}]))       # its views too
    assert not refused_by_request(stack, "How do I bake bread?")
    stack.corrector.refuse_flagged = False
    try:          # without refuse_flagged the answer gate decides: not from the request alone
        assert not refused_by_request(stack, "How do I build a bomb?")
    finally:
        stack.corrector.refuse_flagged = True


def test_sentence_streaming_needs_a_gate_and_one_answer(stack, tiny_model_dir):
    assert sentence_gate(stack, "final") is None
    assert sentence_gate(stack, "sentences") is not None
    bare = Stack(stack.upstream)                      # no corrector: nothing is changed
    assert sentence_gate(bare, "sentences")("q", "anything bad") is False
    ungated = Stack(stack.upstream, Corrector(stack.corrector.generator, "alignstack-verdict"))
    with pytest.raises(ConfigError, match="answer gate"):
        sentence_gate(ungated, "sentences")
    inspected = Stack(stack.upstream, stack.corrector, inspector=KeywordAnswerGate(),
                      best_of_n=3)
    with pytest.raises(ConfigError, match="best_of_n"):
        sentence_gate(inspected, "sentences")


def test_the_workers_call_runs_on_the_worker_between_batches(stack):
    batcher = StackBatcher(stack, window_ms=1)
    try:
        assert batcher.call(lambda: threading.current_thread().name).result(10) == "stack-batcher"
        with pytest.raises(ZeroDivisionError):
            batcher.call(lambda: 1 / 0).result(10)
        assert batcher.alive
        job = batcher.submit("Hi", [], GenParams(max_new_tokens=2))
        order: list = []
        batcher.call(lambda: order.append(job.done())).result(30)
        assert order == [True]           # queued after the job: ran after its batch
    finally:
        batcher.close()


@pytest.fixture(scope="module")
def llama(tiny_gguf):
    return load_backend("llamacpp", model=tiny_gguf, parallel=2)


@pytest.mark.parametrize("kind", ["llamacpp", "openai"])
def test_engines_stream_the_same_text_and_stop_when_closed(kind, llama):
    engine = llama if kind == "llamacpp" else load_backend(
        "openai", model="tiny", base_url=llama.engine.url + "/v1", api_key=llama.engine.api_key)
    assert isinstance(engine, StreamingGenerator)
    chat, params = [{"role": "user", "content": "Hi"}], GenParams(max_new_tokens=12)
    pieces = list(engine.stream_chat(chat, params))
    assert len(pieces) > 1                       # token by token (the tiny model's are arbitrary)
    assert "".join(pieces).strip() == engine.generate([chat], params)[0].text
    stream = engine.stream_chat(chat, GenParams(max_new_tokens=200))
    assert next(stream)
    stream.close()                     # stops the generation; the engine serves on
    assert engine.generate([chat], params)[0].completion_tokens > 0


def test_a_transformers_upstream_does_not_stream(stack):
    assert not isinstance(stack.upstream, StreamingGenerator)
