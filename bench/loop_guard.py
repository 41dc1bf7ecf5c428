"""The corrector's loop guard: the same gated corrections generated again under each decoding
setting; the share that loop (a word 5-gram three times) and the refusal judge's labels on the
items that should be refused.

Items: every answer an `alignstack eval` run's system sent to its corrector (outcome not kept),
from that run's judged.jsonl. The corrector and gates are the shipped ones.

    python bench/loop_guard.py [--judged runs/eval/judged.jsonl]
        [--system smollm2+corrector+gates+refuse-flagged] [--out bench/results/loop_guard.json]
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = [{"no_repeat_ngram_size": 12},
            {"no_repeat_ngram_size": 12, "repetition_penalty": 1.15},
            {"no_repeat_ngram_size": 6},
            {"no_repeat_ngram_size": 4}]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--judged", default=str(ROOT / "runs" / "eval" / "judged.jsonl"))
    parser.add_argument("--system", default="smollm2+corrector+gates+refuse-flagged")
    parser.add_argument("--corrector", default=str(ROOT / "runs" / "corrector"))
    parser.add_argument("--answer-gate", default=str(ROOT / "runs" / "inspector"))
    parser.add_argument("--request-gate", default=str(ROOT / "runs" / "request-gate"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "loop_guard.json"))
    args = parser.parse_args()

    from alignstack.backends.hardware import configure_torch
    from alignstack.core.records import QA, write_json
    from alignstack.correct.corrector import Corrector
    from alignstack.evaluate.judges.base import load_judge
    from alignstack.inspect import load_inspector

    configure_torch()
    rows = [r for r in (json.loads(line) for line in open(args.judged, encoding="utf-8"))
            if r["system"] == args.system and r["outcome"] not in ("kept", None)]
    items = [QA(question=r["prompt"], answer=r["answer"]) for r in rows]
    gates = {"answer_gate": load_inspector(args.answer_gate),
             "request_gate": load_inspector(args.request_gate), "refuse_flagged": True}
    refusal = load_judge("refusal")
    runs = []
    for setting in SETTINGS:
        corrector = Corrector.load(args.corrector, batch_size=16, **gates, **setting)
        started = time.perf_counter()
        out = corrector.correct(items)
        seconds = time.perf_counter() - started
        outcomes = collections.Counter(o.outcome for o in out)
        should_refuse = [QA(question=o.question, answer=o.corrected)
                         for o, r in zip(out, rows) if r["expected"] == "refuse"]
        labels = collections.Counter(j.label for j in refusal.judge(should_refuse))
        runs.append({"setting": setting, "items": len(out), "seconds": round(seconds, 1),
                     "outcomes": dict(outcomes),
                     "looped_share": round(outcomes["looped"] / len(out), 3),
                     "refusal_labels_where_refusal_expected": dict(labels)})
        print(runs[-1], flush=True)
    write_json(Path(args.out), {"benchmark": "loop_guard", "judged": args.judged,
                                "system": args.system, "runs": runs})
    print("->", args.out)


if __name__ == "__main__":
    main()
