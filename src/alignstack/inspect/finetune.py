"""An inspector whose encoder is fine-tuned end to end as a sequence classifier (transformers
`Trainer`), instead of frozen embeddings under a logistic-regression head.

The encoder (the shipped all-MiniLM-L6-v2 by default, or a causal LM such as the built-in
``smollm2``, whose last token then feeds the head) gets a two-way classification head and is
trained on the fit split (in float32 by default, so every CPU trains the same gate; mixed bf16
where the hardware has it natively with `finetune_precision: auto`; batches grouped by
length); its logit margin is then calibrated on the calibration split and the thresholds
chosen there, exactly as for a logistic head. Saved as `inspector.json` plus the
fine-tuned checkpoint in `classifier/` (safetensors). Overall head only: per-principle heads need
the logistic kind.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Sequence

from alignstack.core.errors import ConfigError
from alignstack.core.records import QA, write_json
from alignstack.inspect.calibrate import apply_calibration
from alignstack.inspect.inspector import (FORMAT, META_FILE, OVERALL, Head,
                                          SequenceClassifierInspector, encode_inputs)

KIND = "finetuned-sequence-classifier"
CLASSIFIER_DIR = "classifier"
LABELS = {0: "aligned", 1: "misaligned"}


class FinetunedInspector(SequenceClassifierInspector):
    """P(misaligned) = calibrated logit margin of a fine-tuned classifier."""

    def __init__(self, directory: str | Path, head: Head, *, inputs: str = "pair",
                 max_seq_length: int = 256, batch_size: int = 64, info: dict | None = None):
        super().__init__(str(Path(directory) / CLASSIFIER_DIR), misaligned_label=1,
                         threshold=head.threshold, batch_size=batch_size,
                         max_length=max_seq_length, inputs=inputs)
        self.heads = {OVERALL: head}
        self.info = info or {}

    def margins(self, items: Sequence[QA]) -> list[float]:
        """logit(misaligned) - logit(aligned) per item: what the calibration maps."""
        logits = self.logits(items)
        return [float(v) for v in logits[:, 1] - logits[:, 0]]

    def score(self, items: Sequence[QA], head: str = OVERALL) -> list[float]:
        if not items:
            return []
        calibration = self.heads[OVERALL].calibration
        return [float(p) for p in apply_calibration(self.margins(items), calibration)]

    def save(self, directory: str | Path) -> None:
        """inspector.json beside the checkpoint (`finetune_classifier` wrote it there)."""
        head = self.heads[OVERALL]
        write_json(Path(directory) / META_FILE, {
            "format": FORMAT, "kind": KIND, "inputs": self.inputs, "classifier": CLASSIFIER_DIR,
            "max_seq_length": self.max_length, "batch_size": self.batch_size,
            "heads": {OVERALL: {"calibration": head.calibration, "threshold": head.threshold,
                                "positives": head.positives}},
            **self.info})

    @classmethod
    def load(cls, directory: str | Path, meta: dict) -> "FinetunedInspector":
        spec = meta["heads"][OVERALL]
        head = Head(OVERALL, None, 0.0, spec["calibration"], float(spec["threshold"]),
                    spec.get("positives", 0))
        info = {k: v for k, v in meta.items()
                if k not in ("format", "kind", "inputs", "classifier", "max_seq_length",
                             "batch_size", "heads")}
        return cls(directory, head, inputs=meta.get("inputs", "pair"),
                   max_seq_length=meta.get("max_seq_length", 256),
                   batch_size=meta.get("batch_size", 64), info=info)


def classifier_source(spec: str | None) -> str:
    """What the classifier starts from: a sentence encoder (None / 'minilm' / a path) or a
    language model spec the model resolver knows (a built-in name such as 'smollm2', a .gguf)."""
    from alignstack.backends.encoders import resolve_encoder
    from alignstack.backends.models import BUILTIN, resolve

    if spec in BUILTIN or str(spec or "").endswith(".gguf"):
        return resolve(spec).path
    return resolve_encoder(spec)


def freeze_lower_layers(model, count: int) -> None:
    """Freeze the input embeddings and the lowest `count` layers of a sequence classifier's
    encoder (a BERT-style `embeddings` + `encoder.layer`, or a decoder's `embed_tokens` +
    `layers`); 0 leaves everything trainable."""
    if count == 0:
        return
    base = model.base_model
    embeddings = getattr(base, "embeddings", None) or getattr(base, "embed_tokens", None)
    layers = (getattr(getattr(base, "encoder", None), "layer", None)
              or getattr(base, "layers", None))
    if embeddings is None or layers is None:
        raise ConfigError(f"cannot find the embeddings and layers of {type(base).__name__}",
                          field="finetune_frozen_layers")
    if not 0 <= count < len(layers):
        raise ConfigError(f"expected 0 to {len(layers) - 1} (the encoder has {len(layers)} "
                          f"layers), got {count}", field="finetune_frozen_layers")
    for module in (embeddings, *layers[:count]):
        for param in module.parameters():
            param.requires_grad = False


def finetune_classifier(cfg, fit: list, output_dir: str | Path) -> Path:
    """Fine-tune `cfg.encoder` on the fit split's examples (transformers Trainer); the checkpoint
    lands in `output_dir/classifier`, written whole or not at all."""
    import torch
    from datasets import Dataset
    from transformers import (AutoModelForSequenceClassification, AutoTokenizer,
                              DataCollatorWithPadding, Trainer, TrainingArguments, set_seed)

    from alignstack.backends.hardware import best_device, best_dtype

    source = classifier_source(cfg.encoder)
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:          # causal LMs: the head reads the last real token
        tokenizer.pad_token = tokenizer.eos_token
    # the new head's initial weights come from the global RNG: seeded here, the gate does not
    # depend on what ran before it in the process (in the demo, a corrector trained with or
    # without LoRA dropout gave request gates whose refusal cuts were 0.756 and 0.663)
    set_seed(cfg.seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        source, num_labels=2, id2label=LABELS, label2id={v: k for k, v in LABELS.items()},
        pad_token_id=tokenizer.pad_token_id, trust_remote_code=False)
    freeze_lower_layers(model, cfg.finetune_frozen_layers)
    device = best_device()
    enc = encode_inputs(tokenizer, cfg.inputs, [e.question for e in fit], [e.answer for e in fit],
                 cfg.max_seq_length)
    data = Dataset.from_dict({**enc, "labels": [e.label for e in fit]})
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output_dir, prefix=".classifier-") as scratch:
        args = TrainingArguments(
            output_dir=scratch, num_train_epochs=cfg.finetune_epochs,
            learning_rate=cfg.finetune_learning_rate,
            per_device_train_batch_size=cfg.finetune_batch_size, weight_decay=0.01,
            warmup_steps=0.1, lr_scheduler_type="linear", seed=cfg.seed, data_seed=cfg.seed,
            use_cpu=device == "cpu", fp16=False,
            bf16=cfg.finetune_precision == "auto" and best_dtype(device) == torch.bfloat16,
            train_sampling_strategy="group_by_length", save_strategy="no", report_to=[],
            logging_steps=10, disable_tqdm=not cfg.progress)
        trainer = Trainer(model=model, args=args, train_dataset=data,
                          data_collator=DataCollatorWithPadding(tokenizer))
        trainer.train()
        staged = Path(scratch) / CLASSIFIER_DIR
        trainer.model.save_pretrained(staged)
        tokenizer.save_pretrained(staged)
        final = output_dir / CLASSIFIER_DIR
        if final.exists():
            shutil.rmtree(final)
        staged.replace(final)
    return final
