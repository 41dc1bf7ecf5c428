"""Where a corrector training step's time goes on this CPU, and what the demo's recipe saves.

Each variant trains the demo's corrector (examples/newsroom/demo.yaml) for a few optimiser steps
from the same seed, starting from the recipe as it was before the step budget (every verdict row,
LoRA on every layer, 384-token rows) and changing one thing at a time: only the rows the gated
stack asks the corrector to write (REWRITE / REFUSE bodies), LoRA on the top layers only, and
shorter rows, then TRL's fused LM head scoring only the labelled (body) positions on a CPU
(`backends.trl_cpu`; the earlier variants score every position, as TRL does by default off
CUDA) and no LoRA dropout. Reported per variant: seconds a step, trained tokens a second,
examples, and the steps and minutes one epoch would take at that speed.

    ALIGNSTACK_NO_BF16=1 python bench/corrector_train_speed.py      # the float32 path
    python bench/corrector_train_speed.py                           # the CPU's own dtype
"""

from __future__ import annotations

import argparse
from contextlib import contextmanager
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

DEMO = {"verdict_rows": "bodies", "lora_layers": 8, "max_length": 256}
# (name, config change, TRL's LM head scores the labelled positions only)
VARIANTS = [
    ("before: all rows, LoRA on 30 layers, 384 tokens", {}, False),
    ("bodies only", {"verdict_rows": "bodies"}, False),
    ("bodies only, 256 tokens", {"verdict_rows": "bodies", "max_length": 256}, False),
    ("bodies only, top 8 layers, 256 tokens", DEMO, False),
    ("... and the LM head on labelled positions only", DEMO, True),
    ("... and no LoRA dropout", {**DEMO, "lora_dropout": 0.0}, True),
]


@contextmanager
def every_position():
    yield False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    from alignstack.backends.hardware import best_dtype, cpu_has_native_bf16, usable_cores
    from alignstack.core.config import load_config
    from alignstack.core.records import write_json
    from alignstack.correct.config import CorrectorTrainConfig
    from alignstack.backends.trl_cpu import labelled_positions_only
    from alignstack.correct import train as train_module
    from alignstack.correct.train import train_corrector
    from alignstack.demo import DemoConfig

    demo = load_config(DemoConfig, str(ROOT / "examples/newsroom/demo.yaml"), {})
    base = {k: v for k, v in demo.corrector.items() if k not in ("max_minutes", "max_steps")}
    base.update({"verdict_rows": "all", "lora_layers": None, "max_length": 384,
                 "lora_dropout": 0.05})
    dtype = str(best_dtype("cpu")).split(".")[-1]
    results = []
    for name, change, labelled_only in VARIANTS:
        # the recipe before backends.trl_cpu: TRL's own choice (every position) stands
        train_module.labelled_positions_only = (labelled_positions_only if labelled_only
                                                else every_position)
        with tempfile.TemporaryDirectory() as tmp:
            cfg = load_config(CorrectorTrainConfig, None, {
                "train_file": str(ROOT / demo.train_file), "output_dir": tmp,
                "principles_file": str(ROOT / demo.principles_file), "base_model": demo.upstream,
                **base, **change, "max_steps": args.steps, "progress": False,
                "logging_steps": 1})
            metrics = train_corrector(cfg)
        phase = metrics["phases"][0]
        per_epoch = -(-phase["examples"] // cfg.batch_size)
        results.append({"variant": name, "change": change,
                        "lm_head_labelled_positions_only": labelled_only,
                        "examples": phase["examples"],
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
