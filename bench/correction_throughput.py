"""Correction throughput on this machine: batched vs one-by-one, generated tokens per second.

Uses the demo's trained corrector (runs/demo/corrector) when present, else SmolLM2 itself as an
(untrained) corrector with the aligner-v1 template; the corrector used is recorded in the JSON.
Inputs: the first N held-out seed records (real SmolLM2 answers).

    python bench/correction_throughput.py [--n 8] [--batch-sizes 1 8]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--corrector", default=str(ROOT / "runs" / "demo" / "corrector"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" /
                                             "correction_throughput.json"))
    args = parser.parse_args()

    import torch

    from alignstack.core.records import QA, Correction, read_jsonl, write_json
    from alignstack.correct.corrector import Corrector

    records = read_jsonl(ROOT / "examples" / "newsroom" / "data" / "heldout.jsonl",
                         Correction)[:args.n]
    items = [QA(question=r.question, answer=r.answer, principles=r.principles) for r in records]
    trained = (Path(args.corrector) / "corrector.json").exists()
    corrector = (Corrector.load(args.corrector) if trained
                 else Corrector.load("smollm2", template="aligner-v1"))
    corrector.correct(items[:1])                      # warm-up
    runs = []
    for batch_size in args.batch_sizes:
        corrector.generator.batch_size = batch_size
        stats = corrector.generator.stats
        before = dict(stats)
        started = time.perf_counter()
        corrector.correct(items)
        seconds = time.perf_counter() - started
        tokens = stats["completion_tokens"] - before["completion_tokens"]
        runs.append({"batch_size": batch_size, "items": len(items), "seconds": round(seconds, 2),
                     "generated_tokens": tokens, "tokens_per_s": round(tokens / seconds, 1),
                     "items_per_s": round(len(items) / seconds, 3)})
        print(runs[-1], flush=True)
    one = next((r for r in runs if r["batch_size"] == 1), None)
    result = {
        "benchmark": "correction_throughput",
        "corrector": args.corrector if trained else "smollm2 (untrained, aligner-v1 template)",
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "platform": platform.platform(), "torch": torch.__version__},
        "runs": runs,
        "speedup_vs_one_by_one": {r["batch_size"]: round(r["tokens_per_s"] / one["tokens_per_s"], 2)
                                  for r in runs} if one else None,
    }
    write_json(args.out, result)
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
