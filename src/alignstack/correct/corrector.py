"""Batched corrector inference: (question, answer) -> corrected answer, identity when it is fine.

Verdict templates run in one pass: each item's completion opens with its verdict and a rewrite
follows only where it is not KEEP, so a good answer costs a verdict, not a copy, and no prompt is
prefilled twice (only a verdict the gates override is generated again after the right head).
An optional answer gate (an inspector: P(misaligned | question, answer)) decides whether to
change the answer at all, instead of the corrector's own verdict. An optional request gate (a
classifier of the question: P(harmful request)) constrains the verdict: a request it flags may
be kept or refused, never rewritten; one it clearly passes may be kept or rewritten, never
refused; in between (the uncertain zone) the corrector decides. The zone runs from the gate's
target-recall threshold (below it, almost no harmful request lies on the calibration split) to its
own threshold (above it, almost no benign one). The classifier decides *whether* to refuse where
it is sure, the corrector *writes*.

Every result carries an `outcome`: kept, rewritten, refused, or empty / looped (the correction
was unusable), and its `body` (what the corrector wrote). The corrector proposes; what is served
is decided by the stack's one exit (`correct.exit.ServePolicy`), which checks the body.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from alignstack.backends.base import GenParams
from alignstack.core.principles import Constitution, load_constitution
from alignstack.core.records import QA, Corrected, degeneracy, normalise, same_text
from alignstack.correct.template import KEEP, REFUSE, REWRITE, VERDICTS, get_template
from alignstack.correct.train import prompt_principles, read_meta

class RequestGate(Protocol):
    """P(harmful request) from the question alone, and the threshold above which it flags
    (`info["thresholds_by_rule"]["target_recall"]`, when present, bounds the uncertain zone)."""
    threshold: float

    def score(self, items: list[QA]) -> list[float]: ...


def gated_verdict(generated: str | None, p_harm: float | None,
                  zone: tuple[float, float] | None, bad: bool | None,
                  refuse_flagged: bool = False) -> str:
    """The verdict, from the corrector's own (`generated`, None when absent or unparsed), the
    request gate's P(harmful request) with its zone (refuse at or above `zone[0]`, never refuse
    below `zone[1]`), and the answer gate's flag (the inspector: is this answer misaligned?).

    With an answer gate, it decides whether to change the answer at all; the request gate (else
    the corrector) decides between a refusal and a rewrite. Without one, the corrector decides to
    keep, and the request gate constrains a change. `refuse_flagged`: a request at or above the
    refusal cut is refused even when the answer gate passes its answer (the request gate
    outranks the answer gate there; an answer that already refused is replaced by a refusal)."""
    if refuse_flagged and p_harm is not None and p_harm >= zone[0]:
        return REFUSE
    if bad is not None:
        if not bad:
            return KEEP
        if p_harm is None:
            return generated if generated in (REWRITE, REFUSE) else REWRITE
        high, low = zone
        if p_harm >= high:
            return REFUSE
        if p_harm < low:
            return REWRITE
        if generated in (REWRITE, REFUSE):
            return generated
        return REFUSE if p_harm >= 0.5 else REWRITE
    verdict = generated or REWRITE
    if p_harm is None or verdict == KEEP:
        return verdict
    high, low = zone
    if p_harm >= high:
        return REFUSE
    return REWRITE if verdict == REFUSE and p_harm < low else verdict


def cut_loop(text: str, n: int = 5) -> str:
    """The text up to where a word n-gram starts repeating (what a loop said before looping)."""
    words = text.split()
    seen: set[tuple[str, ...]] = set()
    for i in range(len(words) - n + 1):
        gram = tuple(w.lower() for w in words[i:i + n])
        if gram in seen:
            return " ".join(words[:i])
        seen.add(gram)
    return text


def after_verdict(text: str) -> str:
    """A generated completion's body: what follows its opening verdict word."""
    parts = text.strip().split(maxsplit=1)
    return parts[1] if len(parts) > 1 else ""


CORRECTOR_ENGINES = ("transformers", "llamacpp")


def corrector_engine(source: str, meta: dict | None, engine: str, *, batch_size: int = 8,
                     device: str = "auto", dtype: str = "auto", lora_scale: float = 1.0,
                     gguf: str | None = None):
    """The engine a corrector generates with. `lora_scale` 0 gives the same llama.cpp engine as
    the bare base (an upstream sharing the corrector's base in memory). `gguf`: on llama.cpp,
    run this merged export of the corrector (`alignstack quantize`) instead of base + LoRA."""
    from alignstack.backends.base import load_backend

    if engine not in CORRECTOR_ENGINES:
        from alignstack.core.errors import ConfigError

        raise ConfigError(f"unknown corrector engine '{engine}' "
                          f"(known: {', '.join(CORRECTOR_ENGINES)})", field="engine")
    if engine == "llamacpp" and gguf:
        return load_backend("llamacpp", model=gguf, parallel=batch_size)
    if engine == "llamacpp":
        base, lora = corrector_gguf(source, meta)
        return load_backend("llamacpp", model=base, lora=lora, lora_scales=[lora_scale] * len(lora),
                            parallel=batch_size)
    if meta:
        return load_backend("transformers", model=meta["base_model"],
                            adapter=str(Path(source) / meta["adapter"]), device=device,
                            dtype=dtype, batch_size=batch_size)
    return load_backend("transformers", model=source, device=device, dtype=dtype,
                        batch_size=batch_size)


def upstream_engine(kind: str, upstream: str, *, corrector: str | None = None,
                    corrector_engine_kind: str = "transformers", base_url: str | None = None,
                    batch_size: int = 8, http_options: dict | None = None):
    """The upstream's engine. On llama.cpp, an upstream that is its llama.cpp corrector's base
    shares the corrector's engine (the adapter at scale 0): one base in memory, one batcher.
    `http_options` (timeout, max_retries) apply to an OpenAI-compatible upstream."""
    from alignstack.backends.base import open_backend

    if (kind == "llamacpp" and corrector_engine_kind == "llamacpp" and corrector
            and Path(corrector).is_dir()):
        meta = read_meta(corrector)
        if meta["base_model"] == upstream:
            return corrector_engine(corrector, meta, "llamacpp", batch_size=batch_size,
                                    lora_scale=0.0)
    return open_backend(kind, upstream, base_url=base_url, batch_size=batch_size,
                        **((http_options or {}) if kind == "openai" else {}))


def corrector_gguf(source: str, meta: dict | None) -> tuple[str, list[str]]:
    """(base GGUF, [its LoRA as GGUF]) for llama.cpp: a `train corrector` directory over a
    built-in or GGUF base (its adapter converted once into the cache), or a GGUF file."""
    from alignstack.core.errors import ConfigError

    if meta is None:
        if str(source).endswith(".gguf"):
            return str(source), []
        raise ConfigError(f"{source}: llama.cpp runs a GGUF file or a `train corrector` "
                          f"directory; export this model first (alignstack export)")
    from alignstack.quantize.lora_gguf import cached_lora_gguf

    return meta["base_model"], [str(cached_lora_gguf(Path(source) / meta["adapter"],
                                                     meta["base_model"]))]


class Corrector:
    """Load with `Corrector.load(dir_or_model)`; `correct(items)` runs in batches."""

    def __init__(self, generator, template_name: str, constitution: Constitution | None = None,
                 principles_in_prompt: str = "all", max_new_tokens: int = 160,
                 extra_tokens: int = 48, no_repeat_ngram_size: int = 4,
                 repetition_penalty: float = 1.0,
                 request_gate: RequestGate | None = None, gate_threshold: float | None = None,
                 gate_pass_threshold: float | None = None, answer_gate=None,
                 answer_gate_threshold: float | None = None, refuse_flagged: bool = False,
                 refusal_max_new_tokens: int | None = 96):
        self.generator = generator
        self.template = get_template(template_name, generator)
        self.constitution = constitution
        self.principles_in_prompt = principles_in_prompt
        self.max_new_tokens = max_new_tokens
        self.extra_tokens = extra_tokens
        self.no_repeat_ngram_size = no_repeat_ngram_size
        self.repetition_penalty = repetition_penalty
        self.request_gate = request_gate
        self.gate_threshold = gate_threshold
        self.gate_pass_threshold = gate_pass_threshold
        self.answer_gate = answer_gate          # an inspector: P(misaligned | question, answer)
        self.answer_gate_threshold = answer_gate_threshold
        self.refuse_flagged = refuse_flagged    # its refusal cut outranks the answer gate
        # a REFUSE body's own budget (None: max_new_tokens). A refusal and its alternative are
        # short (the longest in the seed data is 82 tokens); one still going after this many is
        # unfinished, which the exit rejects, so its decode steps are not spent
        self.refusal_max_new_tokens = refusal_max_new_tokens
        self.stats = {"items": 0, "kept": 0, "rewritten": 0, "refused": 0, "empty": 0,
                      "looped": 0, "unparsed_verdicts": 0, "overridden_verdicts": 0}

    @classmethod
    def load(cls, source: str, *, template: str | None = None, principles_file: str | None = None,
             batch_size: int = 8, max_new_tokens: int = 160, device: str = "auto",
             dtype: str = "auto", engine: str = "transformers", gguf: str | None = None,
             **options) -> "Corrector":
        """`source`: a directory written by `train corrector` (base + LoRA adapter), or any causal
        LM (e.g. a released Aligner checkpoint with template='aligner-v1'). `engine`:
        transformers (the adapter merged), or llamacpp (the base's GGUF with the adapter as a GGUF
        LoRA, converted once; or `gguf`, a merged export). `options`: the constructor's
        (request_gate, gate_threshold, gate_pass_threshold, answer_gate, answer_gate_threshold,
        refuse_flagged, refusal_max_new_tokens, no_repeat_ngram_size, repetition_penalty)."""
        meta = read_meta(source) if Path(source).is_dir() else None
        constitution = load_constitution(principles_file) if principles_file else None
        generator = corrector_engine(source, meta, engine, batch_size=batch_size, device=device,
                                     dtype=dtype, gguf=gguf)
        if meta:
            if constitution is None and meta.get("principles"):
                constitution = Constitution.model_validate(meta["principles"])
            return cls(generator, template or meta["template"], constitution,
                       meta.get("principles_in_prompt", "all"), max_new_tokens, **options)
        return cls(generator, template or "aligner-v1", constitution, "none", max_new_tokens,
                   **options)

    def prompts(self, items: list[QA]) -> list[str]:
        return [self.template.prompt(i.question, i.answer,
                                     prompt_principles(self.constitution, i.principles,
                                                       self.principles_in_prompt))
                for i in items]

    def token_limits(self, items: list[QA]) -> list[int]:
        """Copy templates: room to copy the answer plus some (a correction rarely needs much
        more). Verdict templates write anew: the full budget."""
        if self.template.verdicts:
            return [self.max_new_tokens] * len(items)
        counts = self.generator.count_tokens([i.answer for i in items])
        return [min(self.max_new_tokens, n + self.extra_tokens) for n in counts]

    def rewrite_params(self, **extra) -> GenParams:
        """The loop guard: no word-piece 4-gram twice. Measured 2026-12-01 on 256 gated
        corrections of the eval prompts: 8 % looped with 12-grams, 1.6 % with 6, 0 with 4 (and 0
        with a 1.15 repetition penalty), the refusal judge's labels unchanged (50, 49, 51 of 91)."""
        return GenParams(no_repeat_ngram_size=self.no_repeat_ngram_size,
                         repetition_penalty=self.repetition_penalty, **extra)

    def correct(self, items: list[QA]) -> list[Corrected]:
        if not items:
            return []
        if self.template.verdicts:
            results = self._correct_with_verdicts(items)
        else:
            outs = self.generator.generate_text(self.prompts(items), self.rewrite_params(),
                                                max_new_tokens=self.token_limits(items))
            results = [self._result(item, REWRITE, out.text) for item, out in zip(items, outs)]
        self.stats["items"] += len(items)
        for r in results:
            self.stats[r.outcome] += 1
        return results

    def gate_signals(self, items: list[QA]) -> tuple[list, list]:
        """Per item: the request gate's P(harmful request), the max over the question's views
        (`correct.views`: decoded, unscrambled, folded, its tail), and the answer gate's flag
        (None where that gate is absent)."""
        harm = (self.request_harm([i.question for i in items]) if self.request_gate is not None
                else [None] * len(items))
        bad = self.answer_flags(items) if self.answer_gate is not None else [None] * len(items)
        return harm, bad

    def answer_flags(self, items: list[QA]) -> list[bool]:
        """The answer gate's flag per item: is this answer misaligned (at its threshold)?"""
        return [p >= self.answer_threshold() for p in self.answer_gate.score(items)]

    def request_harm(self, questions: list[str]) -> list[float]:
        """The request gate's P(harmful request) per question: the max over its views
        (`correct.views`: decoded, unscrambled, folded, its tail)."""
        from alignstack.correct.views import max_over_views

        return max_over_views(lambda texts: self.request_gate.score(
            [QA(question=t, answer="") for t in texts]), questions)

    def verdict_rule(self, items: list[QA]):
        """(decide, harm): decide(k, generated) is item k's final verdict given the corrector's
        own (None when absent or unparsed), from the gates' signals; harm[k] the request gate's
        P(harmful request) (None without one)."""
        harm, bad = self.gate_signals(items)
        zone = self.gate_zone() if self.request_gate is not None else None
        return (lambda k, generated: gated_verdict(generated, harm[k], zone, bad[k],
                                                   self.refuse_flagged)), harm

    def answer_threshold(self) -> float:
        return (self.answer_gate_threshold if self.answer_gate_threshold is not None
                else self.answer_gate.threshold)

    def read_completion(self, item: QA, text: str) -> str:
        """The answer a whole sampled completion stands for: the item's own answer for KEEP (or
        nothing usable), else the text after the verdict (verdict templates)."""
        text = text.strip()
        if self.template.verdicts:
            verdict = self.template.parse_verdict(text)
            if verdict == KEEP:
                return item.answer
            if verdict is not None:
                text = after_verdict(text)
        return text or item.answer

    def gate_zone(self) -> tuple[float, float]:
        """(refuse at or above, never refuse below) on the request gate's P(harmful)."""
        high = self.gate_threshold if self.gate_threshold is not None \
            else self.request_gate.threshold
        low = self.gate_pass_threshold
        if low is None:
            low = (getattr(self.request_gate, "info", None) or {}).get(
                "thresholds_by_rule", {}).get("target_recall", high)
        return high, min(low, high)

    def _correct_with_verdicts(self, items: list[QA]) -> list[Corrected]:
        """One generation pass: an item whose verdict the gates settle gets that verdict's head
        and its body is generated; an open one generates its own verdict and the body after it
        in the same pass (a KEEP ends there), so nothing is prefilled twice. Only an item whose
        generated verdict the gates then override is generated again, after the right head."""
        prompts = self.prompts(items)
        decide, harm = self.verdict_rule(items)
        # the verdict the gates give whatever the corrector would say, else None (still open)
        outcomes = [{decide(k, v) for v in (None, *VERDICTS)} for k in range(len(items))]
        settled = [next(iter(o)) if len(o) == 1 else None for o in outcomes]
        verdicts: list[str] = [v or "" for v in settled]
        bodies: dict[int, str] = {}
        todo = [k for k, v in enumerate(settled) if v != KEEP]
        outs = self._generate([prompts[k] + (self.template.head(settled[k]) if settled[k] else "")
                               for k in todo], [self.body_limit(settled[k]) for k in todo])
        redo = []
        for k, out in zip(todo, outs):
            if settled[k]:
                bodies[k] = out.text
                continue
            own = self.template.parse_verdict(out.text)
            self.stats["unparsed_verdicts"] += own is None
            verdicts[k] = decide(k, own)
            self.stats["overridden_verdicts"] += own is not None and own != verdicts[k]
            if verdicts[k] == own and own != KEEP:
                bodies[k] = after_verdict(out.text)
            elif verdicts[k] != KEEP:
                redo.append(k)
        again = self._generate([prompts[k] + self.template.head(verdicts[k]) for k in redo],
                               [self.body_limit(verdicts[k]) for k in redo])
        bodies.update({k: out.text for k, out in zip(redo, again)})
        return [self._result(item, verdicts[k], bodies.get(k, ""), harm[k])
                for k, item in enumerate(items)]

    def body_limit(self, verdict: str | None) -> int:
        """New tokens for a body after `verdict` (None: the verdict is generated too)."""
        if verdict == REFUSE and self.refusal_max_new_tokens:
            return min(self.refusal_max_new_tokens, self.max_new_tokens)
        return self.max_new_tokens

    def _generate(self, prompts: list[str], limits: list[int]):
        """One engine call per token limit, so no batch runs a short-limit row's decode steps
        to a longer limit."""
        outs: list = [None] * len(prompts)
        for limit in sorted(set(limits)):
            picked = [k for k, own in enumerate(limits) if own == limit]
            done = self.generator.generate_text([prompts[k] for k in picked],
                                                self.rewrite_params(),
                                                max_new_tokens=[limit] * len(picked))
            for k, out in zip(picked, done):
                outs[k] = out
        return outs

    def _result(self, item: QA, verdict: str, text: str,
                request_score: float | None = None) -> Corrected:
        """The corrector's proposal: `body` is what it wrote (a loop cut where it began looping;
        "" for KEEP or nothing), `corrected` the body or, where there is none, the answer. What
        is served is decided by the stack's exit (`correct.exit`), never here."""
        text = text.strip()
        broken = None if verdict == KEEP else degeneracy(text)
        if broken == "looped":
            text = cut_loop(text)
        body = "" if verdict == KEEP else text
        final = item.answer if verdict == KEEP or not normalise(text) else text
        outcome = broken or {KEEP: "kept", REWRITE: "rewritten", REFUSE: "refused"}[verdict]
        if outcome == "rewritten" and same_text(final, item.answer):
            outcome = "kept"
        return Corrected(question=item.question, answer=item.answer, principles=item.principles,
                         corrected=final, changed=not same_text(final, item.answer),
                         verdict=verdict, outcome=outcome, body=body,
                         request_score=None if request_score is None
                         else round(float(request_score), 4))
