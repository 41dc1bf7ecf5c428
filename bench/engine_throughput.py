"""Generation and correction throughput per engine and batch size, in one run, on this machine.

The 1.0 reference is the naive way: transformers, float32, one item at a time. Every other cell
runs the same items with the same token limit, greedy; tokens/s counts generated tokens over wall
time (model loading excluded, one warm-up call each). Workloads:
- generate: SmolLM2 answers N held-out seed questions (chat template, up to --max-new-tokens);
- correct: the corrector (runs/corrector when trained, else runs/demo/corrector) corrects the
  same N (question, SmolLM2 answer) pairs: verdicts, then rewrites.
Engines: transformers float32 (batch 1 and B), transformers bfloat16 (only where the CPU has
native bf16), llama.cpp on the shipped Q4_1 GGUF (1 and B parallel slots; the corrector as a GGUF
LoRA on the same base).

    python bench/engine_throughput.py [--n 16] [--batch 16] [--max-new-tokens 96]
                                      [--engines transformers,llamacpp] [--out FILE]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_flags() -> dict:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                  if line.startswith("model name")), platform.processor())
    flags = set(next((line.split(":", 1)[1].split() for line in text.splitlines()
                      if line.startswith("flags")), []))
    return {"model": model, **{f: f in flags for f in
                               ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "avx512_vnni")}}


def timed(fn, engine) -> tuple[float, int]:
    """(seconds, generated tokens) of fn(), counted on the engine's own stats."""
    before = engine.stats["completion_tokens"]
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started, engine.stats["completion_tokens"] - before


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--corrector", default=None)
    parser.add_argument("--engines", default="transformers,llamacpp")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" /
                                             "engine_throughput.json"))
    args = parser.parse_args()

    from alignstack.backends.base import GenParams, load_backend
    from alignstack.backends.hardware import configure_torch, cpu_has_native_bf16
    from alignstack.core.records import QA, Correction, read_jsonl, write_json
    from alignstack.correct.corrector import Corrector

    threads = configure_torch()
    records = read_jsonl(ROOT / "examples" / "newsroom" / "data" / "heldout.jsonl",
                         Correction)[:args.n]
    chats = [[{"role": "user", "content": r.question}] for r in records]
    items = [QA(question=r.question, answer=r.answer, principles=r.principles) for r in records]
    corrector_dir = args.corrector or next(
        (str(d) for d in (ROOT / "runs" / "corrector", ROOT / "runs" / "demo" / "corrector")
         if (d / "corrector.json").exists()), None)
    params = GenParams(max_new_tokens=args.max_new_tokens)

    cells = [("transformers", "float32", 1), ("transformers", "float32", args.batch)]
    if cpu_has_native_bf16():
        cells.append(("transformers", "bfloat16", args.batch))
    if "llamacpp" in args.engines.split(","):
        cells += [("llamacpp", "Q4_1", 1), ("llamacpp", "Q4_1", args.batch)]
    runs = []
    for engine_kind, dtype, batch in cells:
        if engine_kind == "transformers":
            upstream = load_backend("transformers", model="smollm2", dtype=dtype,
                                    batch_size=batch)
        else:
            upstream = load_backend("llamacpp", model="smollm2", parallel=batch)
        upstream.generate(chats[:1], GenParams(max_new_tokens=4))
        seconds, tokens = timed(lambda: upstream.generate(chats, params), upstream)
        row = {"workload": "generate", "engine": engine_kind, "dtype": dtype, "batch": batch,
               "items": len(chats), "seconds": round(seconds, 2), "tokens": tokens,
               "tokens_per_s": round(tokens / seconds, 1)}
        runs.append(row)
        print(row, flush=True)
        if corrector_dir is None:
            continue
        corrector = Corrector.load(corrector_dir, batch_size=batch, dtype=dtype,
                                   engine=engine_kind, max_new_tokens=args.max_new_tokens)
        corrector.correct(items[:1])
        seconds, tokens = timed(lambda: corrector.correct(items), corrector.generator)
        row = {**row, "workload": "correct", "seconds": round(seconds, 2), "tokens": tokens,
               "tokens_per_s": round(tokens / seconds, 1),
               "outcomes": {k: v for k, v in corrector.stats.items() if v}}
        runs.append(row)
        print(row, flush=True)

    def speedups(workload: str) -> dict:
        base = next(r for r in runs if r["workload"] == workload and r["batch"] == 1
                    and r["engine"] == "transformers")
        return {f"{r['engine']}/{r['dtype']}/batch {r['batch']}":
                round(r["tokens_per_s"] / base["tokens_per_s"], 2)
                for r in runs if r["workload"] == workload}

    result = {"benchmark": "engine_throughput", "reference": "transformers float32, batch 1",
              "machine": {"cpu": cpu_flags(), "cores_used": threads,
                          "platform": platform.platform()},
              "items": len(items), "max_new_tokens": args.max_new_tokens,
              "corrector": corrector_dir, "runs": runs,
              "speedup": {"generate": speedups("generate"),
                          **({"correct": speedups("correct")} if corrector_dir else {})}}
    write_json(args.out, result)
    print(result["speedup"])
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
