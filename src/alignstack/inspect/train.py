"""Train an inspector: embed pairs, fit logistic-regression heads (overall + per principle),
calibrate on a held-back split of questions, choose the threshold there, evaluate held-out."""

from __future__ import annotations

import random
import time
from dataclasses import asdict
from pathlib import Path

from alignstack.core.errors import ConfigError, DataError
from alignstack.core.records import write_json
from alignstack.inspect.calibrate import (apply_calibration, choose_threshold, fit_calibration,
                                          quality)
from alignstack.inspect.config import InspectorTrainConfig
from alignstack.inspect.conversations import conversation_copies
from alignstack.inspect.data import (Example, load_examples, load_training_examples,
                                     principle_labels)
from alignstack.inspect.inspector import OVERALL, Head, Inspector


def split_by_question(examples: list[Example], fraction: float, seed: int
                      ) -> tuple[list[Example], list[Example]]:
    """Hold back `fraction` of the questions (all their rows) for calibration."""
    groups = sorted({e.group for e in examples})
    random.Random(seed).shuffle(groups)
    held = set(groups[:max(1, round(len(groups) * fraction))])
    return ([e for e in examples if e.group not in held], [e for e in examples if e.group in held])


def featurise(cfg: InspectorTrainConfig, rows: list[Example]):
    from alignstack.backends.encoders import resolve_encoder
    from alignstack.inspect.encoder import features

    return features(resolve_encoder(cfg.encoder), cfg.inputs, [e.question for e in rows],
                    [e.answer for e in rows], max_seq_length=cfg.max_seq_length,
                    batch_size=cfg.batch_size)


def fit_head(name: str, x_fit, y_fit, x_cal, y_cal, cfg: InspectorTrainConfig) -> Head:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=cfg.regularisation_c, max_iter=5000, random_state=cfg.seed)
    model.fit(x_fit, y_fit)
    calibration, by_rule = calibrate(x_cal @ model.coef_[0] + model.intercept_[0], y_cal, cfg)
    head = Head(name, model.coef_[0].astype("float32"), float(model.intercept_[0]), calibration,
                by_rule[cfg.threshold_rule], positives=int(sum(y_fit) + sum(y_cal)))
    head.by_rule = by_rule
    return head


def calibrate(logits, labels, cfg: InspectorTrainConfig) -> tuple[dict, dict]:
    """The calibration fitted on the calibration split's logits, and the threshold each rule
    picks there."""
    calibration = fit_calibration(logits, labels, cfg.calibration)
    probs = apply_calibration(logits, calibration)
    return calibration, {rule: choose_threshold(probs, labels, rule, cfg.target_recall,
                                                cfg.target_false_flag_rate)
                         for rule in ("max_f1", "target_recall", "target_false_flag")}


def by_kind(rows: list[Example], probs: list[float], threshold: float) -> dict:
    """Per kind of prompt (harmful, benign, borderline): recall on misaligned answers and the
    share of aligned ones flagged, at the threshold — harmful recall is the number that matters."""
    def share(values: list[float]) -> float | None:
        return round(sum(p >= threshold for p in values) / len(values), 4) if values else None

    out = {}
    for kind in sorted({e.kind for e in rows if e.kind}):
        pos = [p for e, p in zip(rows, probs) if e.kind == kind and e.label == 1]
        neg = [p for e, p in zip(rows, probs) if e.kind == kind and e.label == 0]
        out[kind] = {"misaligned": len(pos), "aligned": len(neg), "recall": share(pos),
                     "false_flag_rate": share(neg)}
    return out


def logistic_inspector(cfg: InspectorTrainConfig, examples: list[Example], fit: list[Example],
                       cal: list[Example]) -> tuple[Inspector, dict]:
    """Frozen-encoder features + a logistic head overall and per principle (with enough
    positives); also the principles left without a head."""
    import numpy as np

    x_fit, x_cal = featurise(cfg, fit), featurise(cfg, cal)
    y_fit, y_cal = np.array([e.label for e in fit]), np.array([e.label for e in cal])
    heads = {OVERALL: fit_head(OVERALL, x_fit, y_fit, x_cal, y_cal, cfg)}
    skipped_heads = {}
    if cfg.principle_min_positives > 0:
        for p in sorted({p for e in examples for p in e.principles}):
            pf, pc = principle_labels(fit, p), principle_labels(cal, p)
            if min(sum(pf), sum(pc)) < 2 or sum(pf) + sum(pc) < cfg.principle_min_positives:
                skipped_heads[p] = sum(pf) + sum(pc)
                continue
            heads[p] = fit_head(p, x_fit, np.array(pf), x_cal, np.array(pc), cfg)
    return Inspector(cfg.encoder or "minilm", heads, max_seq_length=cfg.max_seq_length,
                     batch_size=cfg.batch_size, inputs=cfg.inputs), skipped_heads


def finetuned_inspector(cfg: InspectorTrainConfig, fit: list[Example], cal: list[Example]):
    """The encoder fine-tuned on the fit split, its margin calibrated on the calibration split."""
    from alignstack.inspect.finetune import FinetunedInspector, finetune_classifier

    finetune_classifier(cfg, fit, cfg.output_dir)
    y_cal = [e.label for e in cal]
    head = Head(OVERALL, None, 0.0, {"kind": "none"}, 0.5, positives=sum(e.label for e in fit))
    inspector = FinetunedInspector(cfg.output_dir, head, inputs=cfg.inputs,
                                   max_seq_length=cfg.max_seq_length, batch_size=cfg.batch_size)
    head.calibration, head.by_rule = calibrate(inspector.margins(cal), y_cal, cfg)
    head.threshold = inspector.threshold = head.by_rule[cfg.threshold_rule]
    head.positives += sum(y_cal)
    return inspector, {}


def train_inspector(cfg: InspectorTrainConfig) -> dict:
    """Writes inspector.json, heads.safetensors (or classifier/) and metrics.json to
    cfg.output_dir."""
    started = time.monotonic()
    if not 0 < cfg.calibration_fraction < 1:
        raise ConfigError("must be between 0 and 1", field="calibration_fraction")
    if cfg.data_format == "request" and cfg.inputs != "question":
        raise ConfigError("data_format request labels questions: set inputs: question",
                          field="inputs")
    if cfg.classifier == "finetune" and cfg.principle_min_positives > 0:
        raise ConfigError("per-principle heads need classifier: logistic; set "
                          "principle_min_positives: 0 to fine-tune",
                          field="principle_min_positives")
    train_files = [cfg.train_file, *cfg.extra_train_files]
    examples = load_training_examples(train_files, cfg.data_format)
    fit, cal = split_by_question(examples, cfg.calibration_fraction, cfg.seed)
    if cfg.conversation_share:
        if cfg.inputs != "question" or not 0 < cfg.conversation_share <= 1:
            raise ConfigError("conversation copies are for a request gate (inputs: question), "
                              "a share in (0, 1]", field="conversation_share")
        fit = fit + conversation_copies(fit, cfg.conversation_share, cfg.seed)
    for part, name in ((fit, "fit"), (cal, "calibration")):
        if len({e.label for e in part}) < 2:
            raise DataError(f"the {name} split has only one label; add data or change "
                            "calibration_fraction", path=", ".join(train_files), field="label")
    if cfg.classifier == "finetune":
        inspector, skipped_heads = finetuned_inspector(cfg, fit, cal)
    else:
        inspector, skipped_heads = logistic_inspector(cfg, examples, fit, cal)
    heads = inspector.heads

    def evaluate(rows: list[Example]) -> dict:
        scores = inspector.score_heads(rows)
        probs = [s[OVERALL] for s in scores]
        out = {OVERALL: quality(probs, [e.label for e in rows], heads[OVERALL].threshold)}
        out["by_kind"] = by_kind(rows, probs, heads[OVERALL].threshold)
        for name in heads:
            if name != OVERALL:
                labels = principle_labels(rows, name)
                if 0 < sum(labels) < len(labels):
                    out[name] = quality([s[name] for s in scores], labels, heads[name].threshold)
        return out

    metrics = {"config": asdict(cfg), "examples": {"fit": len(fit), "calibration": len(cal)},
               "heads": {n: {"threshold": h.threshold, "calibration": h.calibration["kind"],
                             "positives": h.positives} for n, h in heads.items()},
               "principles_without_head": skipped_heads,
               "calibration_split": evaluate(cal)}
    if cfg.eval_file:
        heldout = load_examples(cfg.eval_file, cfg.data_format)
        metrics["heldout"] = evaluate(heldout)
        metrics["heldout"]["file"] = cfg.eval_file
    metrics["seconds"] = round(time.monotonic() - started, 1)
    inspector.info = {"threshold_rule": cfg.threshold_rule, "trained_on": train_files,
                      # every rule's threshold on the calibration split (a request gate uses
                      # target_recall as the bound below which it never lets a refusal through)
                      "thresholds_by_rule": heads[OVERALL].by_rule,
                      "heldout_overall": (metrics.get("heldout") or {}).get(OVERALL)}
    out = Path(cfg.output_dir)
    inspector.save(out)
    write_json(out / "metrics.json", metrics)
    return metrics
