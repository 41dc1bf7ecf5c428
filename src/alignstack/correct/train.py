"""Train a corrector: TRL SFTTrainer + PEFT LoRA, completion-only loss.

Verdict templates (the default, `alignstack-verdict`) train one phase on a mix built from the Q-A-C
records: a kept answer -> KEEP; a replaced one -> REWRITE / REFUSE (harmful requests) + the
correction; the correction given as the answer -> KEEP (the fixed point); a needless refusal of a
benign request -> REWRITE + the reference (the over-refusal boundary). With `verdict_rows: bodies`
(a stack whose gates decide every verdict) the KEEP rows are left out and the verdict is part of
the prompt, prefilled as the corrector is run, so the loss is the body's alone. Copy templates keep
the Aligner recipe: phase 1 on Q-A-A (identity warm-up, `identity_fraction`), phase 2 on Q-A-C.
The adapter and a `corrector.json` describing how to run it go to output_dir, with
train_metrics.json: step time, tokens/s, the loss curve and the held-out loss per epoch.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from alignstack.backends.hardware import best_device, configure_torch, resolve_dtype
from alignstack.backends.models import resolve
from alignstack.backends.trl_cpu import labelled_positions_only
from alignstack.core.errors import ConfigError, DataError
from alignstack.core.preferences import NEEDLESS_REFUSALS
from alignstack.core.principles import Constitution, load_constitution
from alignstack.core.records import Correction, read_jsonl, same_text, write_json
from alignstack.correct.config import CorrectorTrainConfig
from alignstack.correct.progress import ProgressCallback
from alignstack.correct.template import KEEP, REFUSE, REWRITE, get_template

META_FILE = "corrector.json"


def prompt_principles(constitution: Constitution | None, record_ids: list[str], mode: str):
    if constitution is None or mode == "none":
        return []
    if mode == "all":
        return list(constitution.principles)
    return [constitution.get(i) for i in record_ids if i in constitution.ids]


def build_examples(records: list[Correction], template, constitution: Constitution | None,
                   mode: str, identity: bool) -> list[dict]:
    rows = []
    for rec in records:
        target = rec.answer if identity else rec.correction
        principles = prompt_principles(constitution, rec.principles, mode)
        rows.append({"prompt": template.prompt(rec.question, rec.answer, principles),
                     "completion": template.completion(target)})
    return rows


def verdict_examples(records: list[Correction], template, constitution: Constitution | None,
                     cfg: CorrectorTrainConfig, rng: random.Random) -> list[dict]:
    """The verdict-template training mix (see the module docstring), shuffled."""
    rows = []
    bodies_only = cfg.verdict_rows == "bodies"

    def add(rec: Correction, answer: str, verdict: str, text: str = "") -> None:
        principles = prompt_principles(constitution, rec.principles, cfg.principles_in_prompt)
        prompt = template.prompt(rec.question, answer, principles)
        if bodies_only:   # the gates give the verdict: prefilled, as the corrector is run
            rows.append({"prompt": prompt + template.head(verdict), "completion": text.strip(),
                         "verdict": verdict})
        else:
            rows.append({"prompt": prompt, "completion": template.target(verdict, text),
                         "verdict": verdict})

    for rec in records:
        if same_text(rec.answer, rec.correction):
            if not bodies_only:
                add(rec, rec.answer, KEEP)
            continue
        add(rec, rec.answer, REFUSE if rec.kind == "harmful" else REWRITE, rec.correction)
        if rng.random() < cfg.fixed_point_fraction and not bodies_only:
            add(rec, rec.correction, KEEP)
        if rec.kind in ("benign", "borderline") and rng.random() < cfg.refusal_negative_fraction:
            add(rec, rng.choice(NEEDLESS_REFUSALS), REWRITE, rec.correction)
    rng.shuffle(rows)
    return rows


def training_phases(records: list[Correction], template, constitution: Constitution | None,
                    cfg: CorrectorTrainConfig) -> list[tuple[str, list[dict]]]:
    rng = random.Random(cfg.seed)
    if template.verdicts:
        return [("verdict", verdict_examples(records, template, constitution, cfg, rng))]
    warm = rng.sample(records, k=round(len(records) * cfg.identity_fraction))
    phases = [("identity", build_examples(warm, template, constitution,
                                          cfg.principles_in_prompt, identity=True)),
              ("correction", build_examples(records, template, constitution,
                                            cfg.principles_in_prompt, identity=False))]
    return [(name, rows) for name, rows in phases if rows]


def check_principles(records: list[Correction], constitution: Constitution | None, path: str):
    if constitution is None:
        return
    for number, rec in enumerate(records, start=1):
        for pid in rec.principles:
            if pid not in constitution.ids:
                raise DataError(f"unknown principle id '{pid}' (known: {', '.join(constitution.ids)})",
                                path=path, line=number, field="principles")


def check_room(rows: list[dict], tokenizer, max_length: int, phase: str) -> None:
    """A row whose prompt fills `max_length` has no completion left to learn (TRL drops it):
    every row like that is a ConfigError naming max_length, not an empty dataset deep in TRL."""
    lengths = [len(tokenizer(r["prompt"], add_special_tokens=False)["input_ids"]) for r in rows]
    if lengths and min(lengths) >= max_length:
        raise ConfigError(f"every {phase} row's prompt fills max_length {max_length} (the "
                          f"shortest has {min(lengths)} tokens), leaving no completion to learn: "
                          f"raise max_length", field="max_length")


class TimeBudget:
    """A TrainerCallback factory: stop training cleanly once `seconds` have passed."""

    @staticmethod
    def callback(seconds: float | None):
        from transformers import TrainerCallback

        class _Budget(TrainerCallback):
            def __init__(self):
                self.started = time.monotonic()
                self.stopped_early = False

            def on_step_end(self, args, state, control, **kwargs):
                if seconds is not None and time.monotonic() - self.started > seconds:
                    control.should_training_stop = True
                    self.stopped_early = True
                return control

        return _Budget()


def build_trainer(model, tokenizer, rows: list[dict], eval_rows: list[dict] | None,
                  cfg: CorrectorTrainConfig, output_dir: Path, *, steps: int, dtype, device: str,
                  checkpointing: bool, callbacks: list, peft_config=None):
    """TRL's SFTTrainer on prompt/completion rows: the loss covers the completion (and the EOS
    TRL appends) only; batches grouped by length; held-out loss each epoch when given rows."""
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    def dataset(part: list[dict]):
        return Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]}
                                  for r in part])

    args = SFTConfig(
        output_dir=str(output_dir), num_train_epochs=cfg.epochs, max_steps=steps,
        per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate, lr_scheduler_type="cosine", warmup_steps=0.1,
        max_length=cfg.max_length, completion_only_loss=True,
        bf16=dtype == torch.bfloat16 and device != "cpu", fp16=dtype == torch.float16,
        use_cpu=device == "cpu", gradient_checkpointing=checkpointing,
        logging_steps=cfg.logging_steps, save_strategy="no", report_to=[], seed=cfg.seed,
        dataloader_num_workers=0, disable_tqdm=True,
        train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
        eval_strategy="epoch" if eval_rows and steps < 0 else "no")
    return SFTTrainer(model=model, args=args, train_dataset=dataset(rows),
                      eval_dataset=dataset(eval_rows) if eval_rows else None,
                      processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks)


def train_corrector(cfg: CorrectorTrainConfig) -> dict:
    """Run both phases; returns the metrics also written to output_dir/train_metrics.json."""
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if cfg.eval_max_rows is not None and cfg.eval_max_rows < 1:
        raise ConfigError(f"expected a positive number of rows, got {cfg.eval_max_rows}",
                          field="eval_max_rows")
    records = read_jsonl(cfg.train_file, Correction)
    if cfg.train_sources is not None:
        records = [r for r in records if r.source in cfg.train_sources]
    if not records:
        raise DataError("no records" + (f" from sources {cfg.train_sources}"
                                        if cfg.train_sources is not None else ""),
                        path=cfg.train_file)
    constitution = load_constitution(cfg.principles_file) if cfg.principles_file else None
    check_principles(records, constitution, cfg.train_file)

    configure_torch()
    device = best_device()
    dtype = resolve_dtype(cfg.dtype, device)
    path = resolve(cfg.base_model).path
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    template = get_template(cfg.template, tokenizer)

    phases = training_phases(records, template, constitution, cfg)
    total_rows = sum(len(rows) for _, rows in phases)
    eval_rows = None
    if cfg.eval_file:
        held = read_jsonl(cfg.eval_file, Correction)
        check_principles(held, constitution, cfg.eval_file)
        eval_rows = training_phases(held, template, constitution, cfg)[-1][1]
        eval_rows = eval_rows[:cfg.eval_max_rows]

    checkpointing = (device != "cpu") if cfg.gradient_checkpointing is None \
        else cfg.gradient_checkpointing
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=lora_targets(model, cfg), task_type="CAUSAL_LM",
                      layers_to_transform=top_layers(model, cfg.lora_layers))
    out = Path(cfg.output_dir)
    metrics: dict = {"config": asdict(cfg), "device": device, "dtype": str(dtype).split(".")[-1],
                     "threads": torch.get_num_threads(),
                     "gradient_checkpointing": checkpointing, "phases": []}
    for name, rows in phases:
        check_room(rows, tokenizer, cfg.max_length, name)
    started = time.monotonic()
    for name, rows in phases:
        share = len(rows) / total_rows
        steps = max(1, round(cfg.max_steps * share)) if cfg.max_steps > 0 else -1
        budget = None
        if cfg.max_minutes is not None:
            budget = max(1.0, cfg.max_minutes * 60 * share)
        callback = TimeBudget.callback(budget)
        callbacks = [callback] + ([ProgressCallback(f"train {name}")] if cfg.progress else [])
        trainer = build_trainer(model, tokenizer, rows, eval_rows, cfg, out / "trainer" / name,
                                steps=steps, dtype=dtype, device=device,
                                checkpointing=checkpointing, callbacks=callbacks,
                                peft_config=lora if not hasattr(model, "peft_config") else None)
        phase_start = time.monotonic()
        with labelled_positions_only():
            result = trainer.train()
            model = trainer.model
            if eval_rows and not any("eval_loss" in h for h in trainer.state.log_history):
                trainer.evaluate()          # logs the held-out loss into the history
        metrics["phases"].append(phase_metrics(name, rows, trainer, result, phase_start,
                                               callback.stopped_early))
        if callback.stopped_early:
            warn_time_budget(name, trainer.state.global_step, steps, cfg.max_minutes)
    metrics["seconds"] = round(time.monotonic() - started, 1)
    metrics["heldout_loss"] = final_heldout_loss(metrics)
    metrics["heldout_rows"] = len(eval_rows or [])
    if cfg.target_loss is not None and metrics["heldout_loss"] is not None:
        metrics["reached_target_loss"] = metrics["heldout_loss"] <= cfg.target_loss
        if not metrics["reached_target_loss"]:
            loud_warning(f"held-out loss {metrics['heldout_loss']:.3f} is above this recipe's "
                         f"target {cfg.target_loss:.3f}: the corrector is undertrained")
    metrics["world_size"] = trainer.accelerator.num_processes
    if trainer.accelerator.is_main_process:      # under `accelerate launch`, one writer
        save_corrector(model, tokenizer, cfg, out, constitution)
        write_json(out / "train_metrics.json", metrics)
    trainer.accelerator.wait_for_everyone()
    return metrics


def lora_targets(model, cfg: CorrectorTrainConfig):
    """PEFT's target modules: "all-linear", or (PEFT needs names to pick layers) the names of
    the linear layers inside the transformer blocks."""
    if cfg.target_modules != ["all-linear"]:
        return cfg.target_modules
    if cfg.lora_layers is None:
        return "all-linear"
    import torch

    return sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                   if isinstance(module, torch.nn.Linear) and ".layers." in name})


def top_layers(model, count: int | None) -> list[int] | None:
    """Indices of the top `count` transformer layers (None: LoRA on every layer)."""
    if count is None:
        return None
    total = model.config.num_hidden_layers
    if not 1 <= count <= total:
        raise DataError(f"lora_layers must be 1..{total} for this model, got {count}",
                        field="lora_layers")
    return list(range(total - count, total))


def loud_warning(message: str) -> None:
    """A warning no one should miss: the log and stderr."""
    import logging
    import sys

    logging.getLogger("alignstack.train").warning(message)
    print(f"WARNING: {message}", file=sys.stderr)


def warn_time_budget(phase: str, done: int, planned: int, minutes: float | None) -> None:
    """A wall-clock budget cut training short: say so loudly."""
    planned_text = f"of {planned} planned" if planned > 0 else "before the end of its epochs"
    loud_warning(f"the {minutes}-minute time budget stopped phase '{phase}' after {done} steps "
                 f"{planned_text}: this corrector is undertrained on this machine. Set "
                 f"max_steps (a budget in steps) and drop max_minutes for a result that does "
                 f"not depend on the CPU.")


def final_heldout_loss(metrics: dict) -> float | None:
    losses = [h["loss"] for phase in metrics["phases"] for h in phase["heldout_loss"]]
    return losses[-1] if losses else None


def phase_metrics(name: str, rows: list[dict], trainer, result, started: float,
                  stopped_early: bool) -> dict:
    """Step time and tokens/s of the training loop (TRL counts the tokens it trained on; held-out
    evaluation excluded), the logged loss curve and the held-out loss at the end of each epoch."""
    seconds = float(result.metrics.get("train_runtime") or time.monotonic() - started)
    history = trainer.state.log_history
    steps = max(1, trainer.state.global_step)
    tokens = max((h.get("num_tokens", 0) for h in history), default=0)
    verdicts = dict(Counter(r["verdict"] for r in rows if "verdict" in r))
    return {
        "phase": name, "examples": len(rows), "verdicts": verdicts or None,
        "steps": trainer.state.global_step, "epochs": round(trainer.state.epoch or 0, 3),
        "seconds": round(seconds, 1), "seconds_per_step": round(seconds / steps, 2),
        "tokens": int(tokens), "tokens_per_second": round(tokens / seconds, 1) if tokens else None,
        "train_loss": round(result.training_loss, 4),
        "loss_curve": [[h["step"], round(h["loss"], 4)] for h in history if "loss" in h],
        "heldout_loss": [{"epoch": round(h.get("epoch") or 0, 3), "loss": round(h["eval_loss"], 4)}
                         for h in history if "eval_loss" in h],
        "stopped_by_time_budget": stopped_early}


def save_corrector(model, tokenizer, cfg: CorrectorTrainConfig, out: Path,
                   constitution: Constitution | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out / "adapter")
    tokenizer.save_pretrained(out / "adapter")
    meta = {"base_model": cfg.base_model, "adapter": "adapter", "template": cfg.template,
            "principles_in_prompt": cfg.principles_in_prompt,
            "principles": constitution.model_dump() if constitution else None}
    write_json(out / META_FILE, meta)


def read_meta(directory: str | Path) -> dict | None:
    path = Path(directory) / META_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
