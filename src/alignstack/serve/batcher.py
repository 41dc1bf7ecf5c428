"""Batching across requests: concurrent requests share one run of the stack.

One worker thread owns the stack (a local model is not thread-safe). It takes the first waiting
request, waits up to `window_ms` for others (at most `max_batch`), groups them by generation
settings, and runs the upstream once per group, then the guard (inspector, gates, corrector) once
per group, so 32 concurrent users cost a few batched generations, not 32 sequential ones.

Failures follow the policy: an upstream failure fails its requests; a guard failure returns the
upstream answers unchecked (fail open) or a safe refusal (fail closed), and says which.

`call(fn)` runs any other model work on the same worker thread, between batches (a task that
arrives while a batch gathers runs right after that batch): a sentence-streaming request
(`serve.streaming`) runs its gates and its check this way, so no model is ever used by two
threads at once."""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field, replace
from typing import Callable

from alignstack.backends.base import GenParams, Message
from alignstack.core.conversation import conversation_question
from alignstack.correct.stack import Stack, StackResult


class UpstreamError(RuntimeError):
    """The upstream could not answer (its message says why)."""


@dataclass
class Job:
    question: str
    history: list[Message]
    params: GenParams
    future: Future = field(default_factory=Future)
    queued: float = field(default_factory=time.perf_counter)


@dataclass
class Task:
    """Work for the worker thread other than a batch (`StackBatcher.call`)."""
    fn: Callable[[], object]
    future: Future = field(default_factory=Future)

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return                                  # its waiter gave up
        try:
            self.future.set_result(self.fn())
        except BaseException as exc:  # noqa: BLE001 - the waiter gets it, the worker lives on
            self.future.set_exception(exc)


@dataclass
class Answer:
    result: StackResult
    policy: str                  # checked / fail-open / fail-closed
    error: str | None = None
    batch_size: int = 1
    queue_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    upstream_ms: float = 0.0     # this batch's upstream run (the drafts)
    guard_ms: float = 0.0        # this batch's guard run (inspector, gates, corrector)


def settle(job: Job, result: "Answer | None" = None, error: BaseException | None = None) -> None:
    """Deliver to a job's waiter; a waiter that gave up (timed out, disconnected) has cancelled
    its future, and that must never take the worker down."""
    if job.future.done():
        return
    try:
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)
    except InvalidStateError:
        pass


class StackBatcher:
    def __init__(self, stack: Stack, *, window_ms: float = 20.0, max_batch: int = 16,
                 guard_fails: str = "closed", refusal: str = "", screen=None,
                 screen_message: str = ""):
        """`screen`: questions -> flags (the input stage), or None."""
        self.stack = stack
        self.screen = screen
        self.screen_message = screen_message
        self.window = window_ms / 1000.0
        self.max_batch = max_batch
        self.guard_fails = guard_fails
        self.refusal = refusal
        self.jobs: queue.Queue[Job | Task | None] = queue.Queue()
        self.deferred: list[Task] = []          # tasks that arrived while a batch gathered
        self.batches = 0
        self._thread = threading.Thread(target=self._loop, name="stack-batcher", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, question: str, history: list[Message], params: GenParams) -> Future:
        job = Job(question, history, params)
        self.jobs.put(job)
        return job.future

    def call(self, fn: Callable[[], object]) -> Future:
        """`fn()` run on the worker thread (which owns the models), between batches; the
        future holds its result or what it raised."""
        task = Task(fn)
        self.jobs.put(task)
        return task.future

    def close(self) -> None:
        self.jobs.put(None)
        self._thread.join(timeout=5)

    def _collect(self, first: Job) -> list[Job]:
        batch, deadline = [first], time.perf_counter() + self.window
        while len(batch) < self.max_batch:
            remaining = deadline - time.perf_counter()
            try:
                job = self.jobs.get(timeout=max(remaining, 0)) if remaining > 0 \
                    else self.jobs.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self.jobs.put(None)       # stop after this batch
                break
            if isinstance(job, Task):
                self.deferred.append(job)     # runs right after this batch
                continue
            batch.append(job)
        return batch

    def _loop(self) -> None:
        while True:
            first = self.jobs.get()
            if first is None:
                return
            if isinstance(first, Task):
                first.run()
                continue
            batch = [j for j in self._collect(first) if not j.future.cancelled()]
            self._batch(batch)
            while self.deferred:
                self.deferred.pop(0).run()

    def _batch(self, batch: list[Job]) -> None:
        """One batch: its jobs grouped by generation settings, the stack run once per group."""
        if not batch:
            return
        self.batches += 1
        groups: dict[tuple, list[Job]] = {}
        for job in batch:
            p = job.params
            key = (p.max_new_tokens, p.temperature, p.top_p, p.seed, tuple(p.stop))
            groups.setdefault(key, []).append(job)
        for jobs in groups.values():
            try:
                self._run(jobs, len(batch))
            except Exception as exc:  # noqa: BLE001 - a bug must fail requests, not the worker
                for job in jobs:
                    settle(job, error=UpstreamError(f"{type(exc).__name__}: {exc}"))

    def screen_flags(self, questions: list[str], histories: list[list[Message]]
                     ) -> tuple[list[bool], str, str | None]:
        """The input stage's flags (any view of each conversation flagged: `correct.views`:
        decoded, unscrambled, folded, tails), its policy and error. A failing screen follows the
        guard policy: open, nothing flagged; closed, everything refused. Run on the worker."""
        from alignstack.correct.views import conversation_views, max_over_view_lists

        if self.screen is None:
            return [False] * len(questions), "screened", None
        judged = [conversation_question(q, h) for q, h in zip(questions, histories)]
        try:
            views = [conversation_views(q, h, text)
                     for q, h, text in zip(questions, histories, judged)]
            return max_over_view_lists(self.screen, views), "screened", None
        except Exception as exc:  # noqa: BLE001 - the screen is a guard: the policy decides
            error = f"{type(exc).__name__}: {exc}"
            if self.guard_fails == "open":
                return [False] * len(questions), "screened", error
            return [True] * len(questions), "fail-closed", error

    def _screened(self, jobs: list[Job], batch_size: int, started: float) -> list[Job]:
        """Answer the jobs the input stage flags (`screen_flags`); return the others."""
        if self.screen is None:
            return jobs
        flags, policy, error = self.screen_flags([j.question for j in jobs],
                                                 [j.history for j in jobs])
        for job, flagged in zip(jobs, flags):
            if flagged:
                result = StackResult(conversation_question(job.question, job.history), "",
                                     self.screen_message, True, [], outcome="screened",
                                     path="screened")
                settle(job, Answer(result, policy, error, batch_size,
                                   round(1000 * (started - job.queued), 1)))
        return [j for j, flagged in zip(jobs, flags) if not flagged]

    def _run(self, jobs: list[Job], batch_size: int) -> None:
        started = time.perf_counter()
        jobs = self._screened(jobs, batch_size, started)
        if not jobs:
            return
        stack = replace(self.stack, params=jobs[0].params)
        usage: list[tuple[int, int]] = []
        drafting = time.perf_counter()
        try:
            drafts = stack.draft([j.question for j in jobs], None, [j.history for j in jobs],
                                 usage)
        except Exception as exc:  # noqa: BLE001 - any engine failure is the upstream's
            for job in jobs:
                settle(job, error=UpstreamError(f"{type(exc).__name__}: {exc}"))
            return
        checking = time.perf_counter()
        try:
            results, policy, error = stack.check(drafts), "checked", None
        except Exception as exc:  # noqa: BLE001 - the guard failed: the policy decides
            results, policy, error = self.fallback(stack, drafts), f"fail-{self.guard_fails}", \
                f"{type(exc).__name__}: {exc}"
        upstream_ms = round(1000 * (checking - drafting), 1)
        guard_ms = round(1000 * (time.perf_counter() - checking), 1)
        prompts, completions = self._usage(stack, jobs, results, usage)
        for job, result, p, c in zip(jobs, results, prompts, completions):
            settle(job, Answer(result, policy, error, batch_size,
                               round(1000 * (started - job.queued), 1), p, c, upstream_ms,
                               guard_ms))

    @staticmethod
    def _usage(stack: Stack, jobs: list[Job], results: list[StackResult],
               usage: list[tuple[int, int]]):
        """Prompt and completion tokens (in the upstream's tokenizer): the engine's own counts
        of the draft where it gave them (no extra call on pass-through), else counted here, in
        the worker thread that owns the engine."""
        engine, n = stack.upstream, stack.samples_per_question
        # (prompt, completion) per job; under best-of-N the kept sample's count is unknown
        drafted = [(usage[i * n][0] if len(usage) > i * n else 0,
                    usage[i][1] if n == 1 and len(usage) > i else 0) for i in range(len(jobs))]
        try:
            uncounted = [i for i, (p, _) in enumerate(drafted) if p <= 0]
            counted = dict(zip(uncounted, engine.count_tokens(
                [engine.format_chat(stack.messages(jobs[i].question, jobs[i].history))
                 for i in uncounted]))) if uncounted else {}
            prompts = [counted.get(i, drafted[i][0]) for i in range(len(jobs))]
            recount = [i for i, r in enumerate(results) if r.final and (
                r.final != r.answer or drafted[i][1] <= 0)]
            finals = dict(zip(recount, engine.count_tokens([results[i].final for i in recount]))
                          ) if recount else {}
        except Exception:  # noqa: BLE001 - usage is informative; never fail an answer over it
            return [0] * len(jobs), [0] * len(jobs)
        return prompts, [finals.get(i, drafted[i][1]) if results[i].final else 0
                         for i in range(len(jobs))]

    def fallback(self, stack: Stack, drafts) -> list[StackResult]:
        """What a failed guard serves for these drafts: the answer unchecked (open) or the
        refusal (closed)."""
        n = stack.samples_per_question
        firsts = drafts[::n]
        return [StackResult(d.question, d.answer,
                            d.answer if self.guard_fails == "open" else self.refusal,
                            self.guard_fails != "open", d.principles,
                            path=f"fail-{self.guard_fails}")
                for d in firsts]
