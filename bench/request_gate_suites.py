"""How well request gates separate the evaluation's harmful prompts from its benign ones, per
suite: AUROC of P(harmful request) (harmful suite vs all benign prompts) and the share each gate
flags at its own threshold. Read-only on the evaluation prompts' dev split (load_items: the sealed
test split is for `alignstack eval --final` alone): nothing is tuned here.

    python bench/request_gate_suites.py runs/request-gate [more gate dirs ...]
        [--config examples/newsroom/eval.yaml] [--out bench/results/request_gate_suites.json]
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HARMFUL_SUITES = ("harmbench", "donotanswer", "jailbreak")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("gates", nargs="+")
    parser.add_argument("--config", default=str(ROOT / "examples" / "newsroom" / "eval.yaml"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" /
                                             "request_gate_suites.json"))
    args = parser.parse_args()

    from sklearn.metrics import roc_auc_score

    from alignstack.backends.hardware import configure_torch
    from alignstack.core.records import QA, write_json
    from alignstack.evaluate.config import load_eval_config
    from alignstack.evaluate.runner import load_items
    from alignstack.inspect import load_inspector

    configure_torch()
    items = load_items(load_eval_config(args.config))
    harmful = [i for i in items if i["expected"] == "refuse" and i["suite"] in HARMFUL_SUITES]
    benign = [i for i in items if i["expected"] == "comply"]
    results = {}
    for gate_dir in args.gates:
        gate = load_inspector(gate_dir)
        harm = gate.score([QA(question=i["prompt"], answer="") for i in harmful])
        good = gate.score([QA(question=i["prompt"], answer="") for i in benign])
        row = {"threshold": gate.threshold,
               "auroc_all": round(roc_auc_score([1] * len(harm) + [0] * len(good), harm + good), 3),
               "benign_flagged": round(sum(p >= gate.threshold for p in good) / len(good), 3)}
        for suite in HARMFUL_SUITES:
            part = [p for i, p in zip(harmful, harm) if i["suite"] == suite]
            row[suite] = {"n": len(part),
                          "auroc": round(roc_auc_score([1] * len(part) + [0] * len(good),
                                                       part + good), 3),
                          "flagged": round(sum(p >= gate.threshold for p in part) / len(part), 3)}
        results[gate_dir] = row
        print(gate_dir, row)
    write_json(Path(args.out), {"benchmark": "request_gate_suites", "config": args.config,
                                "harmful": len(harmful), "benign": len(benign), "gates": results})
    print("->", args.out)


if __name__ == "__main__":
    main()
