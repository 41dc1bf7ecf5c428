"""`alignstack optimize`: preference optimisation of an upstream through TRL.

Reads the data (any mix of Q-A-C, pairs and unpaired files), trains the method's TRL trainer with a
LoRA adapter (by default), then writes to output_dir:
  model/               the merged model (safetensors + tokenizer): a drop-in upstream
  adapter/             the LoRA adapter (always, when LoRA was used)
  <name>-<type>.gguf   exports listed in `export_gguf`, via the quantize path
  optimize.json        what was trained from what
  train_metrics.json   loss curve, the method's logged rewards/margins, held-out metrics, timing
Runs unchanged under `accelerate launch` (data-parallel): only the main process writes.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

from alignstack.backends.hardware import best_device, configure_torch, resolve_dtype
from alignstack.backends.models import resolve
from alignstack.core.preferences import read_preference_data
from alignstack.core.records import write_json
from alignstack.optimize.config import OptimizeConfig
from alignstack.optimize.methods import METHODS

META_FILE = "optimize.json"
MODEL_DIR = "model"


def training_args(cfg: OptimizeConfig, out: Path, *, dtype, device: str, checkpointing: bool,
                  evaluate: bool) -> dict:
    """The TrainingArguments every TRL config of ours shares."""
    import torch

    return dict(
        output_dir=str(out / "trainer"), num_train_epochs=cfg.epochs, max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate, lr_scheduler_type="cosine", warmup_steps=0.1,
        max_length=cfg.max_length, bf16=dtype == torch.bfloat16 and device != "cpu",
        fp16=dtype == torch.float16, use_cpu=device == "cpu",
        gradient_checkpointing=checkpointing, logging_steps=cfg.logging_steps,
        save_strategy="no", report_to=[], seed=cfg.seed, dataloader_num_workers=0,
        disable_tqdm=True, eval_strategy="epoch" if evaluate and cfg.max_steps < 0 else "no")


def optimize(cfg: OptimizeConfig) -> dict:
    """Train, save and export; returns the metrics written to train_metrics.json."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.trainer_callback import PrinterCallback

    from alignstack.correct.progress import ProgressCallback
    from alignstack.correct.train import TimeBudget

    method = METHODS.get(cfg.method)
    data = read_preference_data(cfg.data, cfg.sources)
    rows = method.rows(data, cfg)
    held = method.rows(read_preference_data(cfg.eval_data, cfg.sources), cfg) \
        if cfg.eval_data else None

    configure_torch()
    device = best_device()
    dtype = resolve_dtype(cfg.dtype, device)
    path = resolve(cfg.base_model).path
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    checkpointing = (device != "cpu") if cfg.gradient_checkpointing is None \
        else cfg.gradient_checkpointing
    peft_config = None
    if cfg.use_lora:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
            target_modules="all-linear" if cfg.target_modules == ["all-linear"]
            else cfg.target_modules, task_type="CAUSAL_LM")
    out = Path(cfg.output_dir)
    budget = TimeBudget.callback(cfg.max_minutes * 60 if cfg.max_minutes else None)
    callbacks = [budget] + ([ProgressCallback(f"optimize {cfg.method}")] if cfg.progress else [])
    common = training_args(cfg, out, dtype=dtype, device=device, checkpointing=checkpointing,
                           evaluate=held is not None)
    # shuffled here, whatever the trainer's sampler: two KTO runs (TRL 1.16) on files that
    # differed only after their first 486 pairs gave bit-identical adapters, so 40 steps never
    # left the head of a file grouped by kind
    train = Dataset.from_list(rows).shuffle(seed=cfg.seed)
    trainer = method.trainer(model, tokenizer, train,
                             Dataset.from_list(held) if held else None, common, cfg, peft_config,
                             callbacks)
    trainer.remove_callback(PrinterCallback)      # logs go to train_metrics.json
    started = time.monotonic()
    result = trainer.train()
    seconds = time.monotonic() - started
    if held and not any(k.startswith("eval_") for h in trainer.state.log_history for k in h):
        trainer.evaluate()
    metrics = run_metrics(cfg, trainer, result, seconds, data, len(rows), len(held or []),
                          budget.stopped_early, device=device, dtype=dtype)
    if trainer.accelerator.is_main_process:
        save_outputs(trainer.model, tokenizer, cfg, out, metrics)
    trainer.accelerator.wait_for_everyone()
    return metrics


def logged_series(history: list[dict]) -> dict[str, list[list[float]]]:
    """Every numeric training-log key (loss, rewards/accuracies, rewards/margins, ...) as
    [[step, value], ...]; evaluation logs are reported separately."""
    series: dict[str, list[list[float]]] = {}
    for entry in history:
        if any(k.startswith("eval_") for k in entry) or "train_runtime" in entry:
            continue
        for key, value in entry.items():
            if key in ("step", "epoch") or not isinstance(value, (int, float)):
                continue
            series.setdefault(key, []).append([entry["step"], round(float(value), 4)])
    return series


def run_metrics(cfg: OptimizeConfig, trainer, result, seconds: float, data, examples: int,
                held_examples: int, stopped_early: bool, *, device: str, dtype) -> dict:
    import torch

    history = trainer.state.log_history
    steps = max(1, trainer.state.global_step)
    evals = [{k: round(v, 4) if isinstance(v, float) else v for k, v in h.items()}
             for h in history if any(k.startswith("eval_") for k in h)]
    return {
        "config": asdict(cfg), "method": cfg.method, "device": device,
        "dtype": str(dtype).split(".")[-1], "threads": torch.get_num_threads(),
        "world_size": trainer.accelerator.num_processes,
        "data": {"files": data.files, "qac": len(data.qac), "pairs": len(data.pairs),
                 "unpaired": len(data.unpaired)},
        "examples": examples, "heldout_examples": held_examples,
        "steps": trainer.state.global_step, "epochs": round(trainer.state.epoch or 0, 3),
        "seconds": round(seconds, 1), "seconds_per_step": round(seconds / steps, 2),
        "train_loss": round(result.training_loss, 4), "logged": logged_series(history),
        "heldout": evals, "stopped_by_time_budget": stopped_early}


def save_outputs(model, tokenizer, cfg: OptimizeConfig, out: Path, metrics: dict) -> None:
    """Adapter (when LoRA), merged model, GGUF exports, then the metadata last: a directory with
    optimize.json is complete."""
    out.mkdir(parents=True, exist_ok=True)
    if hasattr(model, "peft_config"):
        model.save_pretrained(out / "adapter")
        tokenizer.save_pretrained(out / "adapter")
        model = model.merge_and_unload() if cfg.merge else None
    if model is not None:
        model.save_pretrained(out / MODEL_DIR)
        tokenizer.save_pretrained(out / MODEL_DIR)
    exports = []
    for qtype in cfg.export_gguf:
        from alignstack.quantize.gguf_export import write_gguf

        if model is None:
            from alignstack.core.errors import ConfigError

            raise ConfigError("export_gguf needs the merged model (merge: true)", field="export_gguf")
        result = write_gguf(model, out / MODEL_DIR, out / f"{out.name}-{qtype}.gguf", qtype)
        exports.append(asdict(result))
    metrics["exports"] = exports
    write_json(out / "train_metrics.json", metrics)
    write_json(out / META_FILE, {"base_model": cfg.base_model, "method": cfg.method,
                                 "data": list(cfg.data),
                                 "model": MODEL_DIR if model is not None else None,
                                 "adapter": "adapter" if (out / "adapter").exists() else None})


def optimized_model(directory: str | Path) -> str:
    """The loadable model of a finished `optimize` output (its merged model directory)."""
    import json

    from alignstack.core.errors import ConfigError

    meta_path = Path(directory) / META_FILE
    if not meta_path.exists():
        raise ConfigError(f"{directory} is not a finished optimize output (no {META_FILE})")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if not meta.get("model"):
        raise ConfigError(f"{directory} holds only an adapter (trained with merge: false)")
    return str(Path(directory) / meta["model"])
