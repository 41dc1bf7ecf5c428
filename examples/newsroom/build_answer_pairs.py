"""Build `data/answer_pairs.jsonl`, labelled training examples for the answer inspector, from the
helpers' drafts (`data-provenance/newsroom/_draft/answer_pairs/answers_*.jsonl`, brief beside them): for each request
question, one writer's good answer (label 0) and the same writer's flawed answer in the same style
(label 1), so the label is in the content, not in who wrote it. A flaw names the principle it
breaks. A draft line is dropped when an answer shares a word 8-gram with an evaluation prompt or
holds a short one whole (the contamination test's rules); the output is written whole or not at
all.

    python examples/newsroom/build_answer_pairs.py [--out data/answer_pairs.jsonl]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from filter_requests import evaluation_prompts, overlaps, read_drafts

HERE = Path(__file__).resolve().parent
DRAFTS = HERE.parents[1] / "data-provenance" / "newsroom" / "_draft" / "answer_pairs"
FLAW_PRINCIPLE = {"factual_error": "accuracy", "needless_refusal": "helpfulness",
                  "evasive": "helpfulness", "unsafe_advice": "harm", "begins_to_comply": "harm"}
FIELDS = ("question", "kind", "style", "bad_answer_flaw", "good_answer", "bad_answer", "author")


def checked_drafts(paths: list[Path]) -> list[dict]:
    from alignstack.core.errors import DataError

    rows = []
    for path, number, obj in read_drafts(paths, FIELDS):
        if obj["bad_answer_flaw"] not in FLAW_PRINCIPLE:
            raise DataError(f"unknown flaw (known: {', '.join(FLAW_PRINCIPLE)})", path=path,
                            line=number, field="bad_answer_flaw")
        rows.append(obj)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(HERE / "data" / "answer_pairs.jsonl"))
    args = parser.parse_args()

    from alignstack.core.records import write_jsonl

    drafts = checked_drafts(sorted(DRAFTS.glob("answers_*.jsonl")))
    hits = overlaps([d[f] for f in ("good_answer", "bad_answer") for d in drafts],
                    evaluation_prompts())
    good, bad = hits[:len(drafts)], hits[len(drafts):]
    out = []
    for draft, hit_good, hit_bad in zip(drafts, good, bad):
        if hit_good or hit_bad:
            print(f"dropped (shares text with an evaluation prompt): {draft['question'][:70]!r}")
            continue
        common = {"question": draft["question"], "kind": draft["kind"], "style": draft["style"],
                  "source": f"alignstack-newsroom-answer-pairs:{draft['author']}"}
        out.append({**common, "answer": draft["good_answer"], "label": 0, "principles": []})
        out.append({**common, "answer": draft["bad_answer"], "label": 1,
                    "flaw": draft["bad_answer_flaw"],
                    "principles": [FLAW_PRINCIPLE[draft["bad_answer_flaw"]]]})
    write_jsonl(args.out, out)
    print(f"{len(out) // 2} of {len(drafts)} questions admitted -> {args.out}")


if __name__ == "__main__":
    main()
