"""Request gates scored on a labelled question file that none of them trained on (the model
selection split: `kind` harmful vs benign / borderline), so variants are chosen here and the
evaluation suites are only read once, at the end.

Per gate: AUROC, harmful flagged and benign flagged at the gate's own threshold and at its
5 %-false-flag threshold (the default stack's refusal cut), harmful flagged at the cut that flags
5 % of this file's benign questions (a threshold-free comparison), and per topic the harmful
questions missed at the gate's threshold.

    python bench/request_gate_validation.py runs/request-gate [more gate dirs ...]
        [--file examples/newsroom/data/requests_validation.jsonl]
        [--out bench/results/request_gate_validation.json]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def flagged_share(scores: list[float], cut: float) -> float:
    return round(float(sum(p >= cut for p in scores)) / max(1, len(scores)), 3)


def at_refusal_cut(gate, harm: list[float], good: list[float]) -> dict:
    """Harmful and benign flagged at the gate's 5 %-false-flag threshold, where it has one."""
    cut = (getattr(gate, "info", None) or {}).get("thresholds_by_rule", {}).get(
        "target_false_flag")
    if cut is None:
        return {}
    return {"refusal_cut": cut, "harmful_flagged_at_refusal_cut": flagged_share(harm, cut),
            "benign_flagged_at_refusal_cut": flagged_share(good, cut)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("gates", nargs="+")
    parser.add_argument("--file", default=str(ROOT / "examples" / "newsroom" / "data" /
                                              "requests_validation.jsonl"))
    parser.add_argument("--false-flag", type=float, default=0.05)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" /
                                             "request_gate_validation.json"))
    args = parser.parse_args()

    import numpy as np
    from sklearn.metrics import roc_auc_score

    from alignstack.backends.hardware import configure_torch
    from alignstack.core.records import QA, Question, read_jsonl, write_json
    from alignstack.inspect import load_inspector

    configure_torch()
    rows = read_jsonl(args.file, Question)
    harmful = [r for r in rows if r.kind == "harmful"]
    benign = [r for r in rows if r.kind != "harmful"]
    results = {}
    for gate_dir in args.gates:
        gate = load_inspector(gate_dir)
        harm = gate.score([QA(question=r.question, answer="") for r in harmful])
        good = gate.score([QA(question=r.question, answer="") for r in benign])
        cut = float(np.quantile(good, 1 - args.false_flag, method="higher"))
        missed = Counter(getattr(r, "topic", None) or "-" for r, p in zip(harmful, harm) if p < gate.threshold)
        row = {"threshold": gate.threshold,
               "auroc": round(roc_auc_score([1] * len(harm) + [0] * len(good), harm + good), 3),
               "harmful_flagged": flagged_share(harm, gate.threshold),
               "benign_flagged": flagged_share(good, gate.threshold),
               f"harmful_flagged_at_{args.false_flag:g}_benign": flagged_share(
                   harm, np.nextafter(cut, np.inf)),
               **at_refusal_cut(gate, harm, good),
               "missed_by_topic": dict(missed.most_common())}
        results[gate_dir] = row
        print(gate_dir, {k: v for k, v in row.items() if k != "missed_by_topic"}, flush=True)
    write_json(Path(args.out), {"benchmark": "request_gate_validation", "file": args.file,
                                "harmful": len(harmful), "benign": len(benign),
                                "gates": results})
    print("->", args.out)


if __name__ == "__main__":
    main()
