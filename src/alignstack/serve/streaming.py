"""How checked text reaches a streaming client: whole (`streaming: final`, the default: the stack
answers in full, then its text streams in pieces, so time to first token is the whole latency) or
sentence by sentence (`streaming: sentences`, after Stream Aligner, arXiv 2501.05336).

Sentence streaming, per request (`stream: true`, n = 1):
1. The request side first. A request the input stage (screen) flags, or that the request gate
   refuses whatever the answer (`refuse_flagged`, at or above its refusal cut), is served exactly
   as in final mode: the stack's whole path, its exit's text streamed after. No upstream token
   reaches the client.
2. Otherwise the upstream streams (`stream_chat` where the engine has one; else its answer is one
   piece) and its text is cut into sentences (`sentence_end`). Each sentence is held until the
   answer gate passes the answer so far (question: `conversation_question`, the conversation the
   stack judges; answer: everything so far, this sentence included), then sent. At most one
   sentence is held at a time.
3. The first sentence the gate flags stops the release: nothing more of the upstream's stream is
   sent. The upstream's answer is read to its end (unsent) and the FULL answer takes the stack's
   normal check (`Stack.check`: the corrector, then the one exit, `ServePolicy.serve`), so what
   follows is what the exit decides for that (question, answer): the decision final mode makes.
   The client already holds the released prefix, which passed the gate: where the exit's text
   begins with it, only the rest is sent; otherwise the exit's text follows the prefix after a
   paragraph break (`continuation`). Why the full answer and not the answer so far: judged at
   the flag, a kept or rewrite-original answer would end at the flagged sentence, and the answer
   gates flag many a benign answer's opening (bench/streaming.py measured the answer-so-far
   variant: benign answers served at a median 233 characters against 1174 in final mode).
A stream where every sentence passed records the path `stream-kept`; after a flag, the exit's
path; the audit row also says how many sentences were released before the flag.

The answer gate is what decides whether the stack changes an answer at all (`answer_gate`): the
stack's inspector (an answer below its threshold is kept) and the corrector's answer gate (an
answer it passes gets KEEP). A stack with neither cannot judge a sentence, and best-of-N cannot
stream one answer: `sentence_gate` refuses both at start-up.

Threads: `serve.live` (one worker thread owns the models; a stream has a thread of its own).
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, Iterator

from fastapi.responses import StreamingResponse

from alignstack.core.errors import ConfigError
from alignstack.core.records import QA

MAX_SENTENCE_CHARS = 400      # a run without a sentence end is cut at a space within this many
# a "." after one of these (or after a number or a single letter: "1.", "J.") ends no sentence
ABBREVIATIONS = frozenset({"mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc",
                           "e.g", "i.e", "approx", "no", "fig", "inc", "ltd", "co", "u.s"})
BOUNDARY = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]*]*\s+(?=\S)|\n\s*(?=\S)")
SPACE = re.compile(r"\s+(?=\S)")


def sentence_end(text: str, max_chars: int = MAX_SENTENCE_CHARS) -> int | None:
    """Where the first complete sentence of `text` ends (its trailing whitespace included), or
    None while it may go on. A sentence ends at . ! ? or … (closing quotes and brackets after
    it) followed by whitespace and more text, except after an abbreviation, a number or an
    initial, or at a line break. A run of over `max_chars` without one ends at its last space
    within `max_chars` (or at `max_chars`)."""
    for match in BOUNDARY.finditer(text):
        if match.end() > max_chars:
            break
        if match.group().startswith(".") and not match.group().startswith(".."):
            words = text[:match.start()].split()
            word = words[-1].lower().lstrip("(\"'") if words else ""
            if word in ABBREVIATIONS or word.isdigit() or (len(word) == 1 and word.isalpha()):
                continue
        return match.end()
    if len(text) <= max_chars:
        return None
    cuts = [m.end() for m in SPACE.finditer(text, 0, max_chars + 1) if 0 < m.end() <= max_chars]
    return cuts[-1] if cuts else max_chars


def split_for_stream(text: str, words: int = 3) -> list[str]:
    """The text in small pieces (a few words each, whitespace kept) that join back exactly."""
    tokens = re.findall(r"\S+\s*|\s+", text)
    return ["".join(tokens[i:i + words]) for i in range(0, len(tokens), words)]


async def pieces_of(text: str):
    """Final mode: the checked text, in pieces."""
    for piece in split_for_stream(text):
        yield piece


def continuation(released: str, served: str) -> str:
    """What follows the released prefix so that the client holds the exit's text: its rest, when
    it begins with the prefix; else all of it after a paragraph break (the prefix stays, it
    passed the gate)."""
    if not released.strip():
        return served
    if served.startswith(released):
        return served[len(released):]
    head = released.rstrip()
    if served.startswith(head):
        return served[len(head):]
    return ("" if released.endswith("\n\n") else "\n" if released.endswith("\n") else
            "\n\n") + served


class SentenceRelease:
    """The release loop over one upstream stream; iterate it for the text to send, in order.

    `tokens`: the upstream's pieces (closed when the loop ends, however it ends);
    `flagged(answer)`: the answer gate on the answer so far; `check(answer)`: the stack's check
    path for the whole answer after a flag, a result with `final` and `path` (a `StackResult`).
    Afterwards: `released` (the text that passed the gate), `sentences` (how many), `answer`
    (the upstream's answer as judged last: so far, or whole after a flag), `result` (the
    check's, after a flag; None when every sentence passed), `sent` (all the text sent) and
    `path`."""

    def __init__(self, tokens: Iterable[str], flagged: Callable[[str], bool],
                 check: Callable[[str], object], *, max_chars: int = MAX_SENTENCE_CHARS):
        self.tokens = iter(tokens)
        self.flagged, self.check, self.max_chars = flagged, check, max_chars
        self.released = self.answer = self.sent = ""
        self.sentences = 0
        self.result = None

    @property
    def path(self) -> str:
        return "stream-kept" if self.result is None else self.result.path

    def __iter__(self) -> Iterator[str]:
        pending, offered = "", False
        try:
            for piece in self.tokens:
                pending += piece
                if not self.released:
                    pending = pending.lstrip()
                while (cut := sentence_end(pending, self.max_chars)) is not None:
                    sentence, pending, offered = pending[:cut], pending[cut:], True
                    if not self._passes(sentence):
                        yield from self._hand_over(sentence + pending)
                        return
                    yield sentence
            if pending.strip() or not offered:      # the last sentence (an empty answer too)
                last = pending.rstrip()
                if not self._passes(last):
                    yield from self._hand_over(last)
                elif last:
                    yield last
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop the upstream (close its stream)."""
        close = getattr(self.tokens, "close", None)
        if close is not None:
            close()

    def _passes(self, sentence: str) -> bool:
        """The gate on the answer so far with `sentence`; a passed sentence counts as sent."""
        answer = (self.released + sentence).strip()
        if self.flagged(answer):
            return False
        self.released, self.answer = self.released + sentence, answer
        if sentence:
            self.sentences += 1
            self.sent += sentence
        return True

    def _hand_over(self, held: str) -> Iterator[str]:
        """After the first flag: the rest of the upstream's answer is read (never sent), the
        whole answer takes the check, and the exit's text follows the released prefix."""
        self.answer = (self.released + held + "".join(self.tokens)).strip()
        self.result = self.check(self.answer)
        rest = continuation(self.released, self.result.final)
        if rest:
            self.sent += rest
            yield rest


def answer_gate(stack) -> Callable[[str, str], bool] | None:
    """flagged(question, answer): whether the stack would hand this answer to its corrector: its
    inspector (where it has one) flags it and its corrector's answer gate (where it has one)
    flags it. A stack without a corrector changes no answer (nothing is flagged). None: nothing
    judges an answer on its own (a corrector without an answer gate, no inspector)."""
    corrector = stack.corrector
    if corrector is None:
        return lambda question, answer: False
    inspector, gate = stack.inspector, getattr(corrector, "answer_gate", None)
    if inspector is None and gate is None:
        return None

    def flagged(question: str, answer: str) -> bool:
        item = [QA(question=question, answer=answer)]
        if inspector is not None and inspector.score(item)[0] < stack.gate:
            return False
        return gate is None or corrector.answer_flags(item)[0]

    return flagged


def refused_by_request(stack, question: str) -> bool:
    """Whether the stack refuses this request whatever the answer: its request gate's score (the
    max over the question's views, as the corrector reads it) gives REFUSE for every verdict
    and answer-gate flag (`refuse_flagged` at or above the refusal cut), and no inspector could
    keep the answer before the corrector sees it."""
    from alignstack.correct.corrector import gated_verdict
    from alignstack.correct.template import REFUSE, VERDICTS

    corrector = stack.corrector
    if getattr(corrector, "request_gate", None) is None or stack.inspector is not None:
        return False
    harm = corrector.request_harm([question])[0]
    bads = (True, False) if getattr(corrector, "answer_gate", None) is not None else (None,)
    return all(gated_verdict(v, harm, corrector.gate_zone(), bad, corrector.refuse_flagged)
               == REFUSE for v in (None, *VERDICTS) for bad in bads)


def sentence_gate(stack, mode: str) -> Callable[[str, str], bool] | None:
    """The answer gate sentence streaming runs, checked at start-up; None in final mode."""
    if mode == "final":
        return None
    if stack.samples_per_question > 1:
        raise ConfigError("sentence streaming streams one upstream answer; best_of_n > 1 "
                          "picks among several: use streaming: final", field="streaming")
    gate = answer_gate(stack)
    if gate is None:
        raise ConfigError("sentence streaming needs an answer gate to judge each sentence (the "
                          "stack's inspector or the corrector's answer_gate): use streaming: "
                          "final", field="streaming")
    return gate


class WatchedStream(StreamingResponse):
    """A streaming response that calls `on_end()` however it ends. When the client goes away,
    Starlette cancels the body mid-way and nothing after the generator's last `yield` runs, so
    the end of a dropped stream can only be seen here. Under ASGI 2.4 Starlette notices a client
    that left only when the next chunk fails to send; this watches for the disconnect itself, so
    a stream with nothing to send yet (a sentence held by its gate) stops at once too."""

    def __init__(self, content, on_end: Callable[[], None], **kwargs):
        super().__init__(content, **kwargs)
        self.on_end = on_end

    async def __call__(self, scope, receive, send) -> None:
        import asyncio

        spec = tuple(map(int, scope.get("asgi", {}).get("spec_version", "2.0").split(".")))
        body = asyncio.ensure_future(super().__call__(scope, receive, send))
        left = asyncio.ensure_future(self._left(receive)) if spec >= (2, 4) else None
        try:
            await asyncio.wait({body, left} - {None}, return_when=asyncio.FIRST_COMPLETED)
            if body.done():
                body.result()
        finally:
            for task in (body, left):
                if task is not None:
                    task.cancel()
            self.on_end()

    @staticmethod
    async def _left(receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
