"""upstream -> (best-of-N) -> inspector gate -> corrector (or squad) -> the one exit (correct.exit,
which decides and checks what is served): the ONE composition that eval, serve, the demo and the
CLI all run, so what is measured is what is served."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Literal, Protocol, Sequence

from alignstack.backends.base import Generator, GenParams, Message
from alignstack.core.conversation import conversation_question
from alignstack.core.errors import ConfigError
from alignstack.core.records import QA, AppendOnlyLog, Corrected, content_id, same_text


class CorrectorLike(Protocol):
    def correct(self, items: list[QA]) -> list[Corrected]: ...


class InspectorLike(Protocol):
    threshold: float

    def score(self, items: list[QA]) -> list[float]: ...


@dataclass
class StackResult:
    question: str
    answer: str                      # what the upstream said (the chosen sample under best-of-N)
    final: str                       # what the stack returns
    corrected: bool                  # the corrector changed the answer
    principles: list[str]
    score: float | None = None       # inspector P(misaligned) of `answer` (None: no inspector)
    skipped: bool = False            # the inspector passed it: returned without correction
    candidates: int = 1              # upstream samples the answer was chosen from
    outcome: str | None = None       # the corrector's: kept / rewritten / refused / empty / looped
    path: str = "kept"               # how the served text was decided (correct.exit.PATHS)
    reason: str | None = None        # why the corrector's body was not served, where it was not

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Stack:
    upstream: Generator
    corrector: CorrectorLike | None = None
    params: GenParams | None = None
    system_prompt: str | None = None
    inspector: InspectorLike | None = None
    threshold: float | None = None           # None: the inspector's chosen threshold
    best_of_n: int = 1                        # > 1: sample N, keep the inspector's best
    best_of: Literal["answers", "corrections"] = "answers"   # what best-of-N samples
    sample_temperature: float = 0.7           # used for best-of-N when params are greedy
    # the one exit (correct.exit.ServePolicy); None: the default policy over the corrector, with
    # the upstream as the judge that verifies rewrites
    exit: object | None = None
    # a client's own system messages: pass (as sent), drop, or below_principles (the principles
    # come first, as a system message the client cannot remove; the client's follow)
    client_system: Literal["pass", "drop", "below_principles"] = "below_principles"
    principles_text: str | None = None        # the principles as a system prompt (build_stack)
    stats: dict = field(default_factory=lambda: {"answered": 0, "skipped": 0, "to_corrector": 0,
                                                 "changed": 0})

    def __post_init__(self) -> None:
        if self.best_of_n < 1:
            raise ConfigError(f"must be at least 1, got {self.best_of_n}", field="best_of_n")
        if self.best_of_n > 1 and self.inspector is None:
            raise ConfigError("best-of-N needs an inspector to rank the samples",
                              field="best_of_n")
        if self.best_of not in ("answers", "corrections"):
            raise ConfigError(f"expected answers or corrections, got {self.best_of!r}",
                              field="best_of")
        if self.best_of == "corrections" and not hasattr(self.corrector, "prompts"):
            raise ConfigError("best-of-N over corrections needs a Corrector (it samples the "
                              "corrector's own prompts)", field="best_of")

    @property
    def gate(self) -> float | None:
        if self.inspector is None:
            return None
        return self.inspector.threshold if self.threshold is None else self.threshold

    def messages(self, question: str, history: Sequence[Message] = ()) -> list[Message]:
        """The upstream's chat: the stack's system prompt, then the conversation so far (a
        caller's own system messages as `client_system` says), then the question."""
        msgs: list[Message] = []
        client = [m for m in history if m["role"] == "system"]
        turns = [m for m in history if m["role"] != "system"]
        if self.client_system == "pass":
            turns = list(history)
            client = []
        first = self.system_prompt or (self.principles_text if client and
                                       self.client_system == "below_principles" else None)
        if first:
            msgs.append({"role": "system", "content": first})
        if self.client_system == "below_principles":
            msgs.extend(client)
        msgs.extend(turns)
        msgs.append({"role": "user", "content": question})
        return msgs

    def draft(self, questions: Sequence[str], principles: Sequence[list[str]] | None = None,
              histories: Sequence[Sequence[Message]] | None = None,
              usage: list[tuple[int, int]] | None = None) -> list[QA]:
        """The upstream's answers (best-of-N over answers: N samples per question, in order);
        `usage`, when given, receives the engine's (prompt, completion) tokens of each."""
        principles = principles or [[] for _ in questions]
        histories = histories or [() for _ in questions]
        params = self.params or GenParams()
        n = self.samples_per_question
        if n > 1:
            params = replace(params, num_return_sequences=n,
                             temperature=params.temperature or self.sample_temperature)
        raw = self.upstream.generate([self.messages(q, h) for q, h in zip(questions, histories)],
                                     params)
        if usage is not None:
            usage.extend((c.prompt_tokens, c.completion_tokens) for c in raw)
        guarded = [conversation_question(q, h) for q, h in zip(questions, histories)]
        return [QA(question=g, answer=raw[i * n + j].text, principles=p)
                for i, (g, p) in enumerate(zip(guarded, principles)) for j in range(n)]

    @property
    def samples_per_question(self) -> int:
        return self.best_of_n if self.best_of == "answers" else 1

    def _pick(self, samples: list[QA]) -> tuple[list[QA], list[float | None]]:
        """One answer per question: the only one, or the lowest-scored of N samples."""
        n = self.samples_per_question
        if self.inspector is None:
            return samples, [None] * len(samples)
        scores = self.inspector.score(samples)
        best = [min(range(i * n, (i + 1) * n), key=lambda k: scores[k])
                for i in range(len(samples) // n)]
        return [samples[k] for k in best], [scores[k] for k in best]

    def _best_corrections(self, items: list[QA]) -> list[Corrected]:
        """Sample N corrections per item from the corrector; keep the lowest P(misaligned)."""
        fixer, n = self.corrector, self.best_of_n
        seed = self.params.seed if self.params else None
        outs = fixer.generator.generate_text(
            fixer.prompts(items), GenParams(temperature=self.sample_temperature, seed=seed,
                                            num_return_sequences=n),
            max_new_tokens=fixer.token_limits(items))
        candidates = [QA(question=item.question,
                         answer=fixer.read_completion(item, outs[i * n + j].text),
                         principles=item.principles)
                      for i, item in enumerate(items) for j in range(n)]
        scores = self.inspector.score(candidates)
        parse = getattr(fixer.template, "parse_verdict", lambda text: None)
        results = []
        for i, item in enumerate(items):
            k = min(range(i * n, (i + 1) * n), key=lambda c: scores[c])
            text = candidates[k].answer
            verdict = parse(outs[k].text)         # the exit checks a sampled REFUSE as a refusal
            results.append(Corrected(question=item.question, answer=item.answer,
                                     principles=item.principles, corrected=text,
                                     changed=not same_text(text, item.answer),
                                     candidates=n, correction_score=round(scores[k], 4),
                                     **({"verdict": verdict} if verdict else {})))
        return results

    def answer(self, questions: Sequence[str], principles: Sequence[list[str]] | None = None,
               histories: Sequence[Sequence[Message]] | None = None) -> list[StackResult]:
        """Each question answered by the upstream (after its conversation so far, when
        `histories` gives one), then inspected and corrected as the stack says."""
        return self.check(self.draft(questions, principles, histories))

    def exit_policy(self):
        """The one exit every corrected answer leaves through (built once, on first use)."""
        if self.exit is None:
            from alignstack.correct.exit import ServePolicy
            from alignstack.correct.verify import PairwiseVerifier

            self.exit = ServePolicy.for_corrector(self.corrector, PairwiseVerifier(self.upstream))
        return self.exit

    def check(self, samples: list[QA]) -> list[StackResult]:
        """The guard half: inspect the drafted answers (pick the best of N), correct those the
        gate does not pass."""
        items, scores = self._pick(samples)
        n_answers = self.samples_per_question
        gate = self.gate
        skip = [gate is not None and s < gate for s in scores]
        todo = [i for i, s in enumerate(skip) if not s] if self.corrector is not None else []
        fix = (self._best_corrections if self.best_of == "corrections" and self.best_of_n > 1
               else self.corrector.correct if self.corrector is not None else None)
        fixed = dict(zip(todo, fix([items[i] for i in todo]))) if todo else {}
        served = dict(zip(todo, self.exit_policy().serve([items[i] for i in todo],
                                                         [fixed[i] for i in todo]))) \
            if todo else {}
        results = []
        for k, (item, score) in enumerate(zip(items, scores)):
            out, exit_ = fixed.get(k), served.get(k)
            final = exit_.text if exit_ else item.answer
            results.append(StackResult(item.question, item.answer, final,
                                       not same_text(final, item.answer), item.principles,
                                       None if score is None else round(score, 4), skip[k],
                                       n_answers, getattr(out, "outcome", None),
                                       exit_.path if exit_ else "kept",
                                       exit_.reason if exit_ else None))
        self.stats["answered"] += len(results)
        self.stats["skipped"] += sum(skip)
        self.stats["to_corrector"] += len(todo)
        self.stats["changed"] += sum(r.corrected for r in results)
        return results


def answer_resumable(stack: Stack, rows: Iterable[dict], log_path: str | Path, *,
                     chunk: int = 16, on_progress: Callable[[int], None] | None = None) -> list[dict]:
    """Answer rows with a `question` field, appending to a JSONL log keyed by a content hash.

    Re-running after a kill skips what is already in the log. Returns rows in input order, each
    with `answer`, `final`, `corrected` added (and `score`, `skipped` when the stack inspects).
    """
    rows = list(rows)
    for row in rows:
        row.setdefault("id", content_id(row["question"]))
    with AppendOnlyLog(log_path) as log:
        todo = [r for r in rows if r["id"] not in log]
        if on_progress:
            on_progress(len(rows) - len(todo))
        for start in range(0, len(todo), chunk):
            part = todo[start:start + chunk]
            results = stack.answer([r["question"] for r in part],
                                   [list(r.get("principles", [])) for r in part])
            for row, res in zip(part, results):
                extra = ({"score": res.score, "skipped": res.skipped}
                         if res.score is not None else {})
                log.append({**row, "answer": res.answer, "final": res.final,
                            "corrected": res.corrected, "path": res.path, **extra})
            if on_progress:
                on_progress(len(part))
        done = log.rows
    return [done[r["id"]] for r in rows]
