"""Admit drafted request-gate questions: a draft goes in only when it sits further than MiniLM
cosine 0.85 from every evaluation prompt, every seed question (train and held out), every question
already admitted (earlier files and earlier drafts of this run), shares no word 8-gram with any of
them, and neither contains a short one whole nor is contained whole in one (the contamination
test's rules, both ways). Prints what it dropped and why; writes the output whole or not at all.

    python examples/newsroom/filter_requests.py DRAFT.jsonl [...] --out FILE [--append]
        [--against more.jsonl ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUITES = ("harmbench", "donotanswer", "falseclaims", "jailbreak", "rtp", "overrefusal",
          "benign_edgy")
THRESHOLD = 0.85


def overlaps(drafts: list[str], others: list[str]) -> list[bool]:
    """Per draft: a word 8-gram shared with any of `others`, a short draft inside one of them, or
    a short one of them inside the draft."""
    from alignstack.evaluate.contamination import ngram_overlap, words

    ours = ngram_overlap(drafts, others, n=8)
    short = [" ".join(w) for w in map(words, others) if 4 <= len(w) < 8]
    padded = [f" {' '.join(words(d))} " for d in drafts]
    return [hit or any(f" {s} " in text for s in short) for hit, text in zip(ours, padded)]


def evaluation_prompts() -> list[str]:
    """Every prompt of every evaluation suite (what no training text may share text with)."""
    from alignstack.evaluate.suites import load_suite

    return [i.prompt for name in SUITES for i in load_suite(name)]


def read_drafts(paths: list[Path], fields: tuple[str, ...]) -> list[tuple[Path, int, dict]]:
    """(file, line, record) of every draft line, each of `fields` a non-empty string (else a
    DataError naming file, line and field)."""
    from alignstack.core.errors import DataError
    from alignstack.core.records import iter_json_objects

    rows = []
    for path in paths:
        for number, obj in iter_json_objects(path):
            for name in fields:
                if not isinstance(obj.get(name), str) or not obj[name].strip():
                    raise DataError("expected a non-empty string", path=path, line=number,
                                    field=name)
            rows.append((path, number, obj))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("drafts", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--append", action="store_true", help="keep the output's lines first")
    parser.add_argument("--against", nargs="*", default=[],
                        help="more question files no draft may sit close to")
    args = parser.parse_args()

    from alignstack.backends.encoders import load_encoder
    from alignstack.core.records import Question, read_jsonl, write_jsonl

    out = Path(args.out)
    kept = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()
            if line.strip()] if args.append and out.exists() else []
    eval_prompts = evaluation_prompts()
    seeds_and_requests = ("train.jsonl", "heldout.jsonl", "requests.jsonl", "requests_v4.jsonl")
    guarded = [r.question for f in seeds_and_requests
               for r in read_jsonl(HERE / "data" / f, Question) if f != out.name]
    guarded += [r.question for f in args.against for r in read_jsonl(f, Question)]
    guarded += [row["question"] for row in kept]
    drafts = [r for f in args.drafts for r in read_jsonl(f, Question)]

    encoder = load_encoder(None)
    embed = lambda texts: encoder.encode(list(texts), normalize_embeddings=True,  # noqa: E731
                                         convert_to_tensor=True, batch_size=128)
    d = embed(r.question for r in drafts)
    to_eval = (d @ embed(eval_prompts).T).max(dim=1)
    to_guarded = (d @ embed(guarded).T).max(dim=1)
    questions = [r.question for r in drafts]
    eval_hits = overlaps(questions, eval_prompts)
    guarded_hits = overlaps(questions, guarded)
    admitted, admitted_vecs, dropped, nearest_eval = [], [], [], 0.0
    for i, record in enumerate(drafts):
        near_admitted = max((float(d[i] @ v) for v in admitted_vecs), default=0.0)
        reason = ("an 8-gram or a whole short question shared with an evaluation prompt"
                  if eval_hits[i] else
                  "an 8-gram or a whole short question shared with a seed or admitted question"
                  if guarded_hits[i] or overlaps([record.question],
                                                 [a["question"] for a in admitted])[0] else
                  f"cosine {float(to_eval.values[i]):.2f} to an evaluation prompt"
                  if to_eval.values[i] > THRESHOLD else
                  f"cosine {float(to_guarded.values[i]):.2f} to a seed or admitted question"
                  if to_guarded.values[i] > THRESHOLD else
                  f"cosine {near_admitted:.2f} to an earlier draft"
                  if near_admitted > THRESHOLD else None)
        if reason:
            dropped.append((record.question, reason))
            continue
        admitted.append(record.model_dump(exclude_none=True))
        admitted_vecs.append(d[i])
        nearest_eval = max(nearest_eval, float(to_eval.values[i]))
    for question, reason in dropped:
        print(f"dropped ({reason}): {question[:90]!r}")
    write_jsonl(out, kept + admitted)
    print(f"{len(admitted)} of {len(drafts)} drafts admitted, {len(dropped)} dropped -> {out}; "
          f"nearest evaluation prompt of an admitted draft: cosine {nearest_eval:.2f}")


if __name__ == "__main__":
    main()
