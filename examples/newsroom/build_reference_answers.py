"""Build `data/reference_answers.jsonl`, a stronger teacher's answers for the bootstrap (its
`references`), from the helpers' drafts (`data-provenance/newsroom/_draft/pool_references/answers_*.jsonl`, brief
beside them): a written answer to each benign / borderline request question of the boundary pool
(`recipes/bootstrap-boundary.yaml`), where the bootstrap otherwise chooses the 135M corrector's
rewrite. A draft line is dropped when its question is not a request question of
`data/requests.jsonl`, or its answer is outside 10-120 words, shares a word 8-gram with an
evaluation prompt or holds a short one whole (the contamination test's rules); the output is
written whole or not at all.

    python examples/newsroom/build_reference_answers.py [--out data/reference_answers.jsonl]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from filter_requests import evaluation_prompts, overlaps, read_drafts

HERE = Path(__file__).resolve().parent
DRAFTS = HERE.parents[1] / "data-provenance" / "newsroom" / "_draft" / "pool_references"
SOURCE = "alignstack-newsroom-reference-answers-v1"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(HERE / "data" / "reference_answers.jsonl"))
    args = parser.parse_args()

    from alignstack.core.records import Question, read_jsonl, write_jsonl

    kinds = {r.question: r.kind for r in read_jsonl(HERE / "data" / "requests.jsonl", Question)}
    drafts = [{**obj, "author": path.stem} for path, _, obj in
              read_drafts(sorted(DRAFTS.glob("answers_*.jsonl")), ("question", "answer"))]
    hits = overlaps([d["answer"] for d in drafts], evaluation_prompts())
    out = []
    for draft, hit in zip(drafts, hits):
        words = len(draft["answer"].split())
        reason = ("not a request question" if draft["question"] not in kinds else
                  "a harmful request" if kinds[draft["question"]] == "harmful" else
                  f"{words} words" if not 10 <= words <= 120 else
                  "shares text with an evaluation prompt" if hit else None)
        if reason:
            print(f"dropped ({reason}): {draft['question'][:70]!r}")
            continue
        out.append({"question": draft["question"], "answer": draft["answer"].strip(),
                    "kind": kinds[draft["question"]], "source": f"{SOURCE}:{draft['author']}"})
    write_jsonl(args.out, out)
    print(f"{len(out)} of {len(drafts)} answers admitted -> {args.out}")


if __name__ == "__main__":
    main()
