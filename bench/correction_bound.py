"""Where correction time goes on this CPU, and the best batched speed-up it allows.

Correcting an item costs one prefill of its prompt (principles, question and the answer being
corrected) plus one decode step per generated token. This measures both on the real corrector
prompts of N held-out items, with plain forward passes (no generate loop, nothing else running):
- prefill tokens/s: float32 one prompt at a time (the naive reference) and the best dtype in
  batches of B prompts;
- decode ms per step: float32 at batch 1, and the best dtype at batch 1, B and 4B, against a
  cache as long as a typical prompt, with transformers' default DynamicCache (grown by
  concatenation each step) and with a preallocated StaticCache.
From these and the generated-token counts of the throughput bench it derives the ceiling of
"batched correction ÷ naive correction" that any scheduler could reach here, even one that
keeps every decode batch full (continuous batching): naive time = Σ prefill + Σ tokens × step(1);
batched time ≥ Σ prefill at the batched rate + Σ tokens × step(4B) / 4B, for either cache.

    python bench/correction_bound.py [--n 64] [--batch 16] [--tokens-per-item 42.25]
                                     [--out bench/results/correction_bound.json]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--corrector", default=str(ROOT / "runs" / "corrector"))
    # generated tokens per corrected item: 676 tokens for 16 items in the one-pass bench
    parser.add_argument("--tokens-per-item", type=float, default=676 / 16)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" /
                                             "correction_bound.json"))
    args = parser.parse_args()

    import torch
    from transformers.cache_utils import DynamicCache, StaticCache

    from alignstack.backends.hardware import best_dtype, configure_torch
    from alignstack.core.records import QA, Correction, read_jsonl, write_json
    from alignstack.correct.corrector import Corrector

    threads = configure_torch()
    records = read_jsonl(ROOT / "examples" / "newsroom" / "data" / "heldout.jsonl",
                         Correction)[:args.n]
    fast = str(best_dtype("cpu")).split(".")[-1]
    # the corrector (its adapter merged) in float32 and in the hardware's best dtype
    correctors = {dtype: Corrector.load(args.corrector, engine="transformers", dtype=dtype)
                  for dtype in dict.fromkeys(("float32", fast))}
    prompts = correctors["float32"].prompts(
        [QA(question=r.question, answer=r.answer, principles=r.principles) for r in records])
    tokenizer = correctors["float32"].generator.tokenizer          # left padding, as served
    lengths = correctors["float32"].generator.count_tokens(prompts)
    models = {dtype: c.generator.model for dtype, c in correctors.items()}

    def prefill_seconds(model, batch: int) -> float:
        started = time.perf_counter()
        for i in range(0, len(prompts), batch):
            enc = tokenizer(prompts[i:i + batch], return_tensors="pt", padding=True,
                            add_special_tokens=False)
            with torch.inference_mode():
                model(**enc, logits_to_keep=1)
        return time.perf_counter() - started

    def step_ms(model, batch: int, context: int, cache_kind: str, steps: int = 12) -> float:
        ids = torch.full((batch, context), 100, dtype=torch.long)
        with torch.inference_mode():
            cache = (DynamicCache(config=model.config) if cache_kind == "dynamic" else
                     StaticCache(config=model.config, max_cache_len=context + steps))
            model(input_ids=ids, past_key_values=cache, logits_to_keep=1,
                  cache_position=torch.arange(context))
            nxt = torch.full((batch, 1), 100, dtype=torch.long)
            times = []
            for step in range(steps):
                started = time.perf_counter()
                model(input_ids=nxt, past_key_values=cache, logits_to_keep=1,
                      cache_position=torch.tensor([context + step]))
                times.append(time.perf_counter() - started)
        return 1000 * statistics.median(times)

    prefill_seconds(models["float32"], 1)          # warm-ups
    prefill_seconds(models[fast], args.batch)
    naive_prefill = prefill_seconds(models["float32"], 1)
    fast_prefill = prefill_seconds(models[fast], args.batch)
    context = int(statistics.median(lengths))
    widest = 4 * args.batch
    steps = {"float32 batch 1, dynamic cache": step_ms(models["float32"], 1, context, "dynamic")}
    for cache_kind in ("dynamic", "static"):
        for b in (1, args.batch, widest):
            steps[f"{fast} batch {b}, {cache_kind} cache"] = step_ms(models[fast], b, context,
                                                                      cache_kind)
    tokens = args.tokens_per_item * len(prompts)
    naive = naive_prefill + tokens * steps["float32 batch 1, dynamic cache"] / 1000
    bound = {kind: fast_prefill + tokens * steps[f"{fast} batch {widest}, {kind} cache"]
             / 1000 / widest for kind in ("dynamic", "static")}
    result = {
        "benchmark": "correction_bound", "items": len(prompts), "threads": threads,
        "prompt_tokens": {"total": sum(lengths), "median": context, "max": max(lengths)},
        "prefill_tokens_per_s": {"float32 one at a time": round(sum(lengths) / naive_prefill, 1),
                                 f"{fast} batch {args.batch}":
                                     round(sum(lengths) / fast_prefill, 1)},
        "decode_ms_per_step": {k: round(v, 1) for k, v in steps.items()},
        "generated_tokens_per_item": round(args.tokens_per_item, 2),
        "naive_seconds_estimate": round(naive, 1),
        "prefill_share_of_naive": round(naive_prefill / naive, 3),
        "best_batched_seconds_bound": {k: round(v, 1) for k, v in bound.items()},
        "speedup_ceiling": {k: round(naive / v, 2) for k, v in bound.items()}}
    write_json(args.out, result)
    print(result)
    print("->", args.out)


if __name__ == "__main__":
    main()
