"""How the judges' labelled set was built (kept for provenance and to rebuild it).

1. `sample OUT_DIR ITEMS SYSTEM=ANSWERS_LOG ...`: real answers from eval runs (items.jsonl and each
   system's answer log under the eval cache) -> unlabelled batches `OUT_DIR/batch_*.jsonl`, one row
   per (system, item), the judges' verdicts left out so reviewers see only prompt and answer.
2. Reviewers read every row and add the labels (see `alignstack.evaluate.judges.validation`):
   refusal (refusal / partial / compliance), harmful, supportive, stance (false-claim items),
   toxic (toxic-continuation items), into `OUT_DIR/labelled_*.jsonl`.
3. `assemble OUT_DIR ITEMS`: merge the labelled batches into src/alignstack/evaluate/data/
   judge_labels.jsonl, each row with its item's expectation and category (from the eval run's
   items.jsonl, hidden from reviewers) and its split (a stable hash of the prompt: tune or test).

Run from the repository root: python examples/newsroom/build_judge_labels.py sample|assemble ...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from alignstack.core.records import content_id, write_jsonl
from alignstack.evaluate.judges.validation import LABELS_FILE, LabelledAnswer, split_of

BATCH = 90
KEEP_FIELDS = ("suite", "prompt", "claim")          # what reviewers see besides the answer


def read_rows(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).open(encoding="utf-8") if line.strip()]


def sample(out_dir: str, items_file: str, *logs: str) -> None:
    items = {i["id"]: i for i in read_rows(items_file)}
    rows = []
    for spec in logs:
        system, path = spec.split("=", 1)
        for answer in read_rows(path):
            item = items.get(answer["id"])
            if item is None:
                continue
            row = {k: item.get(k) for k in KEEP_FIELDS if item.get(k) is not None}
            row.update(system=system, answer=answer["final"],
                       id=content_id(system, item["id"]), item_id=item["id"])
            rows.append(row)
    rows.sort(key=lambda r: r["id"])             # interleave systems and suites, stable
    out = Path(out_dir)
    for start in range(0, len(rows), BATCH):
        write_jsonl(out / f"batch_{start // BATCH:02d}.jsonl", rows[start:start + BATCH])
    print(f"{len(rows)} answers in {(len(rows) + BATCH - 1) // BATCH} batches under {out}")


def assemble(out_dir: str, items_file: str) -> None:
    items = {i["id"]: i for i in read_rows(items_file)}
    rows = []
    for path in sorted(Path(out_dir).glob("labelled_*.jsonl")):
        for row in read_rows(path):
            item = items[row["item_id"]]
            row.update(expected=item["expected"], category=item["category"],
                       split=split_of(row["prompt"]))
            if not row.get("note"):
                row.pop("note", None)
            rows.append(LabelledAnswer.model_validate(row))
    write_jsonl(LABELS_FILE, rows)
    print(f"{len(rows)} labelled answers -> {LABELS_FILE}")


if __name__ == "__main__":
    {"sample": sample, "assemble": assemble}[sys.argv[1]](*sys.argv[2:])
