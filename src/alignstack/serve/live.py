"""A sentence-streamed request (`streaming: sentences`; what is sent when: `serve.streaming`),
run across threads without ever sharing a model.

Threads: one worker thread owns the models (`StackBatcher`); nothing here runs a model elsewhere.
A stream has a thread of its own that reads the upstream's pieces (an engine with `stream_chat`
runs its model in its own server, as llama.cpp and an HTTP upstream do, so reading it from another
thread is as safe as the thread pool its batched calls use) and hands every model call (the
request side, each gate call, the check, the token count) to the worker with
`StackBatcher.call`, between batches. An upstream without `stream_chat` generates on the worker
too, as one piece. Batching stays as it is for everything else; a gate call waits for at most
the batch in progress.

The stream holds its admission (the proxy's in-flight count) until it ends. A client that leaves
stops it at the upstream's next piece (the upstream's stream is closed, which stops its
generation); a stream past the request's time limit ends with an error event.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from typing import Iterator

from alignstack.backends.base import StreamingGenerator
from alignstack.core.conversation import conversation_question
from alignstack.core.records import QA
from alignstack.serve.batcher import UpstreamError
from alignstack.serve.streaming import SentenceRelease, refused_by_request


class ClientLeft(Exception):
    """The client closed the stream: stop reading the upstream."""


class LiveStream:
    """One sentence-streamed request. Its thread drives `SentenceRelease` over the upstream's
    stream and runs every model call on the batcher's worker. Await `opened()` (False: the
    request side decided, serve it whole), then read `pieces()`; `checked()` and `row()` describe
    it for the last chunk and the audit row (the row also mid-way, for a client that left)."""

    def __init__(self, batcher, gate, question: str, history: list, params, timeout_s: float):
        self.batcher, self.gate, self.params = batcher, gate, params
        self.stack = replace(batcher.stack, params=params)
        self.question, self.history = question, history
        self.judged = conversation_question(question, history)
        self.deadline = time.perf_counter() + timeout_s
        self.release: SentenceRelease | None = None
        self.policy, self.error, self.usage = "checked", None, (0, 0)
        self.timing = {"queue": 0.0, "upstream": 0.0, "guard": 0.0}
        self._loop = asyncio.get_running_loop()
        self._events: asyncio.Queue = asyncio.Queue()
        self._first = None
        self._stopped = threading.Event()
        threading.Thread(target=self._run, name="sentence-stream", daemon=True).start()

    def stop(self) -> None:
        """The client left or the request timed out: stop at the next piece."""
        self._stopped.set()

    async def opened(self) -> bool:
        kind, value = await self._events.get()
        if kind == "error":
            raise value
        self._first = (kind, value)
        return kind != "whole"

    async def pieces(self):
        event, self._first = self._first, None
        while True:
            kind, value = event or await self._events.get()
            event = None
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value

    def _emit(self, kind: str, value=None) -> None:
        try:
            self._loop.call_soon_threadsafe(self._events.put_nowait, (kind, value))
        except RuntimeError:                        # the event loop is gone (shut down)
            pass

    def _on_worker(self, fn):
        future = self.batcher.call(fn)
        try:
            return future.result(timeout=max(self.deadline - time.perf_counter(), 0.001))
        except TimeoutError:
            future.cancel()
            raise

    def _run(self) -> None:
        started = time.perf_counter()
        try:
            if self._on_worker(self._decided_by_request):
                self._emit("whole")
                return
            self.release = SentenceRelease(self._tokens(), self._flagged, self._check)
            pieces = iter(self.release)
            try:
                for piece in pieces:
                    self._emit("text", piece)
                    if self._stopped.is_set():
                        break
            finally:
                pieces.close()
            self.timing["upstream"] = round(1000 * (time.perf_counter() - started)
                                            - self.timing["guard"], 1)
            if not self._stopped.is_set():
                self.usage = self._on_worker(self._count)
            self._emit("end")
        except ClientLeft:
            return
        except Exception as exc:  # noqa: BLE001 - the upstream failed, or the time is up
            self._emit("error", exc if isinstance(exc, (TimeoutError, UpstreamError))
                       else UpstreamError(f"{type(exc).__name__}: {exc}"))

    def _decided_by_request(self) -> bool:
        """On the worker: the screen flags it, or the stack refuses it whatever the answer (a
        failing request gate: served whole, where the fail policy applies)."""
        try:
            flags, _, _ = self.batcher.screen_flags([self.question], [self.history])
            return flags[0] or refused_by_request(self.stack, self.judged)
        except Exception:  # noqa: BLE001 - the whole path meets the same failure, and its policy
            return True

    def _tokens(self) -> Iterator[str]:
        """The upstream's pieces, until the client leaves or the time is up (the upstream's
        stream is closed either way, which stops it)."""
        engine, messages = self.stack.upstream, self.stack.messages(self.question, self.history)
        if isinstance(engine, StreamingGenerator):
            source = engine.stream_chat(messages, self.params)
        else:
            source = iter([self._on_worker(lambda: engine.generate([messages],
                                                                   self.params)[0].text)])
        try:
            for piece in source:
                if self._stopped.is_set():
                    raise ClientLeft
                if time.perf_counter() > self.deadline:
                    raise TimeoutError("the stream ran past the request's time limit")
                yield piece
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    def _flagged(self, answer: str) -> bool:
        started = time.perf_counter()
        try:
            return self._on_worker(lambda: self.gate(self.judged, answer))
        except TimeoutError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failing gate hands over to the check
            self.error = f"{type(exc).__name__}: {exc}"
            return True
        finally:
            self.timing["guard"] += round(1000 * (time.perf_counter() - started), 1)

    def _check(self, answer: str):
        item = QA(question=self.judged, answer=answer)

        def checked():
            try:
                return self.stack.check([item])[0]
            except Exception as exc:  # noqa: BLE001 - the guard failed: the policy decides
                self.policy = f"fail-{self.batcher.guard_fails}"
                self.error = f"{type(exc).__name__}: {exc}"
                return self.batcher.fallback(self.stack, [item])[0]

        started = time.perf_counter()
        try:
            return self._on_worker(checked)
        finally:
            self.timing["guard"] += round(1000 * (time.perf_counter() - started), 1)

    def _count(self) -> tuple[int, int]:
        """On the worker: (prompt, completion) tokens in the upstream's tokenizer."""
        engine, sent = self.stack.upstream, self.release.sent
        try:
            prompt = engine.format_chat(self.stack.messages(self.question, self.history))
            counts = engine.count_tokens([prompt, sent] if sent else [prompt])
        except Exception:  # noqa: BLE001 - usage is informative; never fail an answer over it
            return 0, 0
        return counts[0], counts[1] if sent else 0

    def checked(self) -> dict:
        """The response's `alignstack` field."""
        release = self.release
        result = release.result if release else None
        return {"corrected": bool(result and result.corrected),
                "outcome": result.outcome if result else None,
                "path": release.path if release else None,
                "score": result.score if result else None, "flagged": result is not None,
                "policy": self.policy, "batch_size": 1, "timing_ms": dict(self.timing),
                "stream_mode": "sentences", "released": release.sentences if release else 0}

    def row(self) -> dict:
        """The audit row's fields (so far)."""
        checked, release = self.checked(), self.release
        return dict(flagged=int(checked["flagged"]), corrected=int(checked["corrected"]),
                    prompt_tokens=self.usage[0], completion_tokens=self.usage[1],
                    outcome=checked["outcome"], path=checked["path"], score=checked["score"],
                    policy=self.policy, error=self.error, question=self.judged,
                    answer=release.answer if release else None,
                    final=release.sent if release else None, stream_mode="sentences",
                    released=checked["released"])
