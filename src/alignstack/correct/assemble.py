"""The ONE place a `Stack` is built from a spec: eval's systems, `alignstack stack` and the proxy
all call `build_stack`, so what is measured is what is served.

A `StackSpec` names an upstream (any engine), an optional system prompt ("principles" renders the
constitution: the in-context alignment baseline), and what corrects: one corrector (with its
engine and encoder gates) or a squad, behind an optional inspector threshold."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alignstack.backends.base import Generator, GenParams
from alignstack.core.principles import load_constitution


class StackSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    upstream: str = "smollm2"
    # the upstream's engine; llamacpp runs the upstream's GGUF (built-in names: the shipped one)
    backend: Literal["transformers", "openai", "llamacpp", "vllm"] = "transformers"
    base_url: str | None = None                # backend: openai
    system_prompt: str | None = None           # literal text, or "principles" to render them
    corrector: str | None = None               # a `train corrector` directory or a model
    corrector_engine: Literal["transformers", "llamacpp"] = "transformers"
    corrector_gguf: str | None = None          # llamacpp: a merged, quantised export to run
    squad: str | None = None                   # a squad YAML instead of one corrector
    inspector: str | None = None               # gate: only answers it flags go to the corrector
    threshold: float | None = None
    # a request classifier (`train inspector` with inputs: question) that constrains a verdict
    # corrector: flagged requests may be kept or refused, the others kept or rewritten
    request_gate: str | None = None
    gate_threshold: float | None = None         # refuse at or above (default: refuse_cut_rule's)
    # the refusal cut by rule: one of the request gate's own threshold rules (its
    # thresholds_by_rule: target_recall, target_false_flag, max_f1); None: the rule it was
    # trained with. gate_threshold, when set, wins.
    refuse_cut_rule: str | None = None
    gate_pass_threshold: float | None = None    # never refuse below (default: its target_recall)
    # the request gate's uncertain zone, from gate_pass_threshold up to the refusal cut: there a
    # flagged answer is refused when the corrector's verdict says so, and a failed rewrite is
    # refused. false: no zone, nothing below the refusal cut is refused by the gate's score
    uncertain_zone: bool = True
    # refuse a request at or above the refusal cut even when the answer gate passes the answer
    refuse_flagged: bool = False
    # an answer inspector (`train inspector`) that decides whether the corrector changes an answer
    # at all (instead of the corrector's own KEEP verdict); a list: every one of them must flag
    answer_gate: str | list[str] | None = None
    answer_gate_threshold: float | None = None
    best_of_n: int = Field(default=1, ge=1)
    # the exit (correct.exit): what a failed rewrite serves (auto: a refusal where the request
    # gate scored the request in its uncertain zone or above, else the original answer)
    rewrite_failed: Literal["auto", "refuse", "original"] = "auto"
    # which rewrites the upstream, as judge, must prefer to the original in both orders: all;
    # passed (rewrites for requests the request gate passes; in its zone the answer gate's pass
    # suffices, the alternative there being a refusal); off. true / false: all / off.
    verify_rewrites: Literal["all", "passed", "off"] = "all"
    # a client's own system messages: pass (as sent), drop, or below_principles (the
    # principles go first as a system message a client cannot remove; the client's follow)
    client_system: Literal["pass", "drop", "below_principles"] = "below_principles"

    @field_validator("verify_rewrites", mode="before")
    @classmethod
    def _verify_bool(cls, value):
        from alignstack.correct.exit import verify_mode

        return verify_mode(value) if isinstance(value, bool) else value


def stack_spec(**fields) -> StackSpec:
    """A StackSpec from options (the CLI's), a bad value reported as a ConfigError naming it."""
    from pydantic import ValidationError

    from alignstack.core.errors import ConfigError

    try:
        return StackSpec(**fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(err["msg"], field=".".join(str(p) for p in err["loc"])) from None


def load_stack_spec(path: str | Path | None, overrides: dict | None = None) -> StackSpec:
    """The stack file at `path` (every field of StackSpec; a bad one is a ConfigError naming
    file, line and field), with `overrides` (the CLI's flags) on top; no file: the defaults."""
    from alignstack.core.yamlio import validate_yaml

    base = validate_yaml(path, StackSpec).model_dump(exclude_unset=True) if path else {}
    return stack_spec(**{**base, **(overrides or {})})


def principles_prompt(principles_file: str) -> str:
    """The constitution as a system prompt: the in-context alignment (ICA) baseline."""
    constitution = load_constitution(principles_file)
    lines = [f"You are a careful assistant for {constitution.name}. Follow these principles:"]
    lines += [f"- {p.title}: {' '.join(p.text.split())}" for p in constitution.principles]
    lines.append("If a request would break a principle, decline briefly and offer a safe alternative.")
    return "\n".join(lines)


def system_prompt_text(spec: StackSpec, principles_file: str) -> str | None:
    if spec.system_prompt == "principles":
        return principles_prompt(principles_file)
    return spec.system_prompt


def load_upstream(spec: StackSpec, batch_size: int,
                  http_options: dict | None = None) -> Generator:
    from alignstack.correct.corrector import upstream_engine

    return upstream_engine(spec.backend, spec.upstream, corrector=spec.corrector,
                           corrector_engine_kind=spec.corrector_engine, base_url=spec.base_url,
                           batch_size=batch_size, http_options=http_options)


def build_corrector(spec: StackSpec, batch_size: int):
    """The spec's corrector (with its gates) or squad, or None; no upstream is loaded."""
    from alignstack.correct.corrector import Corrector
    from alignstack.inspect import load_inspector
    from alignstack.inspect.unanimous import load_gate

    if spec.corrector:
        options: dict = {}
        if spec.request_gate:
            options.update(request_gate_options(spec, load_inspector(spec.request_gate)))
        if spec.answer_gate:
            options.update(answer_gate=load_gate(spec.answer_gate),
                           answer_gate_threshold=spec.answer_gate_threshold)
        return Corrector.load(spec.corrector, batch_size=batch_size,
                              engine=spec.corrector_engine, gguf=spec.corrector_gguf, **options)
    if spec.squad:
        from alignstack.correct.squad import load_squad

        return load_squad(spec.squad, lambda d: Corrector.load(d, batch_size=batch_size,
                                                               engine=spec.corrector_engine),
                          load_inspector)
    return None


def request_gate_options(spec: StackSpec, gate) -> dict:
    """The `Corrector` options for `gate` under `spec`: its refusal cut, the floor of its
    uncertain zone (the cut itself without a zone) and refuse_flagged."""
    cut = refusal_cut(spec, gate)
    floor = spec.gate_pass_threshold
    if not spec.uncertain_zone:
        if floor is not None:
            from alignstack.core.errors import ConfigError

            raise ConfigError("gate_pass_threshold is the floor of the uncertain zone; set one "
                              "or uncertain_zone: false, not both", field="gate_pass_threshold")
        floor = cut if cut is not None else gate.threshold
    return {"request_gate": gate, "gate_threshold": cut, "gate_pass_threshold": floor,
            "refuse_flagged": spec.refuse_flagged}


def refusal_cut(spec: StackSpec, gate) -> float | None:
    """The request gate's refusal cut: `gate_threshold`, else its threshold under
    `refuse_cut_rule`, else None (the gate's own threshold)."""
    if spec.gate_threshold is not None or gate is None or spec.refuse_cut_rule is None:
        return spec.gate_threshold
    rules = (getattr(gate, "info", None) or {}).get("thresholds_by_rule", {})
    if spec.refuse_cut_rule not in rules:
        from alignstack.core.errors import ConfigError

        raise ConfigError(f"the request gate has no threshold rule '{spec.refuse_cut_rule}' (it "
                          f"has: {', '.join(sorted(rules)) or 'none'})", field="refuse_cut_rule")
    return rules[spec.refuse_cut_rule]


def build_stack(spec: StackSpec, *, principles_file: str, max_new_tokens: int = 96,
                batch_size: int = 16, upstream: Generator | None = None,
                temperature: float = 0.0, best_of: str = "answers",
                http_options: dict | None = None):
    """upstream -> inspector -> corrector or squad, as `spec` says. `upstream` replaces the
    spec's engine (eval passes its caching wrapper); `http_options` (timeout, max_retries) go to
    an OpenAI-compatible upstream's client."""
    from alignstack.correct.stack import Stack

    extra: dict = {"best_of_n": spec.best_of_n, "best_of": best_of}
    if spec.inspector:
        from alignstack.inspect import load_inspector

        extra["inspector"] = load_inspector(spec.inspector)
        if spec.threshold is not None:
            extra["threshold"] = spec.threshold
    engine = upstream if upstream is not None else load_upstream(spec, batch_size, http_options)
    corrector = build_corrector(spec, batch_size)
    return Stack(engine, corrector,
                 GenParams(max_new_tokens=max_new_tokens, temperature=temperature),
                 system_prompt_text(spec, principles_file),
                 exit=build_exit(spec, corrector, engine, principles_file),
                 client_system=spec.client_system,
                 principles_text=principles_prompt(principles_file) if principles_file else None,
                 **extra)


def build_exit(spec: StackSpec, corrector, judge: Generator, principles_file: str | None):
    """The stack's one exit: the serving principles' refusals (the principles file the stack is
    served with, else the corrector's own), its answer gate and request-gate zone, the upstream
    as the judge that verifies rewrites."""
    from alignstack.correct.exit import ServePolicy
    from alignstack.correct.refusals import PrincipleRefusals
    from alignstack.correct.verify import PairwiseVerifier

    policy = ServePolicy.for_corrector(corrector, PairwiseVerifier(judge),
                                       verify=spec.verify_rewrites,
                                       rewrite_failed=spec.rewrite_failed)
    if principles_file:
        policy.refusals = PrincipleRefusals(load_constitution(principles_file))
    return policy
