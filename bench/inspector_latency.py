"""Inspector latency on this machine: items/s scored batched vs one-by-one (MiniLM encoder +
logistic-regression heads, all heads from one encoder pass as the squad uses them too).

Inputs: the held-out seed records' real SmolLM2 answers and their corrections. Needs a trained
inspector (`alignstack train inspector --config examples/newsroom/inspector.yaml`).

    python bench/inspector_latency.py [--inspector runs/inspector] [--n 90] [--one-by-one 30]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--inspector", default=str(ROOT / "runs" / "inspector"))
    parser.add_argument("--n", type=int, default=90, help="held-out records (x2 items)")
    parser.add_argument("--one-by-one", type=int, default=30, help="items scored singly")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" /
                                             "inspector_latency.json"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    from alignstack.core.records import QA, Correction, read_jsonl, write_json
    from alignstack.inspect.inspector import load_inspector

    load_at_start = os.getloadavg()[0]
    started = time.perf_counter()
    inspector = load_inspector(args.inspector)
    records = read_jsonl(ROOT / "examples" / "newsroom" / "data" / "heldout.jsonl",
                         Correction)[:args.n]
    items = [QA(question=r.question, answer=a, principles=r.principles)
             for r in records for a in (r.answer, r.correction)]
    inspector.score(items[:2])                          # warm-up: loads the encoder
    load_s = time.perf_counter() - started
    runs = []
    for batch_size in args.batch_sizes:
        inspector.batch_size = batch_size
        seconds = timed(lambda: [inspector.score(items[s:s + batch_size])
                                 for s in range(0, len(items), batch_size)])
        runs.append({"mode": "batched", "batch_size": batch_size, "items": len(items),
                     "seconds": round(seconds, 3), "items_per_s": round(len(items) / seconds, 1),
                     "ms_per_item": round(1000 * seconds / len(items), 2)})
        print(runs[-1], flush=True)
    heads_s = timed(lambda: inspector.score_heads(items))
    runs.append({"mode": "batched_all_heads", "batch_size": inspector.batch_size,
                 "heads": len(inspector.heads), "items": len(items), "seconds": round(heads_s, 3),
                 "items_per_s": round(len(items) / heads_s, 1)})
    print(runs[-1], flush=True)
    single = items[:args.one_by_one]
    seconds = timed(lambda: [inspector.score([item]) for item in single])
    runs.append({"mode": "one_by_one", "batch_size": 1, "items": len(single),
                 "seconds": round(seconds, 3), "items_per_s": round(len(single) / seconds, 1),
                 "ms_per_item": round(1000 * seconds / len(single), 2)})
    print(runs[-1], flush=True)
    best = max(r["items_per_s"] for r in runs if r["mode"] == "batched")
    result = {
        "benchmark": "inspector_latency",
        "inspector": args.inspector,
        "encoder": inspector.encoder,
        "load_and_warmup_s": round(load_s, 2),
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    # other jobs share these CPUs: the 1-minute load at start and end
                    "load_average_1m": [round(load_at_start, 2), round(os.getloadavg()[0], 2)],
                    "platform": platform.platform(), "torch": torch.__version__},
        "runs": runs,
        "batched_speedup_vs_one_by_one": round(best / runs[-1]["items_per_s"], 2),
    }
    write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
