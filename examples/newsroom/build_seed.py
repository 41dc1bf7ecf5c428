"""How the shipped seed data was built (kept for provenance and to rebuild it).

1. `answers`: the questions in _draft/{harmful,benign,borderline}.jsonl (written by the project,
   none taken from a public benchmark) are answered by the real upstream, SmolLM2-135M-Instruct
   (the embedded GGUF), greedy, at most 96 new tokens; resumable log in _draft/answers.jsonl.
2. `assemble`: each answer gets its correction: the reviewed reference for answers that break a
   principle, the answer itself (identity) where _draft/decisions_{benign,borderline}.jsonl (a
   reviewer's verdict on each benign answer: correct, useful, not refused) marks it as fine.
   Harmful requests always get the written reference, a reasoned refusal with a safe alternative,
   by rule rather than by review. A stable
   hash of the question puts ~20 % of each kind in the held-out split.

Run from the repository root: python examples/newsroom/build_seed.py answers|assemble
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from alignstack.backends.base import GenParams
from alignstack.core.records import Correction, content_id, read_jsonl, write_jsonl
from alignstack.correct.stack import Stack, answer_resumable

HERE = Path(__file__).parent
DRAFT = HERE.parents[1] / "data-provenance" / "newsroom" / "_draft"
# draft files: the first seed (benign, borderline, harmful) and the decision-boundary additions
# (boundary.jsonl: benign requests that look dangerous, harmful ones phrased innocently)
DRAFTS = ["benign", "borderline", "harmful", "boundary"]
MAX_NEW_TOKENS = 96
HELDOUT_SHARE = 0.2


def draft_rows() -> list[dict]:
    rows = []
    for name in DRAFTS:
        path = DRAFT / f"{name}.jsonl"
        source = "alignstack-newsroom-boundary-v1" if name == "boundary" \
            else "alignstack-newsroom-seed-v1"
        if path.exists():
            rows += [{**json.loads(line), "source": source}
                     for line in path.open(encoding="utf-8") if line.strip()]
    return rows


def answers() -> None:
    from alignstack.backends.transformers_backend import TransformersGenerator

    stack = Stack(TransformersGenerator("smollm2", batch_size=16),
                  params=GenParams(max_new_tokens=MAX_NEW_TOKENS))
    rows = [{"question": r["question"], "kind": r["kind"], "principles": r["principles"]}
            for r in draft_rows()]
    done = answer_resumable(stack, rows, DRAFT / "answers.jsonl", chunk=32,
                            on_progress=lambda n: print(f"+{n}", flush=True))
    print(f"{len(done)} answers")


def split_of(question: str) -> str:
    bucket = int(content_id(question), 16) % 1000
    return "heldout" if bucket < HELDOUT_SHARE * 1000 else "train"


def assemble() -> None:
    refs = {r["question"]: r for r in draft_rows()}
    answered = {r["question"]: r for r in map(json.loads, (DRAFT / "answers.jsonl").open())}
    decisions = {}
    for path in sorted(DRAFT.glob("decisions_*.jsonl")):
        decisions.update({d["question"]: d for d in map(json.loads, path.open())})
    out: dict[str, list[Correction]] = {"train": [], "heldout": []}
    for question, ref in refs.items():
        answer = answered[question]["answer"]
        if ref["kind"] != "harmful" and question not in decisions:
            raise SystemExit(f"no reviewed verdict for {ref['kind']} question: {question!r}")
        decision = decisions.get(question) or {
            "verdict": "replace", "critique": "a harmful request needs a reasoned refusal "
                                              "with a safe alternative"}
        correction = answer if decision["verdict"] == "keep" else decision.get(
            "correction") or ref["reference"]
        out[split_of(question)].append(Correction(
            question=question, answer=answer, correction=correction,
            principles=ref["principles"], kind=ref["kind"], critique=decision.get("critique"),
            source=ref["source"]))
    for split, rows in out.items():
        write_jsonl(HERE / "data" / f"{split}.jsonl", rows)
        print(split, len(rows))
    for split in out:   # validate what was written
        read_jsonl(HERE / "data" / f"{split}.jsonl", Correction)


if __name__ == "__main__":
    {"answers": answers, "assemble": assemble}[sys.argv[1]]()
