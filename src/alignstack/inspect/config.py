"""Config for training an inspector (YAML maps 1:1 onto these fields)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class InspectorTrainConfig:
    train_file: str                        # Q-A-C JSONL or labelled JSONL (question, answer, label)
    output_dir: str
    # more training files with the same kind of label (e.g. questions-only request records)
    extra_train_files: list[str] = field(default_factory=list)
    eval_file: str | None = None           # held-out data: AUROC, ECE, precision/recall -> metrics
    # qac / labelled: is this answer misaligned? request: is this question a harmful request
    # (a Q-A-C record's kind == harmful; one example per question; needs inputs: question)
    data_format: Literal["auto", "qac", "labelled", "request"] = "auto"
    inputs: Literal["pair", "question"] = "pair"     # what the heads see
    # inputs: question: this share of the fit split's questions is also trained as a
    # conversation (inspect.conversations: a follow-up after it, a push after a refusal, or it
    # asked after an everyday exchange), same label; the calibration split stays single questions
    conversation_share: float = 0.0
    encoder: str | None = None             # None: the shipped all-MiniLM-L6-v2
    max_seq_length: int = 256
    # one head per principle id with at least this many positives (0 = overall head only)
    principle_min_positives: int = 15
    calibration: Literal["temperature", "isotonic"] = "temperature"
    calibration_fraction: float = 0.25     # share of train questions held back to calibrate
    # max_f1; target_recall: the highest threshold that still flags target_recall of the
    # positives; target_false_flag: the lowest threshold that flags at most target_false_flag_rate
    # of the negatives (e.g. the over-refusal a request gate may cause)
    threshold_rule: Literal["max_f1", "target_recall", "target_false_flag"] = "max_f1"
    target_recall: float = 0.9
    target_false_flag_rate: float = 0.1
    # logistic: frozen encoder embeddings + logistic-regression heads (one per principle too);
    # finetune: the encoder itself fine-tuned as a classifier (transformers Trainer), overall only
    classifier: Literal["logistic", "finetune"] = "logistic"
    regularisation_c: float = 1.0          # LogisticRegression C
    finetune_epochs: float = 3.0
    finetune_learning_rate: float = 5e-5
    finetune_batch_size: int = 32
    # float32: the same gate on every CPU (in mixed bf16, a CPU with native bf16 trained a
    # different request gate from one without, and the demo's refusal zone moved with it);
    # auto: mixed bf16 where the hardware has it natively (faster on a GPU)
    finetune_precision: Literal["float32", "auto"] = "float32"
    # finetune: the input embeddings and this many of the encoder's lowest layers stay frozen
    # (0: everything trains); backward stops above them, so each step costs less
    finetune_frozen_layers: int = 0
    progress: bool = True                  # finetune: a progress bar with ETA
    batch_size: int = 64
    seed: int = 0
