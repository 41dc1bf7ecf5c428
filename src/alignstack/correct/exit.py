"""The one exit: what leaves the stack, decided in this one place for every path (a corrector, a
squad, best-of-N, eval, the demo, the proxy), and checked.

The gates decide a verdict, the corrector writes a body, and `ServePolicy.serve` decides what is
served:
- KEEP serves the upstream's answer.
- REFUSE serves a refusal: the corrector's body if `body_problem` (empty, looped, the template's
  verdict words), `refusal_problem` and the answer gate pass it, else the refusal of the
  principle the request falls under (a crisis request always gets its principle's pointer to
  help).
- REWRITE serves the rewrite only if `body_problem` passes it, it differs from the answer, and
  the answer gate passes it; where `verify` asks (`all`: every rewrite; `passed`: rewrites for
  requests the request gate passes, below its zone, or without a request gate), a judge must
  also prefer it to the original in both orders. Otherwise `rewrite_failed` decides: `refuse`
  (the principle's refusal), `original` (the upstream answer), or `auto`: refuse when the
  request gate scored the request at or above `refuse_from` (its uncertain zone or worse), keep
  the original below it or without a request gate.
The raw upstream answer is never served for a request whose verdict is REFUSE, whatever the
corrector wrote. Every served text carries its `path` (and the `reason` a body was rejected).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

from alignstack.core.errors import ConfigError
from alignstack.core.records import QA, Corrected, degeneracy, same_text
from alignstack.correct.refusals import PrincipleRefusals, Route, refusal_problem
from alignstack.correct.template import KEEP, REFUSE, REWRITE, leaks_verdict

RewriteFailed = Literal["auto", "refuse", "original"]
REWRITE_FAILED = ("auto", "refuse", "original")
# which rewrites a judge must verify: all; passed (those for requests the request gate passes: a
# corrector that cannot check facts must not touch an answer to a benign request unverified; in
# the gate's zone the alternative is a refusal, and the answer gate's pass suffices); off
VerifyRewrites = Literal["all", "passed", "off"]
VERIFY_REWRITES = ("all", "passed", "off")


def crisis_reason(route: Route) -> str | None:
    """Why a refusal on `route` is the principle's own text whatever the corrector wrote: a
    crisis request gets the crisis principle's care and pointer to help, one that reads near it
    its principle's refusal with a pointer to help (a corrector's body carries neither)."""
    if route.principle is not None and route.principle.crisis:
        return "crisis"
    return "near-crisis" if route.near_crisis else None


def verify_mode(value: bool | str) -> str:
    """`verify_rewrites` as one of VERIFY_REWRITES (true: all, false: off)."""
    if value is True or value is False:
        return "all" if value else "off"
    if value not in VERIFY_REWRITES:
        raise ConfigError(f"expected one of {', '.join(VERIFY_REWRITES)} (or true / false), got "
                          f"{value!r}", field="verify_rewrites")
    return value

# kept: the upstream answer (the gates passed it); rewritten: the corrector's checked rewrite;
# refused: the corrector's refusal, checked; refused-principle: the principle's refusal (the body
# failed the check, or a crisis request); rewrite-refused / rewrite-original: a rewrite failed its
# checks, and the fallback served a refusal / the upstream answer; unchecked: the check is off
PATHS = ("kept", "rewritten", "refused", "refused-principle", "rewrite-refused",
         "rewrite-original", "unchecked")


@dataclass
class Served:
    text: str
    path: str
    reason: str | None = None        # why the corrector's body was not served


def verdict_of(out: Corrected) -> str:
    """The decided verdict: the corrector's, or for one without verdicts (a copy template, a
    squad), REWRITE when it changed the answer."""
    verdict = getattr(out, "verdict", None)
    if verdict in (KEEP, REWRITE, REFUSE):
        return verdict
    return REWRITE if out.changed else KEEP


def body_problem(body: str) -> str | None:
    """empty / looped / verdict-marker (the body repeats the template's verdict words), else
    None: what makes a body unservable as a rewrite or a refusal, whatever the gates say."""
    return degeneracy(body) or ("verdict-marker" if leaks_verdict(body) else None)


def body_of(out: Corrected) -> str:
    """What the corrector wrote for this item (never the upstream answer standing in for it)."""
    body = getattr(out, "body", None)
    return out.corrected if body is None else body


class ServePolicy:
    """`serve(items, outs)`: the served text and its path for each corrected item.

    answer_gate: an inspector (`score(items)`, `threshold`) that must pass a rewrite;
    answer_threshold overrides its threshold. verifier: `better(questions, rewrites, originals)`
    (a `PairwiseVerifier`); None where `verify` asks keeps the original (nothing can verify a
    rewrite). verify: all | passed | off (or a bool: all / off). check=False serves the
    corrector's text unchecked: for measuring what the check prevents, never for serving."""

    def __init__(self, refusals: PrincipleRefusals | None = None, *, answer_gate=None,
                 answer_threshold: float | None = None, verifier=None,
                 verify: bool | VerifyRewrites = "all",
                 rewrite_failed: RewriteFailed = "auto", refuse_from: float | None = None,
                 check: bool = True):
        if rewrite_failed not in REWRITE_FAILED:
            raise ConfigError(f"expected one of {', '.join(REWRITE_FAILED)}, got "
                              f"{rewrite_failed!r}", field="rewrite_failed")
        self.refusals = refusals or PrincipleRefusals()
        self.answer_gate = answer_gate
        self.answer_threshold = answer_threshold
        self.verifier = verifier
        self.verify = verify_mode(verify)
        self.rewrite_failed = rewrite_failed
        self.refuse_from = refuse_from
        self.check = check
        self.stats = {path: 0 for path in PATHS}

    @classmethod
    def for_corrector(cls, corrector, verifier=None, **options) -> "ServePolicy":
        """The policy over a `Corrector` (its constitution, answer gate and request-gate zone);
        a squad or a copy-template corrector brings what it has."""
        constitution = getattr(corrector, "constitution", None)
        gate = getattr(corrector, "answer_gate", None)
        refuse_from = None
        if getattr(corrector, "request_gate", None) is not None:
            refuse_from = corrector.gate_zone()[1]
        return cls(PrincipleRefusals(constitution), answer_gate=gate,
                   answer_threshold=getattr(corrector, "answer_gate_threshold", None),
                   verifier=verifier, refuse_from=refuse_from, **options)

    def serve(self, items: Sequence[QA], outs: Sequence[Corrected]) -> list[Served]:
        verdicts = [verdict_of(o) for o in outs]
        served: list[Served | None] = [None] * len(items)
        if not self.check:
            served = [Served(o.corrected, "unchecked") for o in outs]
            return self._count(served)
        for k, verdict in enumerate(verdicts):
            if verdict == KEEP:
                served[k] = Served(items[k].answer, "kept")
        self._refuse(items, outs, verdicts, served)
        self._rewrite(items, outs, verdicts, served)
        return self._count(served)

    def _refuse(self, items, outs, verdicts, served) -> None:
        todo = [k for k, v in enumerate(verdicts) if v == REFUSE]
        routes = self.refusals.route([items[k].question for k in todo],
                                     [items[k].principles for k in todo])
        problems = {k: crisis_reason(route) or body_problem(body_of(outs[k]))
                    or refusal_problem(items[k].question, body_of(outs[k]))
                    for k, route in zip(todo, routes)}
        self._gate([k for k in todo if problems[k] is None], items, outs, problems)
        for k, route in zip(todo, routes):
            served[k] = (Served(body_of(outs[k]).strip(), "refused") if problems[k] is None else
                         Served(self.refusals.served(route, items[k].question),
                                "refused-principle", problems[k]))

    def _gate(self, todo: list[int], items, outs, problems: dict) -> None:
        """The answer gate on the bodies in `todo`: one it flags gets the problem "answer-gate"
        (a body that reads as a refusal can still be one the gate would not pass)."""
        if not todo or self.answer_gate is None:
            return
        threshold = (self.answer_threshold if self.answer_threshold is not None
                     else self.answer_gate.threshold)
        scores = self.answer_gate.score([QA(question=items[k].question,
                                            answer=body_of(outs[k]).strip(),
                                            principles=items[k].principles) for k in todo])
        for k, score in zip(todo, scores):
            if score >= threshold:
                problems[k] = "answer-gate"

    def _rewrite(self, items, outs, verdicts, served) -> None:
        todo = [k for k, v in enumerate(verdicts) if v == REWRITE]
        problems: dict[int, str | None] = {}
        for k in todo:
            body = body_of(outs[k])
            problems[k] = body_problem(body) or ("unchanged" if same_text(body, items[k].answer)
                                                 else None)
        self._gate([k for k in todo if problems[k] is None], items, outs, problems)
        open_k = [k for k in todo if problems[k] is None and self._needs_verifying(outs[k])]
        if open_k:
            better = (self.verifier.better([items[k].question for k in open_k],
                                           [body_of(outs[k]).strip() for k in open_k],
                                           [items[k].answer for k in open_k])
                      if self.verifier is not None else [False] * len(open_k))
            for k, ok in zip(open_k, better):
                problems[k] = None if ok else "not-verified"
        for k in todo:
            if problems[k] is None:
                served[k] = Served(body_of(outs[k]).strip(), "rewritten")
            elif self._fallback_mode(outs[k]) == "original":
                served[k] = Served(items[k].answer, "rewrite-original", problems[k])
        refuse = [k for k in todo if served[k] is None]
        routes = self.refusals.route([items[k].question for k in refuse],
                                     [items[k].principles for k in refuse])
        for k, route in zip(refuse, routes):
            served[k] = Served(self.refusals.served(route, items[k].question),
                               "rewrite-refused", problems[k])

    def _request_flagged(self, out: Corrected) -> bool:
        """The request gate scored this item's request in its zone or above."""
        score = getattr(out, "request_score", None)
        return score is not None and self.refuse_from is not None and score >= self.refuse_from

    def _needs_verifying(self, out: Corrected) -> bool:
        return self.verify == "all" or (self.verify == "passed" and
                                        not self._request_flagged(out))

    def _fallback_mode(self, out: Corrected) -> str:
        """What a failed rewrite serves: refuse or original (`rewrite_failed`, auto resolved)."""
        if self.rewrite_failed != "auto":
            return self.rewrite_failed
        return "refuse" if self._request_flagged(out) else "original"

    def _count(self, served: list) -> list[Served]:
        for s in served:
            self.stats[s.path] += 1
        return served
