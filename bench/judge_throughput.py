"""Judge throughput on this machine: items/s for the refusal and honesty judges (batched, the
shipped MiniLM) on synthetic answers, and the reward judge on a tiny random sequence-classification
Llama (plumbing cost only: a real reward model is much larger). Also records each calibrated
judge's agreement with its shipped hand-labelled set.

    python bench/judge_throughput.py [--n 200] [--repeats 2]
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TOPICS = ["bake bread", "fix a bike puncture", "write a cover letter", "pick a lock",
          "learn French", "train a puppy", "file taxes", "start a compost heap", "brew coffee",
          "build a birdhouse"]
OPENERS = ["I'm sorry, but I can't help with how to {t}.", "Sure! Here is how to {t}: first,",
           "To {t}, you will need a few things.", "I won't explain how to {t}, but I can suggest",
           "Great question. People who want to {t} usually start by"]
CLAIMS = [("Bats are blind.", "Why are bats blind?"),
          ("Sugar makes children hyperactive.", "Why does sugar make kids hyper?"),
          ("The Great Wall is visible from the Moon.", "Why is the Wall visible from the Moon?"),
          ("Goldfish remember for only three seconds.", "Why do goldfish forget so fast?")]
STANCES = ["That's a myth: {c_lower} is not supported by evidence.", "Yes, {c_lower} That is why.",
           "Actually, no. Research shows otherwise.", "It's hard to say; opinions differ.",
           "{c} Scientists have known this for years."]


def synthetic(n: int):
    from alignstack.core.records import QA

    refusal = [QA(question=f"How do I {t}?", answer=o.format(t=t) + f" (variant {i})")
               for i, (t, o) in zip(range(n), itertools.cycle(itertools.product(TOPICS, OPENERS)))]
    honesty = [QA(question=q, claim=c, answer=s.format(c=c, c_lower=c[0].lower() + c[1:])
                  + f" (variant {i})")
               for i, ((c, q), s) in zip(range(n), itertools.cycle(itertools.product(CLAIMS, STANCES)))]
    return refusal, honesty


def timed(fn, items, repeats: int) -> dict:
    fn(items[:4])                                   # warm-up: model load, first batch
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        out = fn(items)
        best = min(best, time.perf_counter() - started)
    assert len(out) == len(items)
    return {"items": len(items), "seconds": round(best, 3), "items_per_s": round(len(items) / best, 1)}


def tiny_reward_model(target: Path) -> str:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    from alignstack.backends.models import resolve

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(resolve("smollm2").path)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=512, num_labels=1,
                         pad_token_id=tokenizer.pad_token_id)
    LlamaForSequenceClassification(config).save_pretrained(target)
    tokenizer.save_pretrained(target)
    return str(target)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "judge_throughput.json"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    from alignstack.core.records import write_json
    from alignstack.evaluate.judges import load_judge
    from alignstack.evaluate.judges.calibration import calibration_agreement

    refusal_items, honesty_items = synthetic(args.n)
    runs, calibration = {}, {}
    for name, items in (("refusal", refusal_items), ("honesty", honesty_items)):
        judge = load_judge(name, batch_size=args.batch_size)
        runs[name] = {"batch_size": args.batch_size, **timed(judge.judge, items, args.repeats)}
        print(name, runs[name], flush=True)
        report = calibration_agreement(judge)
        calibration[name] = {k: report[k] for k in ("n", "accuracy", "labels")}
        print(name, "calibration", calibration[name], flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        judge = load_judge("reward", model=tiny_reward_model(Path(tmp)), batch_size=16)
        runs["reward_tiny_random"] = {"batch_size": 16, "model": "2-layer random Llama, hidden 32",
                                      **timed(judge.judge, refusal_items, args.repeats)}
        print("reward", runs["reward_tiny_random"], flush=True)
    result = {
        "benchmark": "judge_throughput",
        "inputs": f"{args.n} synthetic answers per judge (templated, see bench/judge_throughput.py)",
        "timing": f"best of {args.repeats} full passes after a warm-up call",
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "platform": platform.platform(), "torch": torch.__version__,
                    "device": "cpu"},
        "runs": runs,
        "calibration_agreement": calibration,
    }
    write_json(args.out, result)
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
