"""Train a corrector: TRL SFTTrainer + PEFT LoRA, completion-only loss, identity warm-up.

Phase 1 trains on Q-A-A (the answer as its own correction) for `identity_fraction` of the data;
phase 2 on Q-A-C. The adapter and a `corrector.json` describing how to run it go to output_dir.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict
from pathlib import Path

from alignstack.backends.hardware import best_device, configure_torch, resolve_dtype
from alignstack.backends.models import resolve
from alignstack.core.errors import DataError
from alignstack.core.principles import Constitution, load_constitution
from alignstack.core.records import Correction, read_jsonl, write_json
from alignstack.correct.config import CorrectorTrainConfig
from alignstack.correct.template import get_template

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


def check_principles(records: list[Correction], constitution: Constitution | None, path: str):
    if constitution is None:
        return
    for number, rec in enumerate(records, start=1):
        for pid in rec.principles:
            if pid not in constitution.ids:
                raise DataError(f"unknown principle id '{pid}' (known: {', '.join(constitution.ids)})",
                                path=path, line=number, field="principles")


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


def train_corrector(cfg: CorrectorTrainConfig) -> dict:
    """Run both phases; returns the metrics also written to output_dir/train_metrics.json."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    records = read_jsonl(cfg.train_file, Correction)
    if not records:
        raise DataError("no records", path=cfg.train_file)
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

    rng = random.Random(cfg.seed)
    warm = rng.sample(records, k=round(len(records) * cfg.identity_fraction))
    phases = [("identity", build_examples(warm, template, constitution,
                                          cfg.principles_in_prompt, identity=True)),
              ("correction", build_examples(records, template, constitution,
                                            cfg.principles_in_prompt, identity=False))]
    phases = [(name, rows) for name, rows in phases if rows]
    total_rows = sum(len(rows) for _, rows in phases)

    checkpointing = (device != "cpu") if cfg.gradient_checkpointing is None \
        else cfg.gradient_checkpointing
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=cfg.target_modules if cfg.target_modules != ["all-linear"]
                      else "all-linear", task_type="CAUSAL_LM")
    out = Path(cfg.output_dir)
    metrics: dict = {"config": asdict(cfg), "device": device, "dtype": str(dtype).split(".")[-1],
                     "gradient_checkpointing": checkpointing, "phases": []}
    started = time.monotonic()
    for name, rows in phases:
        share = len(rows) / total_rows
        steps = max(1, round(cfg.max_steps * share)) if cfg.max_steps > 0 else -1
        budget = None
        if cfg.max_minutes is not None:
            budget = max(1.0, cfg.max_minutes * 60 * share)
        args = SFTConfig(
            output_dir=str(out / "trainer" / name), num_train_epochs=cfg.epochs, max_steps=steps,
            per_device_train_batch_size=cfg.batch_size,
            gradient_accumulation_steps=cfg.gradient_accumulation_steps,
            learning_rate=cfg.learning_rate, lr_scheduler_type="cosine", warmup_steps=0.1,
            max_length=cfg.max_length, completion_only_loss=True,
            bf16=dtype == torch.bfloat16 and device != "cpu", fp16=dtype == torch.float16,
            use_cpu=device == "cpu", gradient_checkpointing=checkpointing,
            logging_steps=cfg.logging_steps, save_strategy="no", report_to=[], seed=cfg.seed,
            dataloader_num_workers=0, disable_tqdm=True)
        callback = TimeBudget.callback(budget)
        trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
                             processing_class=tokenizer,
                             peft_config=lora if not hasattr(model, "peft_config") else None,
                             callbacks=[callback])
        phase_start = time.monotonic()
        result = trainer.train()
        model = trainer.model
        losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
        metrics["phases"].append({
            "phase": name, "examples": len(rows), "steps": trainer.state.global_step,
            "seconds": round(time.monotonic() - phase_start, 1),
            "seconds_per_step": round((time.monotonic() - phase_start)
                                      / max(1, trainer.state.global_step), 2),
            "train_loss": round(result.training_loss, 4), "first_logged_loss": losses[:1],
            "last_logged_loss": losses[-1:], "stopped_by_time_budget": callback.stopped_early})
    metrics["seconds"] = round(time.monotonic() - started, 1)
    save_corrector(model, tokenizer, cfg, out, constitution)
    write_json(out / "train_metrics.json", metrics)
    return metrics


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
