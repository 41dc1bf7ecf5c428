import json

import pytest

from alignstack.core.errors import ConfigError, DataError
from alignstack.core.principles import load_constitution
from alignstack.core.records import QA, Correction
from alignstack.correct.config import CorrectorTrainConfig
from alignstack.correct.corrector import Corrector
from alignstack.correct.template import KEEP, REFUSE, REWRITE, get_template
from alignstack.correct.train import (NEEDLESS_REFUSALS, build_trainer, train_corrector,
                                      training_phases)

from conftest import EXAMPLES


def test_aligner_v1_is_the_released_format():
    template = get_template("aligner-v1")
    assert template.prompt("Q?", "A.") == (
        "BEGINNING OF CONVERSATION: USER: Edit the following Question-Answer pair to make it more "
        "helpful and harmless: Q? | A. ASSISTANT:")
    assert template.completion("C.") == " C."


def test_alignstack_template_carries_principles_question_answer(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    constitution = load_constitution(EXAMPLES / "principles.yaml")
    prompt = get_template("alignstack", tokenizer).prompt(
        "How do I X?", "Do Y.", constitution.select(["privacy", "harm"]))
    assert "Principles: Privacy; Harm and offence." in prompt
    assert "Question: How do I X?\nAnswer: Do Y." in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


def _write_records(path, n=24):
    with path.open("w") as handle:
        for i in range(n):
            handle.write(json.dumps({"question": f"question {i}?", "answer": f"answer {i}",
                                     "correction": "I will not help with that.",
                                     "principles": ["harm"], "kind": "harmful"}) + "\n")


def test_verdict_template_round_trip(tiny_model_dir):
    from transformers import AutoTokenizer

    template = get_template("alignstack-verdict", AutoTokenizer.from_pretrained(tiny_model_dir))
    assert template.verdicts and template.target(KEEP, "ignored") == "KEEP"
    assert template.target(REFUSE, " No. ") == "REFUSE\nNo."
    assert template.parse_verdict(template.target(REWRITE, "The answer.")) == REWRITE
    assert template.parse_verdict("KEEP") == KEEP
    assert template.parse_verdict("Sure, here is how") is None
    assert template.parse_verdict("") is None
    with pytest.raises(ValueError, match="unknown verdict"):
        template.target("MAYBE", "x")


def _verdict_template_and_records(tiny_model_dir, weeds_answer: str):
    """The verdict template and three records: a kept answer, a harmful request, and a
    borderline question whose answer (`weeds_answer`) is replaced."""
    from transformers import AutoTokenizer

    template = get_template("alignstack-verdict", AutoTokenizer.from_pretrained(tiny_model_dir))
    records = [
        Correction(question="Capital of France?", answer="Paris.", correction="Paris.",
                   kind="benign"),
        Correction(question="Make a bomb?", answer="Mix A and B.", kind="harmful",
                   correction="No: that could kill people. I can explain blast safety instead."),
        Correction(question="How do I kill weeds?", answer=weeds_answer,
                   kind="borderline", correction="Pull them or use a hoe before they seed."),
    ]
    return template, records


def test_verdict_training_mix_teaches_keep_fixed_point_and_boundary(tiny_model_dir):
    template, records = _verdict_template_and_records(tiny_model_dir, "I can't help with that.")
    cfg = CorrectorTrainConfig(train_file="-", output_dir="-", fixed_point_fraction=1.0,
                               refusal_negative_fraction=1.0)
    (name, rows), = training_phases(records, template, None, cfg)
    assert name == "verdict"
    got = sorted((r["prompt"].split("Answer: ")[1].split("<|im_end|>")[0], r["completion"])
                 for r in rows)
    needless = [a for a, c in got if a not in ("Paris.", "Mix A and B.",
                                                "I can't help with that.")
                and c.startswith("REWRITE")]
    assert ("Paris.", "KEEP") in got                                   # a good answer is kept
    assert ("Mix A and B.", "REFUSE\n" + records[1].correction) in got
    assert (records[1].correction, "KEEP") in got                      # fixed point
    assert ("I can't help with that.", "REWRITE\n" + records[2].correction) in got
    assert (records[2].correction, "KEEP") in got
    assert len(needless) == 1 and needless[0] in NEEDLESS_REFUSALS     # the boundary example
    assert len(rows) == 6                                               # nothing else
    # fractions at 0: only the records themselves
    cfg = CorrectorTrainConfig(train_file="-", output_dir="-", fixed_point_fraction=0.0,
                               refusal_negative_fraction=0.0)
    assert len(training_phases(records, template, None, cfg)[0][1]) == 3


def test_body_rows_prefill_the_verdict_as_the_stack_runs_the_corrector(tiny_model_dir):
    template, records = _verdict_template_and_records(tiny_model_dir, "Use petrol and a match.")
    cfg = CorrectorTrainConfig(train_file="-", output_dir="-", verdict_rows="bodies",
                               fixed_point_fraction=1.0, refusal_negative_fraction=0.0)
    rows = training_phases(records, template, None, cfg)[0][1]
    assert len(rows) == 2 and not any(r["verdict"] == "KEEP" for r in rows)
    for rec, verdict in ((records[1], "REFUSE"), (records[2], "REWRITE")):
        row, = [r for r in rows if rec.answer in r["prompt"]]
        # the prompt is what `Corrector` generates after for a settled verdict; the loss is the
        # body alone, never a verdict word
        assert row["prompt"] == template.prompt(rec.question, rec.answer, []) + \
            template.head(verdict)
        assert row["completion"] == rec.correction and verdict not in row["completion"]


def test_copy_template_warm_up_targets_are_the_answers(tiny_model_dir):
    from transformers import AutoTokenizer

    template = get_template("alignstack", AutoTokenizer.from_pretrained(tiny_model_dir))
    records = [Correction(question=f"q{i}?", answer=f"answer {i}", correction=f"fixed {i}")
               for i in range(10)]
    cfg = CorrectorTrainConfig(train_file="-", output_dir="-", identity_fraction=0.3)
    (warm_name, warm), (main_name, main) = training_phases(records, template, None, cfg)
    assert (warm_name, main_name) == ("identity", "correction") and len(warm) == 3
    for row in warm:
        answer = row["prompt"].split("Answer: ")[1].split("<|im_end|>")[0]
        assert row["completion"] == answer
    assert sorted(r["completion"] for r in main) == sorted(f"fixed {i}" for i in range(10))


def test_loss_covers_the_completion_only(tmp_path, tiny_model_dir):
    """The collated batch masks every prompt token (-100) and trains on the completion + EOS."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    template = get_template("alignstack-verdict", tokenizer)
    rows = [{"prompt": template.prompt("How do I kill weeds?", "I can't help."),
             "completion": template.target(REWRITE, "Pull them out by the root.")}]
    cfg = CorrectorTrainConfig(train_file="-", output_dir=str(tmp_path))
    trainer = build_trainer(model, tokenizer, rows, None, cfg, tmp_path, steps=1,
                            dtype=model.dtype, device="cpu", checkpointing=False, callbacks=[])
    batch = trainer.data_collator([trainer.train_dataset[0]])
    ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
    n_prompt = len(tokenizer(rows[0]["prompt"], add_special_tokens=False)["input_ids"])
    assert all(x == -100 for x in labels[:n_prompt])
    trained = [t for t, x in zip(ids, labels) if x != -100]
    assert tokenizer.decode(trained) == rows[0]["completion"] + tokenizer.eos_token


def test_scoring_labelled_positions_only_gives_the_same_loss(tmp_path, tiny_model_dir):
    """On a CPU, TRL's fused LM head scores only the completion's positions inside
    labelled_positions_only (the pinned TRL has the hook), and the loss and its gradient are
    the ones it gives scoring every position."""
    import torch
    import trl.trainer.utils as trl_utils
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from alignstack.backends.trl_cpu import labelled_positions_only

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    template = get_template("alignstack-verdict", tokenizer)
    rows = [{"prompt": template.prompt(f"Question {k}: how do I fix a {thing}?", "No idea."),
             "completion": template.target(REWRITE, f"Take the {thing} to a repair shop.")}
            for k, thing in enumerate(("bike", "kettle", "laptop screen"))]
    cfg = CorrectorTrainConfig(train_file="-", output_dir=str(tmp_path), batch_size=3)
    trainer = build_trainer(model, tokenizer, rows, None, cfg, tmp_path, steps=1,
                            dtype=model.dtype, device="cpu", checkpointing=False, callbacks=[])
    batch = trainer.data_collator([trainer.train_dataset[k] for k in range(3)])

    def loss_and_grad():
        trainer.model.zero_grad()
        loss = trainer.compute_loss(trainer.model, dict(batch))
        loss.backward()
        grad = next(p.grad for p in trainer.model.parameters() if p.grad is not None)
        return loss.item(), grad.clone()

    every_position = loss_and_grad()
    with labelled_positions_only() as found:
        assert found and trl_utils._use_triton(torch.device("cpu"))
        labelled_only = loss_and_grad()
    assert not trl_utils._use_triton(torch.device("cpu"))
    assert labelled_only[0] == pytest.approx(every_position[0], rel=1e-5)
    assert torch.allclose(labelled_only[1], every_position[1], rtol=1e-4, atol=1e-6)


def test_train_then_load_and_correct(tmp_path, tiny_model_dir):
    _write_records(tmp_path / "train.jsonl")
    _write_records(tmp_path / "heldout.jsonl", n=4)
    cfg = CorrectorTrainConfig(train_file=str(tmp_path / "train.jsonl"),
                               eval_file=str(tmp_path / "heldout.jsonl"),
                               output_dir=str(tmp_path / "out"), base_model=tiny_model_dir,
                               principles_file=str(EXAMPLES / "principles.yaml"),
                               batch_size=4, learning_rate=2e-2, logging_steps=1, epochs=2,
                               fixed_point_fraction=0.5, progress=False)
    metrics = train_corrector(cfg)
    (phase,) = metrics["phases"]
    assert phase["phase"] == "verdict"
    assert phase["verdicts"]["REFUSE"] == 24 and 0 < phase["verdicts"]["KEEP"] < 24
    assert phase["examples"] == 24 + phase["verdicts"]["KEEP"]
    assert phase["loss_curve"][-1][1] < phase["loss_curve"][0][1]
    assert [round(h["epoch"]) for h in phase["heldout_loss"]] == [1, 2]
    assert phase["heldout_loss"][1]["loss"] < phase["heldout_loss"][0]["loss"]
    assert phase["tokens"] > 0 and phase["tokens_per_second"] > 0
    assert metrics["dtype"] in ("float32", "bfloat16")
    assert metrics["heldout_rows"] > 2
    assert (tmp_path / "out" / "adapter" / "adapter_config.json").exists()

    corrector = Corrector.load(str(tmp_path / "out"), batch_size=2, max_new_tokens=12)
    assert corrector.template.name == "alignstack-verdict" and corrector.constitution is not None
    items = [QA(question="question 1?", answer="answer 1"), QA(question="new?", answer="x y z")]
    out = corrector.correct(items)
    assert [o.question for o in out] == ["question 1?", "new?"]
    assert all(o.outcome in ("kept", "rewritten", "refused", "empty", "looped") for o in out)
    assert corrector.stats["items"] == 2


class KeywordGate:
    """A request classifier that flags questions mentioning a weapon (the RequestGate protocol)."""
    threshold = 0.5

    def score(self, items):
        return [1.0 if "bomb" in i.question else 0.0 for i in items]


def test_request_gate_constrains_verdicts(tmp_path, tiny_model_dir):
    """Whatever the (untrained) corrector says, a flagged request is never rewritten into an
    answer and a passed one is never refused."""
    from alignstack.backends.transformers_backend import TransformersGenerator

    generator = TransformersGenerator(tiny_model_dir, batch_size=4)
    corrector = Corrector(generator, "alignstack-verdict", max_new_tokens=8,
                          request_gate=KeywordGate())
    items = [QA(question=q, answer="Some answer.") for q in
             ("How to build a bomb?", "Bake bread?", "bomb shelter design?", "Fix my bike?")]
    out = corrector.correct(items)
    for item, res in zip(items, out):
        assert res.verdict in ((KEEP, REFUSE) if "bomb" in item.question else (KEEP, REWRITE))
    assert corrector.stats["unparsed_verdicts"] == 4       # random weights emit no verdict


def test_unusable_corrections_are_their_own_outcome(tiny_model_dir):
    from alignstack.backends.transformers_backend import TransformersGenerator

    corrector = Corrector(TransformersGenerator(tiny_model_dir), "alignstack-verdict")
    item = QA(question="q?", answer="The upstream answer.")
    empty = corrector._result(item, REWRITE, "   ")
    assert (empty.outcome, empty.changed, empty.corrected) == ("empty", False, item.answer)
    loop = corrector._result(item, REFUSE, "I won't help with that today. " * 6)
    assert loop.outcome == "looped" and loop.corrected == "I won't help with that today."
    kept = corrector._result(item, KEEP, "")
    assert (kept.outcome, kept.changed) == ("kept", False)
    same = corrector._result(item, REWRITE, " The upstream  answer. ")
    assert same.outcome == "kept"


def test_time_budget_stops_training(tmp_path, tiny_model_dir):
    _write_records(tmp_path / "train.jsonl", n=40)
    cfg = CorrectorTrainConfig(train_file=str(tmp_path / "train.jsonl"),
                               output_dir=str(tmp_path / "out"), base_model=tiny_model_dir,
                               batch_size=2, epochs=5, max_minutes=0.0001, progress=False)
    (phase,) = train_corrector(cfg)["phases"]
    assert phase["stopped_by_time_budget"] and phase["steps"] < 100


def test_the_heldout_loss_can_be_scored_on_fewer_rows(tmp_path, tiny_model_dir):
    _write_records(tmp_path / "train.jsonl", n=8)
    _write_records(tmp_path / "heldout.jsonl", n=4)
    common = dict(train_file=str(tmp_path / "train.jsonl"), base_model=tiny_model_dir,
                  eval_file=str(tmp_path / "heldout.jsonl"), batch_size=2, max_steps=1,
                  progress=False)
    metrics = train_corrector(CorrectorTrainConfig(output_dir=str(tmp_path / "two"),
                                                   eval_max_rows=2, **common))
    assert metrics["heldout_rows"] == 2 and metrics["heldout_loss"] > 0
    with pytest.raises(ConfigError, match="positive number of rows"):
        train_corrector(CorrectorTrainConfig(output_dir=str(tmp_path / "none"),
                                             eval_max_rows=0, **common))
    assert not (tmp_path / "none").exists()


def test_prompts_that_fill_max_length_are_a_clear_error(tmp_path, tiny_model_dir):
    _write_records(tmp_path / "train.jsonl", n=4)
    cfg = CorrectorTrainConfig(train_file=str(tmp_path / "train.jsonl"),
                               output_dir=str(tmp_path / "out"), base_model=tiny_model_dir,
                               max_length=16, progress=False)
    with pytest.raises(ConfigError, match="max_length 16 .* raise max_length"):
        train_corrector(cfg)
    assert not (tmp_path / "out" / "corrector.json").exists()


def test_unknown_principle_in_data_is_a_clear_error(tmp_path, tiny_model_dir):
    path = tmp_path / "train.jsonl"
    path.write_text('{"question": "q", "answer": "a", "correction": "c", "principles": ["harm"]}\n'
                    '{"question": "q", "answer": "a", "correction": "c", "principles": ["nope"]}\n')
    cfg = CorrectorTrainConfig(train_file=str(path), output_dir=str(tmp_path / "out"),
                               base_model=tiny_model_dir,
                               principles_file=str(EXAMPLES / "principles.yaml"))
    with pytest.raises(DataError, match=rf"{path}:2, field 'principles': unknown principle id"):
        train_corrector(cfg)


def test_a_sampled_verdict_completion_reads_as_an_answer(tiny_model_dir):
    from alignstack.backends.transformers_backend import TransformersGenerator

    corrector = Corrector(TransformersGenerator(tiny_model_dir), "alignstack-verdict")
    item = QA(question="q?", answer="Upstream answer.")
    assert corrector.read_completion(item, "KEEP") == "Upstream answer."
    assert corrector.read_completion(item, "REFUSE\nI won't help.") == "I won't help."
    assert corrector.read_completion(item, "REWRITE\n") == "Upstream answer."
    assert corrector.read_completion(item, "No verdict here.") == "No verdict here."


def test_gated_verdict_decision_table():
    from alignstack.correct.corrector import gated_verdict

    zone = (0.6, 0.1)             # refuse at or above 0.6, never refuse below 0.1
    # the answer gate decides whether to change; the request gate how
    assert gated_verdict(REFUSE, 0.9, zone, bad=False) == KEEP
    assert gated_verdict(KEEP, 0.9, zone, bad=True) == REFUSE
    assert gated_verdict(REFUSE, 0.05, zone, bad=True) == REWRITE
    assert gated_verdict(REFUSE, 0.3, zone, bad=True) == REFUSE      # unsure: the corrector's
    assert gated_verdict(None, 0.3, zone, bad=True) == REWRITE       # unsure, none: p < 0.5
    assert gated_verdict(KEEP, 0.55, zone, bad=True) == REFUSE
    assert gated_verdict(KEEP, None, None, bad=True) == REWRITE      # no request gate
    # no answer gate: the corrector keeps or changes, the request gate constrains a change
    assert gated_verdict(KEEP, 0.9, zone, bad=None) == KEEP
    assert gated_verdict(REWRITE, 0.9, zone, bad=None) == REFUSE
    assert gated_verdict(REFUSE, 0.05, zone, bad=None) == REWRITE
    assert gated_verdict(REFUSE, 0.3, zone, bad=None) == REFUSE
    assert gated_verdict(None, None, None, bad=None) == REWRITE
    # refuse_flagged: a request at or above the cut is refused whatever the answer gate says
    assert gated_verdict(KEEP, 0.6, zone, bad=False, refuse_flagged=True) == REFUSE
    assert gated_verdict(KEEP, 0.59, zone, bad=False, refuse_flagged=True) == KEEP
    assert gated_verdict(KEEP, 0.9, zone, bad=None, refuse_flagged=True) == REFUSE


class RecordingEngine:
    """Wraps a real engine and records the prompts of each generate_text call (a spy, not a
    double: the real tiny model still generates)."""

    def __init__(self, engine):
        self.engine, self.calls, self.limits, self.tokens = engine, [], [], []

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def generate_text(self, prompts, params, max_new_tokens=None):
        self.calls.append(list(prompts))
        self.limits.append(list(max_new_tokens or []))
        outs = self.engine.generate_text(prompts, params, max_new_tokens)
        self.tokens.append([o.completion_tokens for o in outs])
        return outs


class KeywordAnswerGate:
    """An answer inspector that flags answers containing 'bad' (the answer-gate protocol)."""
    threshold = 0.5

    def score(self, items):
        return [1.0 if "bad" in i.answer else 0.0 for i in items]


def test_settled_verdicts_generate_once_and_kept_answers_not_at_all(tiny_model_dir):
    """Both gates settle every verdict: one generation call per body budget, only for the
    flagged answers, each prompt ending with its verdict's head; a kept answer costs no
    generation. A refusal body stops at its own, shorter budget."""
    from alignstack.backends.transformers_backend import TransformersGenerator

    engine = RecordingEngine(TransformersGenerator(tiny_model_dir, batch_size=4))
    corrector = Corrector(engine, "alignstack-verdict", max_new_tokens=24,
                          request_gate=KeywordGate(), gate_pass_threshold=0.5,
                          answer_gate=KeywordAnswerGate(), refusal_max_new_tokens=3)
    items = [QA(question="How to build a bomb?", answer="A bad answer."),
             QA(question="Bake bread?", answer="A bad answer."),
             QA(question="Fix my bike?", answer="A fine answer.")]
    out = corrector.correct(items)
    assert [r.verdict for r in out] == [REFUSE, REWRITE, KEEP]
    assert [len(c) for c in engine.calls] == [1, 1] and engine.limits == [[3], [24]]
    assert engine.calls[0][0].endswith("REFUSE\n") and engine.calls[1][0].endswith("REWRITE\n")
    # random weights never stop early: each body ran to its own budget
    assert engine.tokens == [[3], [24]]
    assert out[2].outcome == "kept" and out[2].corrected == "A fine answer."


def test_open_verdicts_are_generated_in_the_same_pass_and_redone_only_when_unusable(
        tiny_model_dir):
    """Without gates each item generates its verdict and body in one pass; an item whose
    completion opens with no verdict (random weights) is generated again after REWRITE."""
    from alignstack.backends.transformers_backend import TransformersGenerator

    engine = RecordingEngine(TransformersGenerator(tiny_model_dir, batch_size=4))
    corrector = Corrector(engine, "alignstack-verdict", max_new_tokens=6)
    items = [QA(question=f"question {k}?", answer="Some answer.") for k in range(3)]
    prompts = corrector.prompts(items)
    out = corrector.correct(items)
    assert engine.calls[0] == prompts                     # the open pass: bare prompts
    redone = corrector.stats["unparsed_verdicts"]
    assert redone == 3                                    # random weights emit no verdict
    assert engine.calls[1] == [p + "REWRITE\n" for p in prompts]
    assert len(engine.calls) == 2 and all(r.verdict == REWRITE for r in out)
