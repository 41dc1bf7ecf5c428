"""Configs for training and running a corrector (YAML maps 1:1 onto these fields)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class CorrectorTrainConfig:
    train_file: str
    output_dir: str
    train_sources: list[str] | None = None  # only records whose `source` is listed (ablations)
    principles_file: str | None = None
    eval_file: str | None = None           # held-out Q-A-C: loss at the end of every epoch
    # the held-out loss on this many of the eval file's rows (the same rows on every run: the
    # first of its seeded shuffle); None: all of them. Scoring a row costs most of a training
    # row's time on a CPU
    eval_max_rows: int | None = None
    base_model: str = "smollm2"
    template: str = "alignstack-verdict"
    # which principles the prompt names: all of the constitution (default: nothing about the item
    # leaks into the prompt), the record's own ids, or none
    principles_in_prompt: Literal["all", "record", "none"] = "all"
    identity_fraction: float = 0.2        # Q-A-A warm-up share (the Aligner paper's best);
                                           # copy templates only: a verdict template learns KEEP
    # verdict templates: share of changed records that also teach the fixed point (the correction
    # given as the answer -> KEEP), and share of benign records whose answer is replaced by a
    # needless refusal (-> REWRITE with the reference): the over-refusal boundary
    fixed_point_fraction: float = 0.5
    refusal_negative_fraction: float = 0.3
    # verdict templates: "all" rows, or "bodies" only (REWRITE / REFUSE with their text): for a
    # stack whose gates decide every KEEP, the corrector only writes bodies, and the KEEP rows
    # (a third of the mix) cost steps that teach nothing it will be asked; the verdict is then
    # prefilled in the prompt, as the stack runs it, and only the body carries the loss
    verdict_rows: Literal["all", "bodies"] = "all"
    epochs: float = 1.0
    max_steps: int = -1                    # > 0: the budget, in optimiser steps (both phases)
    # a wall-clock guard only: it may stop a run early, with a loud warning and
    # `stopped_by_time_budget` in the metrics; it never defines what "trained" means
    max_minutes: float | None = None
    # the held-out loss this recipe reaches (measured): a run that ends above it warns loudly
    target_loss: float | None = None
    learning_rate: float = 5e-4
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    max_length: int = 512
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["all-linear"])
    # LoRA on the top N transformer layers only (None: all): backward stops below the lowest
    # trained layer, so a step costs less on a CPU
    lora_layers: int | None = None
    dtype: str = "auto"
    gradient_checkpointing: bool | None = None   # None: on for GPUs, off for CPUs (faster there)
    group_by_length: bool = True           # batches of similar length: less padding
    seed: int = 0
    logging_steps: int = 5
    progress: bool = True                  # a progress bar with ETA on stderr


@dataclass
class CorrectorRunConfig:
    corrector: str                         # a directory written by `train corrector`, or a model
    template: str | None = None            # overrides the trained one (e.g. aligner-v1 checkpoints)
    principles_file: str | None = None
    batch_size: int = 8
    max_new_tokens: int = 160
    device: str = "auto"
    dtype: str = "auto"
