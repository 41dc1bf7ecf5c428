"""Where a corrector training step's time goes on this CPU, and what the demo's recipe saves.

Each variant trains the demo's corrector (examples/newsroom/demo.yaml) for a few optimiser steps
from the same seed, starting from the recipe as it was before the step budget (every verdict row,
LoRA on every layer, 384-token rows) and changing one thing at a time: only the rows the gated
stack asks the corrector to write (REWRITE / REFUSE bodies), LoRA on the top layers only, and
shorter rows. Reported per variant: seconds a step, trained tokens a second, examples, and the
steps and minutes one epoch would take at that speed.

    ALIGNSTACK_NO_BF16=1 python bench/corrector_train_speed.py      # the float32 path
    python bench/corrector_train_speed.py                           # the CPU's own dtype
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

VARIANTS = [
    ("before: all rows, LoRA on 30 layers, 384 tokens", {}),
    ("bodies only", {"verdict_rows": "bodies"}),
    ("bodies only, 256 tokens", {"verdict_rows": "bodies", "max_length": 256}),
    ("bodies only, top 8 layers, 256 tokens",
     {"verdict_rows": "bodies", "lora_layers": 8, "max_length": 256}),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    from alignstack.backends.hardware import best_dtype, cpu_has_native_bf16, usable_cores
    from alignstack.core.config import load_config
    from alignstack.core.records import write_json
    from alignstack.correct.config import CorrectorTrainConfig
    from alignstack.correct.train import train_corrector
    from alignstack.demo import DemoConfig

    demo = load_config(DemoConfig, str(ROOT / "examples/newsroom/demo.yaml"), {})
    base = {k: v for k, v in demo.corrector.items() if k not in ("max_minutes", "max_steps")}
    base.update({"verdict_rows": "all", "lora_layers": None, "max_length": 384})
    dtype = str(best_dtype("cpu")).split(".")[-1]
    results = []
    for name, change in VARIANTS:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = load_config(CorrectorTrainConfig, None, {
                "train_file": str(ROOT / demo.train_file), "output_dir": tmp,
                "principles_file": str(ROOT / demo.principles_file), "base_model": demo.upstream,
                **base, **change, "max_steps": args.steps, "progress": False,
                "logging_steps": 1})
            metrics = train_corrector(cfg)
        phase = metrics["phases"][0]
        per_epoch = -(-phase["examples"] // cfg.batch_size)
        results.append({"variant": name, "change": change, "examples": phase["examples"],
                        "steps_timed": phase["steps"],
                        "seconds_per_step": phase["seconds_per_step"],
                        "tokens_per_second": phase["tokens_per_second"],
                        "tokens_per_step": round(phase["tokens"] / max(phase["steps"], 1)),
                        "steps_per_epoch": per_epoch,
                        "minutes_per_epoch": round(per_epoch * phase["seconds_per_step"] / 60, 1)})
        print(results[-1])
    out = Path(args.out or ROOT / "bench" / "results" / f"corrector_train_speed_{dtype}.json")
    write_json(out, {"dtype": dtype, "native_bf16": cpu_has_native_bf16(),
                     "cores": usable_cores(), "batch_size": base["batch_size"],
                     "variants": results})
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    main()
