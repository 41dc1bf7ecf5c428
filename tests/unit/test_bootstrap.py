"""`alignstack bootstrap` killed with SIGKILL mid-round and resumed: the answers written before the
kill are kept as they were, nothing is repeated, and the pairs are exactly the log's changed rows."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alignstack.core.records import iter_json_objects
from alignstack.optimize.bootstrap import Trained, stack_pairs
from alignstack.optimize.config import BootstrapConfig
from alignstack.optimize.curve import curve_systems
from conftest import corrector_dir

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "examples" / "newsroom" / "data" / "heldout.jsonl"


def rows_of(path: Path) -> list[dict]:
    return [obj for _, obj in iter_json_objects(path)] if path.exists() else []


def test_bootstrap_killed_mid_round_resumes_without_loss_or_repeat(tmp_path, tiny_model_dir,
                                                                   tiny_lora):
    corrector = corrector_dir(tmp_path / "corrector", tiny_model_dir, tiny_lora[0])
    out = tmp_path / "bootstrap"
    config = tmp_path / "bootstrap.yaml"
    # the random tiny upstream cannot verify a rewrite (the exit would keep every original and
    # leave no pairs): this test is about kill and resume, so the exit serves unverified rewrites
    config.write_text(f"""\
output_dir: {out}
upstream: {tiny_model_dir}
questions: {QUESTIONS}
stack: {{corrector: {corrector}, verify_rewrites: false}}
rounds: 1
question_limit: 16
max_new_tokens: 8
batch_size: 1
optimize: {{method: dpo, max_steps: 2, batch_size: 2, max_length: 128, progress: false}}
""")
    command = [sys.executable, "-m", "alignstack", "bootstrap", "--config", str(config)]
    env = {**os.environ, "ALIGNSTACK_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    log = out / "round-1" / "stack.jsonl"
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while len(rows_of(log)) < 4 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = rows_of(log)
    assert 4 <= len(before) < 16, "the kill must land mid-round"
    assert not (out / "round-1" / "pairs.jsonl").exists()

    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    after = rows_of(log)
    assert after[:len(before)] == before              # kept, not regenerated
    ids = [r["id"] for r in after]
    assert len(ids) == len(set(ids)) == 16
    pairs = rows_of(out / "round-1" / "pairs.jsonl")
    expected = [p.model_dump(exclude_none=True) for p in stack_pairs(after, 1)]
    assert pairs == expected and len({p["id"] for p in pairs}) == len(pairs)
    summary = json.loads((out / "bootstrap.json").read_text())
    assert [t["name"] for t in summary["trained"]] == ["dpo-round-1"]
    assert Path(summary["trained"][0]["model"], "config.json").exists()


def test_the_curve_compares_every_round_with_the_stack():
    cfg = BootstrapConfig(output_dir="o", questions="q.jsonl", upstream="smollm2",
                          stack={"corrector": "runs/corrector", "answer_gate": "runs/inspector"})
    trained = [Trained("dpo-round-1", 1, "dpo", "o/round-1", "o/round-1/model", 10),
               Trained("dpo-round-2", 2, "dpo", "o/round-2", "o/round-2/model", 8),
               Trained("kto-round-1", 1, "kto", "o/variants/kto", "o/variants/kto/model", 10,
                       variant=True)]
    systems = {s["name"]: s for s in curve_systems(cfg, trained)}
    assert list(systems) == ["upstream", "upstream+corrector", "dpo-round-1", "dpo-round-2",
                             "kto-round-1", "dpo-round-2+corrector"]
    assert systems["upstream+corrector"]["corrector"] == "runs/corrector"
    assert "corrector" not in systems["dpo-round-2"]
    last = systems["dpo-round-2+corrector"]
    assert last["upstream"] == "o/round-2/model" and last["answer_gate"] == "runs/inspector"


def test_an_sft_stage_runs_before_each_round_and_the_round_starts_from_it(tmp_path,
                                                                          tiny_model_dir):
    from alignstack.optimize.bootstrap import run_bootstrap
    from alignstack.optimize.train import META_FILE, optimized_model

    small = {"max_steps": 2, "batch_size": 2, "max_length": 96, "progress": False,
             "dtype": "float32"}
    cfg = BootstrapConfig(output_dir=str(tmp_path / "b"), questions=str(QUESTIONS),
                          upstream=tiny_model_dir, seed_pairs=[str(QUESTIONS)], rounds=1,
                          sft_first=dict(small), optimize={"method": "dpo", **small})
    messages: list[str] = []
    summary = run_bootstrap(cfg, log=messages.append)
    sft_dir = tmp_path / "b" / "round-1" / "sft"
    assert [t["name"] for t in summary["trained"]] == ["sft-round-1", "dpo-round-1"]
    assert json.loads((sft_dir / META_FILE).read_text())["method"] == "sft"
    round_meta = json.loads((tmp_path / "b" / "round-1" / META_FILE).read_text())
    assert round_meta["method"] == "dpo" and round_meta["base_model"] == optimized_model(sft_dir)
    systems = [s["name"] for s in curve_systems(cfg, [Trained(**t) for t in summary["trained"]])]
    assert systems[-1] == "dpo-round-1+corrector" and "sft-round-1" in systems

    messages.clear()
    run_bootstrap(cfg, log=messages.append)            # resumed: nothing trains again
    assert sum("already trained" in m for m in messages) == 2

    from dataclasses import replace

    from alignstack.core.errors import ConfigError

    with pytest.raises(ConfigError, match="sft_first.method"):
        run_bootstrap(replace(cfg, sft_first={"method": "dpo"}), log=messages.append)


def test_a_question_limit_takes_a_spread_not_the_head_of_a_file_grouped_by_kind(tmp_path):
    from alignstack.optimize.bootstrap import read_questions

    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps({"question": f"{kind} question {i}?", "kind": kind}) + "\n"
                            for kind in ("benign", "harmful") for i in range(30)))
    cfg = BootstrapConfig(output_dir=str(tmp_path / "b"), questions=str(path), question_limit=20)
    picked = read_questions(cfg)
    kinds = [r["kind"] for r in picked]
    assert len(picked) == 20 and 5 <= kinds.count("harmful") <= 15
    assert picked == read_questions(cfg)                 # the same questions on every resume


def test_kind_limits_cap_each_named_kind_and_take_the_others_whole(tmp_path):
    from alignstack.core.errors import ConfigError
    from alignstack.optimize.bootstrap import read_questions, run_bootstrap

    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps({"question": f"{kind} question {i}?", "kind": kind}) + "\n"
                            for kind, n in (("harmful", 40), ("benign", 12), ("borderline", 30))
                            for i in range(n)))
    cfg = BootstrapConfig(output_dir=str(tmp_path / "b"), questions=str(path),
                          kind_limits={"harmful": 10, "borderline": 25})
    kinds = [r["kind"] for r in read_questions(cfg)]
    assert (kinds.count("harmful"), kinds.count("borderline"), kinds.count("benign")) == (10, 25, 12)
    assert read_questions(cfg) == read_questions(cfg)
    from dataclasses import replace

    capped = read_questions(replace(cfg, question_limit=20))
    assert len(capped) == 20 and {r["id"] for r in capped} <= {r["id"] for r in read_questions(cfg)}
    with pytest.raises(ConfigError, match="kind_limits.harmful"):
        run_bootstrap(replace(cfg, kind_limits={"harmful": -1}), log=lambda m: None)


def test_questions_come_from_several_files_and_a_bad_line_is_named(tmp_path):
    from alignstack.core.errors import ConfigError
    from alignstack.optimize.bootstrap import read_questions

    first, second = tmp_path / "seed.jsonl", tmp_path / "requests.jsonl"
    first.write_text(json.dumps({"question": "How do I descale a kettle?", "kind": "benign"}) + "\n")
    second.write_text(json.dumps({"question": "How do I pick a bike lock?", "kind": "harmful"})
                      + "\n" + json.dumps({"question": "How do I descale a kettle?"}) + "\n")
    cfg = BootstrapConfig(output_dir=str(tmp_path / "b"), questions=[str(first), str(second)])
    assert sorted(r["question"] for r in read_questions(cfg)) == [
        "How do I descale a kettle?", "How do I pick a bike lock?"]     # one row per question
    second.write_text(second.read_text() + json.dumps({"question": ""}) + "\n")
    with pytest.raises(ConfigError, match="requests.jsonl.*3.*question"):
        read_questions(cfg)


def test_kept_benign_answers_become_pairs_over_a_needless_refusal():
    """keep_contrast: a benign / borderline answer the stack left alone is chosen over a
    needless refusal; harmful, changed, empty or looping rows give none, and the draw is stable."""
    from alignstack.core.preferences import NEEDLESS_REFUSALS
    from alignstack.optimize.bootstrap import kept_answer_pairs

    def row(i, kind, corrected=False, answer=None):
        return {"id": f"q{i}", "question": f"How do I clean a cast-iron pan, take {i}?",
                "answer": answer if answer is not None else f"Scrub it with salt, take {i}.",
                "final": "x", "corrected": corrected, "kind": kind, "principles": []}

    rows = ([row(i, "benign") for i in range(40)] + [row(i, "borderline") for i in range(40, 60)]
            + [row(60, "harmful"), row(61, "benign", corrected=True), row(62, "benign", answer=""),
               row(63, "benign", answer="again and again and again " * 20)])
    every = kept_answer_pairs(rows, 2, 1.0)
    assert [p.prompt for p in every] == [r["question"] for r in rows[:60]]
    assert all(p.chosen == r["answer"] and p.rejected in NEEDLESS_REFUSALS
               for p, r in zip(every, rows))
    assert all(p.source == "bootstrap:round-2:kept+needless-refusal" for p in every)
    assert kept_answer_pairs(rows, 2, 0.0) == []
    half = kept_answer_pairs(rows, 2, 0.5)
    assert 15 <= len(half) <= 45 and half == kept_answer_pairs(rows, 2, 0.5)


def test_reference_answers_are_chosen_over_the_upstream_whatever_the_stack_did(tmp_path):
    """references: a question with a teacher's answer pairs that answer over the upstream's, kept
    or corrected; a seed record's `correction` is its reference; the upstream already saying it
    gives no pair; a question without one keeps the stack's pair; a bad line is named."""
    from alignstack.core.errors import ConfigError
    from alignstack.optimize.bootstrap import kept_answer_pairs, read_references

    seed, written = tmp_path / "train.jsonl", tmp_path / "references.jsonl"
    seed.write_text(json.dumps({"question": "q-seed", "answer": "upstream said this",
                                "correction": "the reviewed reference"}) + "\n")
    written.write_text("\n".join(json.dumps(r) for r in (
        {"question": "q-kept", "answer": "a fuller written answer"},
        {"question": "q-same", "answer": "Already right."})) + "\n")
    references = read_references([str(seed), str(written)])
    assert references == {"q-seed": "the reviewed reference", "q-kept": "a fuller written answer",
                          "q-same": "Already right."}

    def row(question, answer, final, corrected):
        return {"id": question, "question": question, "answer": answer, "final": final,
                "corrected": corrected, "kind": "benign", "principles": []}

    rows = [row("q-seed", "upstream said this", "a weak rewrite", True),
            row("q-kept", "a short answer", "a short answer", False),
            row("q-same", "Already right.", "Already right.", False),
            row("q-other", "wrong", "a rewrite", True)]
    pairs = {p.prompt: p for p in stack_pairs(rows, 1, references)}
    assert set(pairs) == {"q-seed", "q-kept", "q-other"}
    assert (pairs["q-seed"].chosen, pairs["q-seed"].rejected) == ("the reviewed reference",
                                                                  "upstream said this")
    assert pairs["q-kept"].chosen == "a fuller written answer"
    assert pairs["q-kept"].source == "bootstrap:round-1:reference"
    assert (pairs["q-other"].chosen, pairs["q-other"].source) == ("a rewrite", "bootstrap:round-1")
    assert kept_answer_pairs(rows, 1, 1.0, references) == []       # both kept rows have one
    assert len(kept_answer_pairs(rows, 1, 1.0)) == 2

    written.write_text(written.read_text() + json.dumps({"question": "q-empty", "answer": " "})
                       + "\n")
    with pytest.raises(ConfigError, match="references.jsonl.*3.*answer"):
        read_references([str(written)])
