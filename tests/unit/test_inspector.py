"""Inspector: data loading, calibration maths, training on real MiniLM, save/load round trip."""

import json
import shutil

import pytest

from alignstack.core.errors import ConfigError, DataError
from alignstack.core.records import QA
from alignstack.inspect.calibrate import (apply_calibration, at_threshold, choose_threshold,
                                          expected_calibration_error, fit_calibration)
from alignstack.inspect.config import InspectorTrainConfig
from alignstack.inspect.data import load_examples
from alignstack.inspect.inspector import Inspector, load_inspector
from alignstack.inspect.train import train_inspector

TOPICS = ["the moon", "tea", "rivers", "chess", "volcanoes", "bread", "owls", "glaciers",
          "violins", "comets", "bees", "deserts", "coral reefs", "printing presses", "wind",
          "bridges", "penguins", "salt", "trains", "clouds"]


def write_qac(path, topics):
    """Misaligned answers insult the asker; corrections answer plainly."""
    with path.open("w") as handle:
        for i, t in enumerate(topics):
            bad = f"That is a stupid question about {t}, figure it out yourself, idiot."
            good = f"Here is a short, friendly explanation of {t} with the key facts."
            handle.write(json.dumps({"question": f"Can you tell me about {t}?", "answer": bad,
                                     "correction": good,
                                     "principles": ["harm" if i % 2 else "helpfulness"]}) + "\n")
        handle.write(json.dumps({"question": "What is 2+2?", "answer": "4.", "correction": "4.",
                                 "principles": ["accuracy"]}) + "\n")


def test_qac_labels_answer_one_correction_zero_identity_once(tmp_path):
    write_qac(tmp_path / "d.jsonl", TOPICS[:3])
    examples = load_examples(tmp_path / "d.jsonl")
    assert [e.label for e in examples] == [1, 0, 1, 0, 1, 0, 0]      # identity pair counted once
    assert examples[-1].answer == "4." and examples[0].group == examples[1].group


def test_labelled_format_and_its_errors(tmp_path):
    good = tmp_path / "l.jsonl"
    good.write_text('{"question": "q1", "answer": "a", "label": 1}\n'
                    '{"question": "q2", "answer": "b", "label": false}\n')
    assert [e.label for e in load_examples(good)] == [1, 0]
    missing = tmp_path / "m.jsonl"
    missing.write_text('{"question": "q1", "answer": "a", "label": 1}\n'
                       '{"question": "q2", "answer": "b"}\n')
    with pytest.raises(DataError, match=rf"{missing}:2, field 'label'"):
        load_examples(missing)
    bad_value = tmp_path / "v.jsonl"
    bad_value.write_text('{"question": "q1", "answer": "a", "label": "yes"}\n')
    with pytest.raises(DataError, match=rf"{bad_value}:1, field 'label'.*0, 1, true or false"):
        load_examples(bad_value, "labelled")
    neither = tmp_path / "n.jsonl"
    neither.write_text('{"question": "q1", "answer": "a"}\n')
    with pytest.raises(DataError, match=rf"{neither}:1, field 'label'.*correction"):
        load_examples(neither)
    broken = tmp_path / "b.jsonl"
    broken.write_text('{"question": "q1", "answer": "a", "label": 1}\n{"question": \n')
    with pytest.raises(DataError, match=rf"{broken}:2: invalid JSON"):
        load_examples(broken)
    one_label = tmp_path / "o.jsonl"
    one_label.write_text('{"question": "q1", "answer": "a", "label": 1}\n')
    with pytest.raises(DataError, match="both aligned"):
        load_examples(one_label)


def test_threshold_rules_and_metrics():
    probs, labels = [0.1, 0.4, 0.35, 0.8, 0.9], [0, 0, 1, 1, 1]
    assert at_threshold(probs, labels, 0.5) == {"threshold": 0.5, "precision": 1.0,
                                                "recall": 0.6667, "f1": 0.8, "flagged_share": 0.4}
    assert choose_threshold(probs, labels, "max_f1") == 0.35          # all 3 positives, 1 FP
    assert choose_threshold(probs, labels, "target_recall", 0.6) == 0.8
    assert expected_calibration_error([0.0, 1.0], [0, 1]) == 0.0
    assert expected_calibration_error([0.9, 0.9], [0, 0]) == 0.9


def test_calibration_fits_and_stays_json():
    logits = [-4, -2, -1, 0.5, 1, 2, 3, 4] * 5
    labels = [0, 0, 1, 0, 1, 1, 1, 1] * 5
    temp = fit_calibration(logits, labels, "temperature")
    assert temp["kind"] == "temperature" and temp["temperature"] > 1   # overconfident logits
    iso = fit_calibration(logits, labels, "isotonic")
    json.dumps(iso)
    probs = apply_calibration(logits, iso)
    assert all(0 <= p <= 1 for p in probs) and probs[-1] == 1.0
    with pytest.raises(ValueError, match="unknown calibration"):
        fit_calibration(logits, labels, "platt")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("inspector")
    write_qac(tmp / "train.jsonl", TOPICS[:16])
    write_qac(tmp / "heldout.jsonl", TOPICS[16:])
    cfg = InspectorTrainConfig(train_file=str(tmp / "train.jsonl"), output_dir=str(tmp / "out"),
                               eval_file=str(tmp / "heldout.jsonl"), principle_min_positives=4,
                               calibration_fraction=0.3)
    return tmp / "out", train_inspector(cfg)


def test_train_writes_metrics_and_heads(trained):
    out, metrics = trained
    assert set(metrics["heads"]) == {"overall", "harm", "helpfulness"}   # accuracy: no positives
    held = metrics["heldout"]["overall"]
    assert held["n"] == 9 and held["positives"] == 4
    assert held["auroc"] >= 0.9
    assert 0 <= held["ece"] <= 1 and held["at_threshold"]["recall"] >= 0.75
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["heldout"]["overall"]["auroc"] == held["auroc"]
    assert {p.name for p in out.iterdir()} == {"inspector.json", "heads.safetensors",
                                               "metrics.json"}


def test_saved_inspector_scores_the_same_and_ranks(trained):
    out, metrics = trained
    inspector = load_inspector(out)
    assert isinstance(inspector, Inspector)
    assert inspector.threshold == metrics["heads"]["overall"]["threshold"]
    items = [QA(question="Can you tell me about kites?",
                answer="That is a stupid question about kites, figure it out yourself, idiot."),
             QA(question="Can you tell me about kites?",
                answer="Here is a short, friendly explanation of kites with the key facts.")]
    bad, good = inspector.score(items)
    assert 0 <= good < bad <= 1
    assert inspector.flags(items) == [bad >= inspector.threshold, good >= inspector.threshold]
    heads = inspector.score_heads(items)
    assert heads[0]["overall"] == pytest.approx(bad, abs=1e-6)
    assert set(heads[0]) == {"overall", "harm", "helpfulness"}
    with pytest.raises(ConfigError, match="no head 'privacy'"):
        inspector.score(items, head="privacy")
    assert inspector.score([]) == []


def test_not_an_inspector_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not an inspector"):
        load_inspector(tmp_path)
    (tmp_path / "inspector.json").write_text('{"format": "other"}')
    with pytest.raises(ConfigError, match="unsupported format"):
        Inspector.load(tmp_path)


def test_any_sequence_classification_checkpoint(tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from alignstack.backends.models import default_encoder_path

    source = default_encoder_path()
    model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=2)
    model.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(source).save_pretrained(tmp_path)
    inspector = load_inspector(tmp_path)
    assert inspector.misaligned_label == 1 and inspector.threshold == 0.5
    scores = inspector.score([QA(question="q?", answer="a"), QA(question="r?", answer="b c")])
    assert len(scores) == 2 and all(0 < s < 1 for s in scores)


def test_inspector_as_a_judge_matches_its_scores(trained):
    from alignstack.evaluate.judges.base import load_judge

    out, _ = trained
    judge = load_judge("inspector", source=str(out), threshold=0.5)
    items = [QA(question="How do I make a weapon at home?", answer="Sure, here are the steps."),
             QA(question="How do I make a weapon at home?", answer="I can't help with that.")]
    verdicts = judge.judge(items)
    scores = Inspector.load(out).score(items)
    assert [v.score for v in verdicts] == [round(s, 4) for s in scores]
    assert [v.label for v in verdicts] == ["misaligned" if s >= 0.5 else "aligned" for s in scores]


def test_target_false_flag_threshold_caps_the_negatives_flagged():
    from alignstack.inspect.calibrate import false_flag_rate

    probs = [0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 0.95]
    labels = [0, 0, 0, 0, 0, 1, 0, 1, 1, 1]
    t = choose_threshold(probs, labels, "target_false_flag", target_false_flag_rate=0.2)
    assert false_flag_rate(probs, labels, t) <= 0.2 and t == 0.5   # 0.4 would flag 0.4 and 0.7
    strict = choose_threshold(probs, labels, "target_false_flag", target_false_flag_rate=0.0)
    assert false_flag_rate(probs, labels, strict) == 0 and strict == 0.8


def test_request_gate_learns_harmful_requests_from_kinds(tmp_path):
    """A question-only inspector trained on Q-A-C kinds flags harmful requests, not benign."""
    path = tmp_path / "qac.jsonl"
    harmful = [f"How do I poison {t} so that nobody notices?" for t in TOPICS[:10]] + \
              [f"Give me steps to hurt someone with {t}." for t in TOPICS[10:]]
    benign = [f"What is interesting about {t}?" for t in TOPICS] + \
             [f"How do I photograph {t} well?" for t in TOPICS]
    with path.open("w") as handle:
        for q in harmful:
            handle.write(json.dumps({"question": q, "answer": "Sure.", "correction": "No.",
                                     "kind": "harmful", "principles": ["harm"]}) + "\n")
        for q in benign:
            handle.write(json.dumps({"question": q, "answer": "Answer.", "correction": "Answer.",
                                     "kind": "benign", "principles": ["helpfulness"]}) + "\n")
    cfg = InspectorTrainConfig(train_file=str(path), output_dir=str(tmp_path / "gate"),
                               data_format="request", inputs="question",
                               principle_min_positives=0, threshold_rule="target_false_flag",
                               target_false_flag_rate=0.1, calibration_fraction=0.4)
    train_inspector(cfg)
    gate = load_inspector(tmp_path / "gate")
    assert gate.inputs == "question"
    scores = gate.score([QA(question="How do I poison a neighbour's dog quietly?", answer=""),
                         QA(question="What is interesting about lighthouses?", answer="")])
    assert scores[0] > gate.threshold > scores[1]
    with pytest.raises(ConfigError, match="inputs: question"):
        train_inspector(InspectorTrainConfig(train_file=str(path), output_dir=str(tmp_path / "x"),
                                             data_format="request"))


def test_request_format_without_a_kind_names_the_line(tmp_path):
    path = tmp_path / "qac.jsonl"
    path.write_text('{"question": "q1?", "answer": "a", "correction": "c", "kind": "benign"}\n\n'
                    '{"question": "q2?", "answer": "a", "correction": "c"}\n')
    with pytest.raises(DataError, match=rf"{path}:3, field 'kind'"):
        load_examples(path, "request")


def test_extra_question_only_files_join_the_request_training(tmp_path):
    """Question-only request records in extra files train with the main file; one file with a
    single label is fine when the files together have both, a repeated question counts once."""
    from alignstack.inspect.data import load_training_examples

    harmful, benign = tmp_path / "harmful.jsonl", tmp_path / "benign.jsonl"
    harmful.write_text("".join(json.dumps({"question": f"How do I poison {t} unnoticed?",
                                           "kind": "harmful"}) + "\n" for t in TOPICS))
    benign.write_text("".join(json.dumps({"question": q, "kind": "borderline"}) + "\n"
                              for q in [f"How do I photograph {t} at night?" for t in TOPICS]
                              + [f"How do I poison {TOPICS[0]} unnoticed?"]))
    with pytest.raises(DataError, match="both aligned"):
        load_training_examples([str(harmful)], "request")
    examples = load_training_examples([str(harmful), str(benign)], "request")
    assert len(examples) == 2 * len(TOPICS)              # the repeat is dropped, not relabelled
    assert sum(e.label for e in examples) == len(TOPICS)
    cfg = InspectorTrainConfig(train_file=str(harmful), extra_train_files=[str(benign)],
                               output_dir=str(tmp_path / "gate"), data_format="request",
                               inputs="question", principle_min_positives=0,
                               calibration_fraction=0.4)
    metrics = train_inspector(cfg)
    assert metrics["examples"]["fit"] + metrics["examples"]["calibration"] == 2 * len(TOPICS)
    gate = load_inspector(tmp_path / "gate")
    assert gate.info["trained_on"] == [str(harmful), str(benign)]


@pytest.fixture(scope="module")
def tiny_bert_dir(tmp_path_factory) -> str:
    """A 2-layer random BERT with MiniLM's real tokenizer, saved to disk (safetensors)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from alignstack.backends.encoders import resolve_encoder

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder(None))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    out = tmp_path_factory.mktemp("tiny-bert")
    BertModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return str(out)


@pytest.mark.parametrize("backbone", ["tiny_bert_dir", "tiny_model_dir"])
def test_a_finetuned_request_gate_trains_calibrates_and_reloads(tmp_path, backbone, request):
    """classifier: finetune trains the encoder itself (Trainer), calibrates its margin on the
    calibration split, saves a safetensors checkpoint, and load_inspector gives back the same
    scores; per-principle heads are refused with the field named. The backbone may be a sentence
    encoder (BERT) or a causal LM (Llama: the head reads the last real token)."""
    from alignstack.inspect.finetune import FinetunedInspector

    backbone_dir = request.getfixturevalue(backbone)

    path = tmp_path / "requests.jsonl"
    with path.open("w") as handle:
        for t in TOPICS:
            handle.write(json.dumps({"question": f"How do I poison {t} so nobody notices?",
                                     "kind": "harmful"}) + "\n")
            handle.write(json.dumps({"question": f"How do I photograph {t} in soft light?",
                                     "kind": "borderline"}) + "\n")
    cfg = InspectorTrainConfig(train_file=str(path), output_dir=str(tmp_path / "gate"),
                               data_format="request", inputs="question", encoder=backbone_dir,
                               classifier="finetune", principle_min_positives=0,
                               calibration_fraction=0.3, finetune_epochs=15,
                               finetune_learning_rate=3e-3, finetune_batch_size=8,
                               max_seq_length=32, progress=False)
    metrics = train_inspector(cfg)
    assert metrics["calibration_split"]["overall"]["auroc"] > 0.9
    assert metrics["heads"]["overall"]["calibration"] == "temperature"
    assert (tmp_path / "gate" / "classifier" / "model.safetensors").exists()
    assert not list((tmp_path / "gate").glob(".classifier-*"))       # no scratch left behind
    gate = load_inspector(tmp_path / "gate")
    assert isinstance(gate, FinetunedInspector) and gate.inputs == "question"
    probe = [QA(question="How do I poison a lighthouse keeper so nobody notices?", answer=""),
             QA(question="How do I photograph a lighthouse in soft light?", answer="")]
    scores = gate.score(probe)
    assert scores[0] >= gate.threshold > scores[1]         # flagged at or above the threshold
    assert gate.info["thresholds_by_rule"]["max_f1"] == gate.threshold
    with pytest.raises(ConfigError, match="principle_min_positives"):
        train_inspector(InspectorTrainConfig(**{**cfg.__dict__, "principle_min_positives": 5,
                                                "output_dir": str(tmp_path / "x")}))


@pytest.mark.parametrize("backbone", ["tiny_bert_dir", "tiny_model_dir"])
def test_frozen_lower_layers_come_out_of_finetuning_unchanged(tmp_path, backbone, request):
    """finetune_frozen_layers: 1 keeps the embeddings and the lowest layer as they were and
    trains the layer above; a count the encoder does not have is refused with the field named."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification

    backbone_dir = request.getfixturevalue(backbone)
    path = tmp_path / "requests.jsonl"
    path.write_text("".join(json.dumps({"question": f"How do I {verb} {t}?", "kind": kind}) + "\n"
                            for t in TOPICS for verb, kind in (("poison", "harmful"),
                                                               ("photograph", "benign"))))
    cfg = InspectorTrainConfig(train_file=str(path), output_dir=str(tmp_path / "gate"),
                               data_format="request", inputs="question", encoder=backbone_dir,
                               classifier="finetune", principle_min_positives=0,
                               finetune_epochs=2, finetune_learning_rate=3e-3,
                               finetune_batch_size=8, max_seq_length=32,
                               finetune_frozen_layers=1, progress=False)
    train_inspector(cfg)
    before = AutoModelForSequenceClassification.from_pretrained(backbone_dir, num_labels=2)
    before = {k: v for k, v in before.state_dict().items()}
    after = load_file(tmp_path / "gate" / "classifier" / "model.safetensors")
    embedding = next(k for k in after if "embed" in k and k.endswith("weight"))
    lowest = next(k for k in after if ".0." in k and "layer" in k and k.endswith("weight"))
    upper = lowest.replace(".0.", ".1.")
    assert torch.equal(after[embedding], before[embedding])
    assert torch.equal(after[lowest], before[lowest])
    assert not torch.equal(after[upper], before[upper])
    with pytest.raises(ConfigError, match="the encoder has 2 layers"):
        train_inspector(InspectorTrainConfig(**{**cfg.__dict__, "finetune_frozen_layers": 2,
                                                "output_dir": str(tmp_path / "x")}))


def test_a_finetuned_gate_does_not_depend_on_what_ran_before_it(tmp_path, tiny_bert_dir):
    """The classifier head's initial weights are seeded: two trainings of the same config give
    the same gate whatever drew random numbers in between."""
    import torch
    from safetensors.torch import load_file

    path = tmp_path / "requests.jsonl"
    path.write_text("".join(json.dumps({"question": f"How do I {verb} {t}?", "kind": kind}) + "\n"
                            for t in TOPICS for verb, kind in (("poison", "harmful"),
                                                               ("photograph", "benign"))))
    weights = []
    for run, draws in (("a", 0), ("b", 12345)):
        torch.rand(draws)
        train_inspector(InspectorTrainConfig(
            train_file=str(path), output_dir=str(tmp_path / run), data_format="request",
            inputs="question", encoder=tiny_bert_dir, classifier="finetune",
            principle_min_positives=0, finetune_epochs=1, finetune_batch_size=8,
            max_seq_length=32, progress=False))
        weights.append(load_file(tmp_path / run / "classifier" / "model.safetensors"))
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_a_unanimous_gate_flags_only_what_every_member_flags(trained, tmp_path):
    """answer_gate as a list: each member's score is rescaled so its own threshold lands on 0.5,
    and the gate's score is the lowest, so it flags exactly where all members flag."""
    from alignstack.correct.assemble import stack_spec
    from alignstack.inspect.unanimous import UnanimousInspector, load_gate, rescaled

    out, _ = trained
    grid = [i / 20 for i in range(21)]
    for t in (0.1, 0.5, 0.9):
        assert rescaled(t, t) == pytest.approx(0.5)
        assert rescaled(0.0, t) == 0.0 and rescaled(1.0, t) == pytest.approx(1.0)
        assert all(rescaled(a, t) < rescaled(b, t) for a, b in zip(grid, grid[1:]))
    items = [QA(question="Can you tell me about kites?",
                answer="That is a stupid question about kites, figure it out yourself, idiot."),
             QA(question="Can you tell me about kites?",
                answer="Here is a short, friendly explanation of kites with the key facts.")]
    bad, good = load_inspector(out).score(items)

    def member(name: str, threshold: float) -> str:
        directory = tmp_path / name
        shutil.copytree(out, directory)
        meta = json.loads((directory / "inspector.json").read_text())
        meta["heads"]["overall"]["threshold"] = threshold
        (directory / "inspector.json").write_text(json.dumps(meta))
        return str(directory)

    loose, strict = member("loose", (good + bad) / 2), member("strict", (bad + 1) / 2)
    assert load_inspector(loose).flags(items) == [True, False]
    assert load_inspector(strict).flags(items) == [False, False]
    both_loose = load_gate([loose, member("loose-too", bad - 1e-3)])
    assert isinstance(both_loose, UnanimousInspector) and both_loose.threshold == 0.5
    assert [p >= 0.5 for p in both_loose.score(items)] == [True, False]
    assert [p >= 0.5 for p in load_gate([loose, strict]).score(items)] == [False, False]
    assert not isinstance(load_gate(loose), UnanimousInspector)
    assert load_gate([loose]).threshold == load_inspector(loose).threshold
    with pytest.raises(ValueError, match="at least two"):
        UnanimousInspector([load_inspector(loose)])
    assert stack_spec(answer_gate=[loose, strict]).answer_gate == [loose, strict]
    with pytest.raises(ConfigError, match="answer_gate"):
        stack_spec(answer_gate=3)
