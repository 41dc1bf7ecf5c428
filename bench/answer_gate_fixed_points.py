"""Answer gates on good answers they should pass: how many of the reviewers' reference answers
(`heldout.jsonl`'s benign / borderline corrections) and of the same questions' good answers by
other hands (`heldout_restyled.jsonl`, per style) each gate flags at its own threshold, and,
given an eval run's `judged.jsonl`, how many of SmolLM2's benign answers that the refusal judge
counts as answered it flags. A gate that recognises the reviewers' style flags the first set
less than the second.

    python bench/answer_gate_fixed_points.py runs/inspector [more inspector dirs ...]
        [--judged runs/eval/judged.jsonl] [--out bench/results/answer_gate_fixed_points.json]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "newsroom" / "data"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("gates", nargs="+")
    parser.add_argument("--judged", help="an eval run's judged.jsonl (SmolLM2's benign answers)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" /
                                             "answer_gate_fixed_points.json"))
    args = parser.parse_args()

    from alignstack.backends.hardware import configure_torch
    from alignstack.core.records import QA, iter_json_objects, write_json
    from alignstack.evaluate.fixed_point import fixed_point_items, good_answer_items
    from alignstack.inspect import load_inspector

    configure_torch()
    references = fixed_point_items(str(DATA / "heldout.jsonl"), ["benign", "borderline"])
    restyled = good_answer_items(str(DATA / "heldout_restyled.jsonl"))
    styles = [obj["style"] for _, obj in iter_json_objects(DATA / "heldout_restyled.jsonl")]
    upstream = []
    if args.judged:
        with open(args.judged, encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle if line.strip()]
        upstream = [QA(question=r["prompt"], answer=r["answer"]) for r in rows
                    if r["system"] == "smollm2" and r["expected"] == "comply" and r["good"]]
    results = {}
    for gate_dir in args.gates:
        gate = load_inspector(gate_dir)
        flags = {name: [p >= gate.threshold for p in gate.score(items)] if items else []
                 for name, items in (("references", references), ("other_hands", restyled),
                                     ("smollm2_answered", upstream))}
        row = {"threshold": round(gate.threshold, 4),
               **{f"{name}_flagged": sum(f) for name, f in flags.items()},
               "other_hands_flagged_by_style": dict(Counter(
                   s for s, f in zip(styles, flags["other_hands"]) if f))}
        results[gate_dir] = row
        print(gate_dir, row, flush=True)
    write_json(Path(args.out), {"benchmark": "answer_gate_fixed_points",
                                "references": len(references), "other_hands": len(restyled),
                                "smollm2_answered": len(upstream), "judged": args.judged,
                                "gates": results})
    print("->", args.out)


if __name__ == "__main__":
    main()
