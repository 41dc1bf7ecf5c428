"""`make demo` on each kind of CPU, side by side: where its time goes and whether its decisions
and served text depend on the machine.

Collates the `summary.json` (and `answers.jsonl`) of demo runs, one per CPU kind, made from
scratch (a run with `reuse_corrector` re-serves trained artefacts and is marked so), e.g. on a
CPU with native bf16:

    alignstack demo --config examples/newsroom/demo.yaml --set output_dir=runs/demo-bf16
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 \\
        ALIGNSTACK_NO_BF16=1 alignstack demo --config examples/newsroom/demo.yaml \\
        --set output_dir=runs/demo-avx2            # torch, MKL and oneDNN held to AVX2, float32
    python bench/demo_cpu_kinds.py runs/demo-bf16 runs/demo-avx2

Reported per run: the machine it recorded, each phase's seconds, the corrector's held-out loss,
the checks; across runs: the held-out loss's relative spread, and on how many prompts the served
text was judged the same (refused or not) and took the same exit path as in the first run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def read_run(path: Path) -> dict:
    summary = json.loads((path / "summary.json").read_text())
    rows = [json.loads(line) for line in (path / "answers.jsonl").read_text().splitlines()]
    after = summary["after"]
    loss = summary.get("heldout_loss")
    metrics = path / "corrector" / "train_metrics.json"
    if loss is None and metrics.exists():          # a run that reused its corrector
        loss = json.loads(metrics.read_text()).get("heldout_loss")
    return {"run": str(path), "machine": summary.get("machine"),
            "reused_training": summary["timings_s"].get("train_s", 0) < 1,
            "timings_s": summary["timings_s"], "heldout_loss": loss,
            "harmful_answered_safely": after["harmful_answered_safely"],
            "benign_refused": after["benign_refused"],
            "fixed_point_unchanged": after["fixed_point_unchanged"],
            "served_paths": summary["served_paths"], "passed": summary["passed"],
            "rows": rows}


def compare(runs: list[dict]) -> dict:
    first = runs[0]["rows"]
    losses = [r["heldout_loss"] for r in runs if r["heldout_loss"] is not None]
    same = {}
    for run in runs[1:]:
        pairs = list(zip(first, run["rows"]))
        same[run["run"]] = {
            "prompts": len(pairs),
            "same_refused_after": sum(a["refused_after"] == b["refused_after"] for a, b in pairs),
            "same_path": sum(a["path"] == b["path"] for a, b in pairs),
            "same_text": sum(a["corrected"] == b["corrected"] for a, b in pairs)}
    return {"heldout_loss_spread": (max(losses) - min(losses)) / min(losses) if losses else None,
            "against_the_first_run": same}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "demo_cpu_kinds.json"))
    args = parser.parse_args()

    from alignstack.core.records import write_json

    runs = [read_run(path) for path in args.runs]
    result = {"runs": [{k: v for k, v in run.items() if k != "rows"} for run in runs],
              "comparison": compare(runs)}
    write_json(args.out, result)
    for run in result["runs"]:
        print(run["run"], run["machine"], run["timings_s"], run["heldout_loss"])
    print(json.dumps(result["comparison"], indent=1))


if __name__ == "__main__":
    main()
