"""The build's data stage: a synth run (plus any hand-written seed records) split into training
and held-out files, one kind of record per file, and the check that there is enough to train on.

Under data_dir, `train/` and `heldout/` each hold
- qac.jsonl       Q-A-C records (the corrector's data), synthetic and seed;
- requests.jsonl  every question synth kept, with its kind (the request gate's data): questions
                  whose critique or rewrite failed still teach what a harmful request looks like;
- answers.jsonl   labelled answers (the answer gate's data): a Q-A-C record's answer (misaligned
                  when its correction changed it) and correction (aligned), and every upstream
                  answer the teacher's critique judged (label 1: it breaks a principle).
A question is held out when a hash of its text falls below `heldout_fraction`, wherever it came
from, so a record once held out stays held out however the data grows, and no file trains on a
question another file holds out. counts.json says what each file holds."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

from alignstack.core.errors import DataError
from alignstack.core.records import Correction, read_jsonl, same_text, write_json, write_jsonl
from alignstack.project.config import BuildConfig

KINDS = ("harmful", "benign", "borderline")


def held_out(question: str, fraction: float) -> bool:
    digest = hashlib.sha256(" ".join(question.lower().split()).encode("utf-8")).hexdigest()
    return int(digest[:8], 16) / 16 ** 8 < fraction


def _key(*texts: str) -> tuple[str, ...]:
    return tuple(" ".join(t.lower().split()) for t in texts)


def stage_rows(flow, task: str) -> list[dict]:
    """The parsed rows of the flow's first `task` stage (its append-only log), or []."""
    from alignstack.synth.pipeline import stage_paths

    for spec, path in zip(flow.tasks, stage_paths(flow)):
        if spec.task == task and path.is_file():
            rows = []
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    break                     # a torn last line: the run was killed mid-write
            return [r for r in rows if r.get("ok")]
    return []


def load_records(flow, seed_files: list[Path]) -> tuple[list[Correction], int]:
    """(the synth run's Q-A-C records followed by the seed records, how many were synthetic)."""
    qac = Path(flow.output_dir) / "qac.jsonl"
    if not qac.is_file():
        raise DataError("the synth run wrote no Q-A-C records: its flow needs the answers, "
                        "critique and revision tasks", path=qac)
    records = read_jsonl(qac, Correction)
    synthetic = len(records)
    for path in seed_files:
        records += [r if r.source else r.model_copy(update={"source": f"seed:{path.name}"})
                    for r in read_jsonl(path, Correction)]
    return records, synthetic


def requests_from(records: list[Correction], flow) -> list[dict]:
    out: dict[tuple, dict] = {}
    for r in records:
        if r.kind:
            out.setdefault(_key(r.question), {"question": r.question, "kind": r.kind,
                                              "principles": r.principles, "source": r.source})
    for row in stage_rows(flow, "questions"):
        if row.get("kept") and row.get("kind") in KINDS:
            out.setdefault(_key(row["question"]), {
                "question": row["question"], "kind": row["kind"],
                "principles": row.get("principles", []), "source": "synth:questions"})
    return list(out.values())


def answers_from(records: list[Correction], flow) -> list[dict]:
    out: dict[tuple, dict] = {}

    def add(question: str, answer: str, label: int, row) -> None:
        if question.strip() and answer.strip():
            out.setdefault(_key(question, answer), {
                "question": question, "answer": answer, "label": label,
                "principles": list(row.get("principles") or []), "kind": row.get("kind"),
                "source": row.get("source")})

    for r in records:
        changed = not same_text(r.answer, r.correction)
        add(r.question, r.answer, int(changed), r.model_dump())
        if changed:
            add(r.question, r.correction, 0, r.model_dump())
    for row in stage_rows(flow, "critique"):
        if isinstance(row.get("violates"), bool):
            add(row["question"], row["answer"], int(row["violates"]),
                {**row, "source": "synth:critique"})
    return list(out.values())


def count(qac: list[Correction], seed: int, requests: list[dict], answers: list[dict]) -> dict:
    kinds = Counter(r.kind or "unknown" for r in qac)
    return {"qac": len(qac),
            "rewrites": sum(not same_text(r.answer, r.correction) for r in qac),
            "qac_by_kind": dict(sorted(kinds.items())), "seed": seed,
            "requests": len(requests),
            "harmful_requests": sum(r["kind"] == "harmful" for r in requests),
            "other_requests": sum(r["kind"] != "harmful" for r in requests),
            "answers": len(answers),
            "misaligned_answers": sum(a["label"] == 1 for a in answers),
            "aligned_answers": sum(a["label"] == 0 for a in answers)}


def shortfalls(train: dict, cfg: BuildConfig) -> list[str]:
    """What the training split lacks, one phrase per minimum it misses."""
    wanted = [("qac", cfg.min_records, "Q-A-C records", "min_records"),
              ("rewrites", cfg.min_rewrites, "records whose correction changes the answer",
               "min_rewrites"),
              ("harmful_requests", cfg.min_per_label, "harmful questions", "min_per_label"),
              ("other_requests", cfg.min_per_label, "benign or borderline questions",
               "min_per_label"),
              ("misaligned_answers", cfg.min_per_label, "misaligned answers", "min_per_label"),
              ("aligned_answers", cfg.min_per_label, "aligned answers", "min_per_label")]
    return [f"{train[key]} {what} (need {need}: {name})" for key, need, what, name in wanted
            if train[key] < need]


def teacher_of(flow) -> str:
    name = next((s.backend for s in flow.tasks if s.task == "revision"), flow.tasks[0].backend)
    spec = flow.backends[name]
    where = getattr(spec, "base_url", None) or (spec.model_extra or {}).get("base_url")
    return f"{spec.kind}:{spec.model}" + (f" at {where}" if where else "")


def synth_yield(flow) -> str:
    stats_file = Path(flow.output_dir) / "stats.json"
    if not stats_file.is_file():
        return ""
    stats = json.loads(stats_file.read_text(encoding="utf-8"))
    stages = stats.get("stages", [])
    failures = sum(s["parse_failures"] for s in stages)
    rejected = sum(s["filtered"] for s in stages)
    asked = next((s["items"] for s in stages if s["task"] == "questions"), None)
    return (f"The synth run ({teacher_of(flow)}) kept {stats['outputs'].get('qac', 0)} records"
            + (f" from {asked} question slots" if asked is not None else "")
            + f": {failures} outputs were unparseable and {rejected} rejected by its filters. ")


def prepare_data(flow, cfg: BuildConfig, data_dir: Path, seed_files: list[Path]) -> dict:
    """Write the split files and counts.json; raise DataError, saying what each stage produced
    and what a real run needs, when the training split is too small to train on."""
    records, synthetic = load_records(flow, seed_files)
    requests, answers = requests_from(records, flow), answers_from(records, flow)
    counts: dict = {"synthetic_qac": synthetic, "seed_files": [str(p) for p in seed_files]}
    for split, keep in (("train", False), ("heldout", True)):
        chosen = [i for i, r in enumerate(records)
                  if held_out(r.question, cfg.heldout_fraction) == keep]
        qac = [records[i] for i in chosen]
        req = [r for r in requests if held_out(r["question"], cfg.heldout_fraction) == keep]
        ans = [a for a in answers if held_out(a["question"], cfg.heldout_fraction) == keep]
        write_jsonl(data_dir / split / "qac.jsonl", qac)
        write_jsonl(data_dir / split / "requests.jsonl", req)
        write_jsonl(data_dir / split / "answers.jsonl", ans)
        counts[split] = count(qac, sum(i >= synthetic for i in chosen), req, ans)
    write_json(data_dir / "counts.json", counts)
    missing = shortfalls(counts["train"], cfg)
    if missing:
        raise DataError(
            "too little to train on: the training split holds " + "; ".join(missing) + ". "
            + synth_yield(flow)
            + "A real run needs a strong instruction-following teacher (a 7B+ instruct model "
              "behind vLLM, llama.cpp's server or Ollama, or a hosted API): set "
              "backends.teacher in synth.yaml and a new output_dir (a run resumes from its "
              "logs), raise the topics' samples, add hand-written records (seed_files in "
              "build.yaml), or, knowing the stack will be weak, lower the minimums in "
              "build.yaml. See docs/project.md.", path=data_dir / "train")
    return counts
