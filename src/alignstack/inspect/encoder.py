"""Pair features from a sentence encoder (default: the shipped all-MiniLM-L6-v2):
[q, a, q*a, |q-a|] over normalised embeddings."""

from __future__ import annotations

from typing import Sequence

from alignstack.backends.encoders import load_encoder


def embed(path: str, texts: Sequence[str], *, max_seq_length: int = 256, batch_size: int = 64):
    model = load_encoder(path, max_seq_length)
    return model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                        convert_to_numpy=True, show_progress_bar=False)


def question_features(path: str, questions: Sequence[str], *, max_seq_length: int = 256,
                      batch_size: int = 64):
    """One row per question: its normalised embedding (a request classifier's input)."""
    unique_q = list(dict.fromkeys(questions))
    emb = embed(path, unique_q, max_seq_length=max_seq_length, batch_size=batch_size)
    index = {q: i for i, q in enumerate(unique_q)}
    return emb[[index[x] for x in questions]]


def features(path: str, inputs: str, questions: Sequence[str], answers: Sequence[str], *,
             max_seq_length: int = 256, batch_size: int = 64):
    """`inputs`: "pair" (question + answer) or "question" (the request alone)."""
    if inputs == "question":
        return question_features(path, questions, max_seq_length=max_seq_length,
                                 batch_size=batch_size)
    return pair_features(path, questions, answers, max_seq_length=max_seq_length,
                         batch_size=batch_size)


def pair_features(path: str, questions: Sequence[str], answers: Sequence[str], *,
                  max_seq_length: int = 256, batch_size: int = 64):
    """One row per (question, answer): 4 x the encoder's width (1536 for MiniLM)."""
    import numpy as np

    q = question_features(path, questions, max_seq_length=max_seq_length, batch_size=batch_size)
    a = embed(path, answers, max_seq_length=max_seq_length, batch_size=batch_size)
    return np.concatenate([q, a, q * a, np.abs(q - a)], axis=1).astype(np.float32)
