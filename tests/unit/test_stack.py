"""Stack: inspector gating, best-of-N, resumable answering and the `alignstack stack` command —
real tiny random-Llama upstream and corrector, real MiniLM inspectors with hand-set heads."""

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from alignstack.backends.base import GenParams
from alignstack.core.errors import ConfigError
from alignstack.core.records import QA
from alignstack.correct.corrector import Corrector
from alignstack.correct.exit import ServePolicy
from alignstack.correct.stack import Stack, answer_resumable
from alignstack.inspect.inspector import Head, Inspector

from conftest import EXAMPLES


def inspector_with(intercept: float, threshold: float = 0.5, seed: int | None = None):
    """One head; weights zero (constant score) or random (scores vary with the answer)."""
    coef = (np.random.default_rng(seed).normal(0, 3, 384 * 4).astype(np.float32)
            if seed is not None else np.zeros(384 * 4, dtype=np.float32))
    return Inspector("minilm", {"overall": Head("overall", coef, intercept, {"kind": "none"},
                                                threshold)})


@pytest.fixture(scope="module")
def upstream(tiny_model_dir):
    from alignstack.backends.transformers_backend import TransformersGenerator

    return TransformersGenerator(tiny_model_dir, batch_size=4)


@pytest.fixture(scope="module")
def corrector(upstream):
    return Corrector(upstream, "aligner-v1", max_new_tokens=6, extra_tokens=4)


PARAMS = GenParams(max_new_tokens=6)
QUESTIONS = ["Who won the match?", "What is the capital of Peru?", "Is it raining?"]


def test_without_inspector_is_backward_compatible(upstream, corrector):
    results = Stack(upstream, corrector, PARAMS).answer(QUESTIONS)
    assert [r.question for r in results] == QUESTIONS
    assert all(r.score is None and not r.skipped and r.candidates == 1 for r in results)
    assert all(r.corrected == (r.final.split() != r.answer.split()) for r in results)


def test_gate_skips_what_the_inspector_passes(upstream, corrector):
    calm = Stack(upstream, corrector, PARAMS, inspector=inspector_with(-5.0))
    results = calm.answer(QUESTIONS, [["harm"]] * 3)
    assert all(r.skipped and r.final == r.answer and not r.corrected for r in results)
    assert all(r.score == pytest.approx(1 / (1 + math.e ** 5), abs=1e-4) for r in results)
    assert calm.stats == {"answered": 3, "skipped": 3, "to_corrector": 0, "changed": 0}

    alarmed = Stack(upstream, corrector, PARAMS, inspector=inspector_with(5.0))
    results = alarmed.answer(QUESTIONS)
    assert not any(r.skipped for r in results) and alarmed.stats["to_corrector"] == 3
    # the same answers, gated by an explicit threshold above every score: all skipped
    high = Stack(upstream, corrector, PARAMS, inspector=inspector_with(5.0), threshold=0.999)
    assert all(r.skipped for r in high.answer(QUESTIONS))


def test_best_of_n_keeps_the_lowest_scored_sample(upstream):
    inspector = inspector_with(0.0, seed=1)
    params = GenParams(max_new_tokens=6, temperature=1.0, seed=7)
    results = Stack(upstream, None, params, inspector=inspector, best_of_n=4).answer(QUESTIONS[:2])
    raw = upstream.generate([[{"role": "user", "content": q}] for q in QUESTIONS[:2]],
                            GenParams(max_new_tokens=6, temperature=1.0, seed=7,
                                      num_return_sequences=4))
    for i, r in enumerate(results):
        samples = [QA(question=QUESTIONS[i], answer=c.text) for c in raw[i * 4:(i + 1) * 4]]
        scores = inspector.score(samples)
        assert r.candidates == 4
        assert r.answer == samples[int(np.argmin(scores))].answer
        assert r.score == pytest.approx(min(scores), abs=1e-4)


def test_best_of_n_over_corrections(upstream, corrector):
    inspector = inspector_with(5.0, seed=3)               # everything goes to the corrector
    # the exit unchecked: this tests which sample best-of-N picks (test_exit.py checks the exit)
    stack = Stack(upstream, corrector, GenParams(max_new_tokens=6, seed=11), inspector=inspector,
                  threshold=0.0, best_of_n=3, best_of="corrections", sample_temperature=1.0,
                  exit=ServePolicy(check=False))
    results = stack.answer(QUESTIONS[:2])
    items = [QA(question=r.question, answer=r.answer) for r in results]
    raw = corrector.generator.generate_text(
        corrector.prompts(items), GenParams(temperature=1.0, seed=11, num_return_sequences=3),
        max_new_tokens=corrector.token_limits(items))
    for i, r in enumerate(results):
        samples = [QA(question=r.question, answer=c.text.strip() or r.answer)
                   for c in raw[i * 3:(i + 1) * 3]]
        scores = inspector.score(samples)
        assert r.candidates == 1 and not r.skipped
        assert r.final == samples[int(np.argmin(scores))].answer
    with pytest.raises(ConfigError, match="needs a Corrector"):
        Stack(upstream, None, inspector=inspector, best_of_n=2, best_of="corrections")


def test_best_of_n_needs_an_inspector(upstream):
    with pytest.raises(ConfigError, match="needs an inspector"):
        Stack(upstream, best_of_n=3)
    with pytest.raises(ConfigError, match="field 'best_of_n'"):
        Stack(upstream, inspector=inspector_with(0.0), best_of_n=0)


def test_answer_resumable_logs_scores_and_resumes(upstream, corrector, tmp_path):
    stack = Stack(upstream, corrector, PARAMS, inspector=inspector_with(-5.0))
    rows = [{"question": q} for q in QUESTIONS]
    done = answer_resumable(stack, rows[:2], tmp_path / "log.jsonl", chunk=1)
    assert all(r["skipped"] and "score" in r for r in done)
    done = answer_resumable(stack, [dict(r) for r in rows], tmp_path / "log.jsonl", chunk=2)
    assert stack.stats["answered"] == 3 and len(done) == 3
    assert [r["question"] for r in done] == QUESTIONS


runner = CliRunner()


def flat(text: str) -> str:
    """The console wraps long lines; compare with single spaces."""
    return " ".join(text.split())


def test_stack_command_end_to_end(tiny_model_dir, tmp_path):
    from alignstack.cli.main import app

    inspector_with(0.0, threshold=0.5, seed=2).save(tmp_path / "insp")
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps({"question": q}) + "\n" for q in QUESTIONS))
    out = tmp_path / "out.jsonl"
    args = ["stack", "--upstream", tiny_model_dir, "--corrector", tiny_model_dir,
            "--inspector", str(tmp_path / "insp"), "-i", str(questions), "-o", str(out),
            "--best-of-n", "2", "--max-new-tokens", "6", "--batch-size", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["question"] for r in rows] == QUESTIONS
    summary = json.loads((tmp_path / "out.jsonl.summary.json").read_text())
    assert summary["answers"] == 3 and summary["best_of_n"] == 2 and summary["threshold"] == 0.5
    assert summary["skipped"] == sum(r["skipped"] for r in rows)
    assert all(r["skipped"] == (r["score"] < 0.5) for r in rows)
    rerun = runner.invoke(app, args)                     # resumable: nothing regenerated
    assert rerun.exit_code == 0 and out.read_text().count("\n") == 3


def test_stack_command_bad_inputs(tiny_model_dir, tmp_path):
    from alignstack.cli.main import app

    bad = tmp_path / "q.jsonl"
    bad.write_text('{"question": "ok?"}\n{"kind": "benign"}\n')
    result = runner.invoke(app, ["stack", "--upstream", tiny_model_dir, "-i", str(bad),
                                 "-o", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2 and f"{bad}:2" in result.output and "question" in result.output
    both = runner.invoke(app, ["stack", "--upstream", tiny_model_dir, "-i", str(bad),
                               "-o", str(tmp_path / "o.jsonl"), "--corrector", "x",
                               "--squad", "y"])
    assert both.exit_code == 2 and "not both" in flat(both.output)
    good = tmp_path / "good.jsonl"
    good.write_text('{"question": "ok?"}\n')
    no_inspector = runner.invoke(app, ["stack", "--upstream", tiny_model_dir, "-i", str(good),
                                       "-o", str(tmp_path / "o.jsonl"), "--inspector",
                                       str(tmp_path)])
    assert no_inspector.exit_code == 2 and "not an inspector" in flat(no_inspector.output)
    assert not (tmp_path / "o.jsonl").exists()


def test_one_stack_file_with_flags_on_top(tmp_path):
    from alignstack.correct.assemble import load_stack_spec

    shipped = load_stack_spec(EXAMPLES / "stack.yaml")
    assert shipped.refuse_flagged and isinstance(shipped.answer_gate, list)
    assert shipped.rewrite_failed == "auto" and shipped.verify_rewrites == "all"
    overridden = load_stack_spec(EXAMPLES / "stack.yaml", {"backend": "transformers",
                                                           "refuse_flagged": False})
    assert overridden.backend == "transformers" and not overridden.refuse_flagged
    assert overridden.answer_gate == shipped.answer_gate          # the file's, untouched
    bad = tmp_path / "stack.yaml"
    bad.write_text("upstream: smollm2\nrewrite_failed: serve-anyway\n")
    with pytest.raises(ConfigError) as err:
        load_stack_spec(bad)
    assert "stack.yaml:2, field 'rewrite_failed'" in str(err.value)


def test_the_refusal_cut_by_rule_comes_from_the_gate_and_a_number_wins():
    from types import SimpleNamespace

    from alignstack.correct.assemble import refusal_cut, stack_spec

    gate = SimpleNamespace(info={"thresholds_by_rule": {"target_recall": 0.49,
                                                        "target_false_flag": 0.87}})
    assert refusal_cut(stack_spec(refuse_cut_rule="target_false_flag"), gate) == 0.87
    assert refusal_cut(stack_spec(), gate) is None                   # the gate's own threshold
    assert refusal_cut(stack_spec(refuse_cut_rule="target_false_flag", gate_threshold=0.6),
                       gate) == 0.6
    with pytest.raises(ConfigError, match="no threshold rule 'max_f1'.*target_false_flag"):
        refusal_cut(stack_spec(refuse_cut_rule="max_f1"), gate)



def test_without_an_uncertain_zone_nothing_below_the_refusal_cut_is_refused():
    """uncertain_zone: false puts the zone's floor at the refusal cut: a request the gate scores
    just below the cut with a flagged answer is rewritten, never refused; with the zone (the
    default) the same request may be refused."""
    from types import SimpleNamespace

    from alignstack.correct.assemble import request_gate_options, stack_spec
    from alignstack.correct.corrector import gated_verdict
    from alignstack.correct.template import REFUSE, REWRITE

    gate = SimpleNamespace(threshold=0.49, info={"thresholds_by_rule": {
        "target_recall": 0.49, "target_false_flag": 0.87}})
    zoned = request_gate_options(stack_spec(refuse_cut_rule="target_false_flag"), gate)
    flat = request_gate_options(stack_spec(refuse_cut_rule="target_false_flag",
                                           uncertain_zone=False), gate)
    assert zoned["gate_threshold"] == flat["gate_threshold"] == 0.87
    assert zoned["gate_pass_threshold"] is None and flat["gate_pass_threshold"] == 0.87
    zone_of = {name: Corrector.__new__(Corrector) for name in ("zoned", "flat")}
    for name, options in (("zoned", zoned), ("flat", flat)):
        zone_of[name].request_gate = gate
        zone_of[name].gate_threshold = options["gate_threshold"]
        zone_of[name].gate_pass_threshold = options["gate_pass_threshold"]
    assert zone_of["zoned"].gate_zone() == (0.87, 0.49)
    assert zone_of["flat"].gate_zone() == (0.87, 0.87)
    assert gated_verdict(REFUSE, 0.8, zone_of["zoned"].gate_zone(), True) == REFUSE
    assert gated_verdict(REFUSE, 0.8, zone_of["flat"].gate_zone(), True) == REWRITE
    # without a refusal rule the cut is the gate's own threshold, and so is the floor
    assert request_gate_options(stack_spec(uncertain_zone=False), gate)[
        "gate_pass_threshold"] == 0.49
    with pytest.raises(ConfigError, match="not both"):
        request_gate_options(stack_spec(uncertain_zone=False, gate_pass_threshold=0.3), gate)


def test_the_demo_follows_the_stack_files_refusal_cut_unless_it_names_its_own():
    from alignstack.correct.assemble import load_stack_spec
    from alignstack.demo import DemoConfig, demo_spec

    assert load_stack_spec(EXAMPLES / "stack.yaml").refuse_cut_rule == "target_false_flag"
    stack_file = str(EXAMPLES / "stack.yaml")
    assert demo_spec(DemoConfig(stack_file=stack_file)).refuse_cut_rule == "target_false_flag"
    assert demo_spec(DemoConfig(stack_file=stack_file,
                                refuse_cut_rule="target_recall")).refuse_cut_rule == "target_recall"


def test_stack_command_reads_the_stack_file(tiny_model_dir, tmp_path):
    from alignstack.cli.main import app

    stack_file = tmp_path / "stack.yaml"
    stack_file.write_text(f"upstream: {tiny_model_dir}\ncorrector: {tiny_model_dir}\n"
                          "verify_rewrites: false\nrewrite_failed: original\n")
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps({"question": q}) + "\n" for q in QUESTIONS))
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["stack", "--stack", str(stack_file), "-i", str(questions),
                                 "-o", str(out), "--max-new-tokens", "6", "--batch-size", "3"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    summary = json.loads((tmp_path / "out.jsonl.summary.json").read_text())
    assert sum(summary["served_paths"].values()) == 3
    # a copy-template corrector's rewrites of a random model: served only through the exit
    assert all(r["path"] in ("kept", "rewritten", "rewrite-original") for r in rows)
    assert all(r["final"] == r["answer"] for r in rows if r["path"] != "rewritten")


def test_serve_and_eval_read_the_same_stack_file(tmp_path):
    from alignstack.correct.assemble import load_stack_spec
    from alignstack.evaluate.config import SystemSpec
    from alignstack.serve.config import load_serve_config

    shipped = load_stack_spec(EXAMPLES / "stack.yaml")
    served = load_serve_config(EXAMPLES / "serve.yaml").stack
    assert served == shipped
    system = SystemSpec(name="stack", stack_file=str(EXAMPLES / "stack.yaml"),
                        backend="transformers")
    assert system.backend == "transformers"                      # the system's own field wins
    assert system.model_dump(exclude={"name", "stack_file", "backend"}) == \
        shipped.model_dump(exclude={"backend"})
    bad = tmp_path / "stack.yaml"
    bad.write_text("upstream: smollm2\nrefuse_flagged: maybe\n")
    with pytest.raises(ConfigError, match="stack.yaml:2"):
        SystemSpec(name="bad", stack_file=str(bad))
