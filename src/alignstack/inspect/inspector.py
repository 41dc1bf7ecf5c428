"""A trained inspector: `score(items) -> P(misaligned)`, calibrated, with a chosen threshold.

Kinds behind one interface: `Inspector` (sentence-encoder pair features + logistic-regression
heads, saved as JSON + safetensors, no pickles), `SequenceClassifierInspector` (any
`*ForSequenceClassification` checkpoint) and `FinetunedInspector` (`inspect/finetune.py`: a
fine-tuned encoder, calibrated). `load_inspector(source)` picks the right one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from alignstack.core.errors import ConfigError
from alignstack.core.records import QA, write_json
from alignstack.inspect.calibrate import apply_calibration

FORMAT = "alignstack-inspector-v1"
META_FILE, HEADS_FILE = "inspector.json", "heads.safetensors"
OVERALL = "overall"


@dataclass
class Head:
    """One linear head (overall, or one principle): logit = coef . features + intercept."""
    name: str
    coef: object               # numpy float32 [features]
    intercept: float
    calibration: dict
    threshold: float
    positives: int = 0
    by_rule: dict | None = None    # the threshold each rule picks on the calibration split


class Inspector:
    """P(misaligned | question, answer) from [q, a, q*a, |q-a|] sentence embeddings."""

    def __init__(self, encoder: str, heads: dict[str, Head], *, max_seq_length: int = 256,
                 batch_size: int = 64, info: dict | None = None, inputs: str = "pair"):
        if OVERALL not in heads:
            raise ConfigError(f"an inspector needs an '{OVERALL}' head")
        if inputs not in ("pair", "question"):
            raise ConfigError(f"inputs must be pair or question, got {inputs!r}", field="inputs")
        self.encoder, self.heads, self.inputs = encoder, heads, inputs
        self.max_seq_length, self.batch_size = max_seq_length, batch_size
        self.info = info or {}

    @property
    def threshold(self) -> float:
        return self.heads[OVERALL].threshold

    def features(self, items: Sequence[QA]):
        from alignstack.backends.encoders import resolve_encoder
        from alignstack.inspect.encoder import features

        return features(resolve_encoder(self.encoder), self.inputs, [i.question for i in items],
                        [i.answer for i in items], max_seq_length=self.max_seq_length,
                        batch_size=self.batch_size)

    def _probs(self, feats, head: Head) -> list[float]:
        return [float(p) for p in apply_calibration(feats @ head.coef + head.intercept,
                                                    head.calibration)]

    def score(self, items: Sequence[QA], head: str = OVERALL) -> list[float]:
        """Calibrated P(misaligned) per item (for one principle when `head` names it)."""
        if not items:
            return []
        if head not in self.heads:
            raise ConfigError(f"no head '{head}' (have: {', '.join(self.heads)})", field="head")
        return self._probs(self.features(items), self.heads[head])

    def score_heads(self, items: Sequence[QA]) -> list[dict[str, float]]:
        """Every head's P(misaligned) per item, from one encoder pass."""
        if not items:
            return []
        feats = self.features(items)
        per_head = {name: self._probs(feats, h) for name, h in self.heads.items()}
        return [{name: per_head[name][i] for name in self.heads} for i in range(len(items))]

    def flags(self, items: Sequence[QA], threshold: float | None = None) -> list[bool]:
        limit = self.threshold if threshold is None else threshold
        return [p >= limit for p in self.score(items)]

    def save(self, directory: str | Path) -> None:
        import numpy as np
        from safetensors.numpy import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {}
        for name, h in self.heads.items():
            tensors[f"{name}.coef"] = np.asarray(h.coef, dtype=np.float32)
            tensors[f"{name}.intercept"] = np.asarray([h.intercept], dtype=np.float32)
        tmp = directory / f".{HEADS_FILE}.tmp"
        save_file(tensors, str(tmp))
        tmp.replace(directory / HEADS_FILE)
        write_json(directory / META_FILE, {
            "format": FORMAT, "kind": f"{self.inputs}-logistic-regression", "inputs": self.inputs,
            "encoder": self.encoder,
            "max_seq_length": self.max_seq_length, "batch_size": self.batch_size,
            "heads": {n: {"calibration": h.calibration, "threshold": h.threshold,
                          "positives": h.positives} for n, h in self.heads.items()},
            **self.info})

    @classmethod
    def load(cls, directory: str | Path) -> "Inspector":
        from safetensors.numpy import load_file

        directory = Path(directory)
        meta = read_inspector_meta(directory)
        tensors = load_file(str(directory / HEADS_FILE))
        heads = {name: Head(name, tensors[f"{name}.coef"], float(tensors[f"{name}.intercept"][0]),
                            spec["calibration"], float(spec["threshold"]), spec.get("positives", 0))
                 for name, spec in meta["heads"].items()}
        info = {k: v for k, v in meta.items()
                if k not in ("format", "kind", "inputs", "encoder", "max_seq_length", "batch_size",
                             "heads")}
        return cls(meta["encoder"], heads, max_seq_length=meta.get("max_seq_length", 256),
                   batch_size=meta.get("batch_size", 64), info=info,
                   inputs=meta.get("inputs", "pair"))


def read_inspector_meta(directory: Path) -> dict:
    meta_path = directory / META_FILE
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"not an inspector directory (no {META_FILE})", path=directory) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON: {exc.msg}", path=meta_path, line=exc.lineno) from None
    if meta.get("format") != FORMAT:
        raise ConfigError(f"unsupported format {meta.get('format')!r} (want {FORMAT})",
                          path=meta_path, field="format")
    return meta


def load_trained(directory: Path):
    """A `train inspector` directory, whichever kind of classifier it holds."""
    from alignstack.inspect.finetune import KIND, FinetunedInspector

    meta = read_inspector_meta(directory)
    if meta.get("kind") == KIND:
        return FinetunedInspector.load(directory, meta)
    return Inspector.load(directory)


def encode_inputs(tokenizer, inputs: str, questions: Sequence[str], answers: Sequence[str],
                  max_length: int, **options):
    """Token ids of the questions alone (inputs: question) or of (question, answer) pairs."""
    if inputs == "question":
        return tokenizer(list(questions), truncation=True, max_length=max_length, **options)
    return tokenizer(list(questions), list(answers), truncation=True, max_length=max_length,
                     **options)


class SequenceClassifierInspector:
    """Any `*ForSequenceClassification` checkpoint: P(misaligned) = softmax[misaligned_label] of
    the (question, answer) pair (or the question alone). Uncalibrated unless the checkpoint was."""

    def __init__(self, source: str, *, misaligned_label: int | None = None,
                 threshold: float = 0.5, batch_size: int = 16, max_length: int = 512,
                 inputs: str = "pair"):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(source)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            source, trust_remote_code=False).eval()
        labels = {int(k): str(v).lower() for k, v in self.model.config.id2label.items()}
        if misaligned_label is None:
            named = [i for i, n in labels.items()
                     if n in ("misaligned", "unsafe", "harmful", "toxic", "1", "label_1")]
            misaligned_label = named[0] if named else max(labels)
        self.misaligned_label, self.threshold = misaligned_label, threshold
        self.batch_size, self.max_length, self.inputs = batch_size, max_length, inputs
        self.heads = {OVERALL: None}

    def logits(self, items: Sequence[QA]):
        """The classifier's logits, [items, labels], in batches."""
        import torch

        parts = []
        for start in range(0, len(items), self.batch_size):
            part = items[start:start + self.batch_size]
            enc = encode_inputs(self.tokenizer, self.inputs, [i.question for i in part],
                                [i.answer for i in part], self.max_length, padding=True,
                                return_tensors="pt")
            with torch.inference_mode():
                parts.append(self.model(**enc).logits.float())
        return torch.cat(parts) if parts else torch.empty(0, self.model.config.num_labels)

    def score(self, items: Sequence[QA], head: str = OVERALL) -> list[float]:
        return [float(p) for p in self.logits(items).softmax(-1)[:, self.misaligned_label]]

    def score_heads(self, items: Sequence[QA]) -> list[dict[str, float]]:
        return [{OVERALL: p} for p in self.score(items)]


def load_inspector(source: str | Path, **options):
    """A directory from `train inspector`, or a sequence-classification checkpoint; loaded once
    per process (the model cache)."""
    from alignstack.backends.cache import shared

    path = Path(source)
    if (path / META_FILE).exists():
        return shared(("inspector", str(path.resolve())), lambda: load_trained(path))
    config = path / "config.json"
    if config.exists():
        arch = json.loads(config.read_text(encoding="utf-8")).get("architectures") or [""]
        if arch[0].endswith("ForSequenceClassification"):
            return SequenceClassifierInspector(str(path), **options)
    raise ConfigError("not an inspector: expected a directory from `alignstack train inspector` "
                      f"({META_FILE}) or a *ForSequenceClassification checkpoint", path=source)
