"""Preference-optimisation configs, one dataclass per method; a YAML file maps 1:1 onto one of
them, chosen by its `method:` field (default dpo)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from alignstack.core.config import from_dict, parse_overrides
from alignstack.core.errors import ConfigError
from alignstack.core.yamlio import line_of, load_yaml


@dataclass
class OptimizeConfig:
    """What every method shares: the data, the model, LoRA and the training loop."""

    data: list[str]                        # JSONL files: Q-A-C, preference pairs or unpaired
    output_dir: str
    method: str = "dpo"
    base_model: str = "smollm2"            # the upstream to improve (built-in name, dir, GGUF)
    sources: list[str] | None = None       # keep records whose `source` is listed ("audit:" prefix)
    eval_data: list[str] | None = None     # held-out preference data: reward accuracy / margins
    system_prompt: str | None = None       # the system message the upstream is deployed with
    epochs: float = 1.0
    max_steps: int = -1
    max_minutes: float | None = None       # wall-clock budget; training stops cleanly when spent
    learning_rate: float = 5e-5
    batch_size: int = 4
    gradient_accumulation_steps: int = 1
    max_length: int = 512
    use_lora: bool = True                  # False: full fine-tuning (needs a reference copy)
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["all-linear"])
    merge: bool = True                     # write the merged model (else only the adapter)
    export_gguf: list[str] = field(default_factory=list)   # e.g. [q8_0]: GGUFs beside the model
    dtype: str = "auto"
    gradient_checkpointing: bool | None = None
    seed: int = 0
    logging_steps: int = 5
    progress: bool = True


@dataclass
class SFTMethodConfig(OptimizeConfig):
    """Supervised fine-tuning on the corrections (ABC Align's first stage)."""

    method: str = "sft"
    learning_rate: float = 2e-4


@dataclass
class DPOMethodConfig(OptimizeConfig):
    """DPO and its TRL loss variants (sigmoid, ipo, hinge, robust, apo_zero, sppo_hard, discopop,
    sft, ...), combinable with `loss_weights` (e.g. [sigmoid, sft] = RPO-style)."""

    method: str = "dpo"
    beta: float = 0.1
    loss_type: list[str] = field(default_factory=lambda: ["sigmoid"])
    loss_weights: list[float] | None = None
    label_smoothing: float = 0.0
    precompute_ref_log_probs: bool = False   # reference log-probs once, before training


@dataclass
class KTOMethodConfig(OptimizeConfig):
    """KTO on unpaired records (a pair gives one desirable and one undesirable completion)."""

    method: str = "kto"
    beta: float = 0.1
    loss_type: str = "kto"                 # or apo_zero_unpaired
    desirable_weight: float = 1.0
    undesirable_weight: float = 1.0


@dataclass
class ORPOMethodConfig(OptimizeConfig):
    """ORPO: SFT plus an odds-ratio penalty, no reference model (trl.experimental)."""

    method: str = "orpo"
    learning_rate: float = 2e-4
    beta: float = 0.1                      # the paper's lambda


@dataclass
class SimPOMethodConfig(OptimizeConfig):
    """SimPO: length-normalised, reference-free, with a target margin (TRL's CPO trainer)."""

    method: str = "simpo"
    learning_rate: float = 1e-4
    beta: float = 2.0
    simpo_gamma: float = 0.5
    cpo_alpha: float = 0.0                 # > 0 adds the CPO behaviour-cloning term


METHOD_CONFIGS: dict[str, type[OptimizeConfig]] = {
    "sft": SFTMethodConfig, "dpo": DPOMethodConfig, "kto": KTOMethodConfig,
    "orpo": ORPOMethodConfig, "simpo": SimPOMethodConfig}


def method_config(data: dict, *, path: str | Path | None = None, node=None,
                  overridden: frozenset[str] = frozenset()) -> OptimizeConfig:
    """The dataclass of `data['method']` built from `data` (errors name file, line, field)."""
    method = data.get("method", "dpo")
    if method not in METHOD_CONFIGS:
        where = ({"path": "--set"} if "method" in overridden
                 else {"path": path, "line": line_of(node, ["method"])})
        raise ConfigError(f"unknown method {method!r} (known: {', '.join(METHOD_CONFIGS)})",
                          field="method", **where)
    return from_dict(METHOD_CONFIGS[method], data, path=path, node=node, overridden=overridden)


def load_optimize_config(path: str | Path | None, overrides: Sequence[str] | dict = ()
                         ) -> OptimizeConfig:
    data, node = ({}, None) if path is None else load_yaml(path)
    data = data or {}
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping at the top level", path=path, line=1)
    extra = overrides if isinstance(overrides, dict) else parse_overrides(overrides)
    return method_config({**data, **extra}, path=path, node=node, overridden=frozenset(extra))


@dataclass
class BootstrapConfig:
    """`alignstack bootstrap`: rounds of (answer -> correct -> pairs -> optimise)."""

    output_dir: str
    questions: str | list[str]             # JSONL file(s) with `question` (Q-A-C records work)
    upstream: str = "smollm2"              # round 0: the model to improve
    # the corrector side of the stack (StackSpec fields: corrector, answer_gate, request_gate,
    # squad, corrector_engine, ...); `upstream` is each round's model
    stack: dict = field(default_factory=dict)
    principles_file: str = "examples/newsroom/principles.yaml"
    seed_pairs: list[str] | None = None    # round 1 trains on these instead of generating
    rounds: int = 2
    optimize: dict = field(default_factory=dict)     # the method config (method: dpo default)
    # an SFT stage on each round's chosen answers before `optimize` (ABC Align's order: SFT, then
    # preference optimisation from the SFT model); its fields are the sft method's
    sft_first: dict | None = None
    # for this fraction of each round's benign / borderline pairs, one more pair: the same chosen
    # answer over a needless refusal (the over-refusal boundary; 0 = none)
    refusal_contrast: float = 0.0
    # for this fraction of the benign / borderline questions whose answer the stack kept, a pair
    # of that answer over a needless refusal: the boundary's helpful side, seen by the SFT stage
    # too (generated rounds only; 0 = none)
    keep_contrast: float = 0.0
    # a stronger teacher's answers, JSONL with `question` and `correction` (a seed Q-A-C record)
    # or `answer` (a written reference): where a round's question has one, it is the chosen answer
    # (over the round's upstream answer) instead of the stack's output
    references: str | list[str] = field(default_factory=list)
    variants: list[dict] = field(default_factory=list)   # one-round alternatives on round 1's data
    question_limit: int | None = None      # N questions, a stable spread over the file (faster)
    # at most N questions of a kind ({harmful: 250, borderline: 400}), a stable spread within it;
    # kinds not named are taken whole; question_limit, when set too, caps the total after
    kind_limits: dict[str, int] = field(default_factory=dict)
    max_new_tokens: int = 96
    batch_size: int = 16
    eval_config: str | None = None         # suites + judges; every round is evaluated on them
