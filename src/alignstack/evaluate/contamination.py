"""Contamination check: do evaluation prompts overlap the training data?

Two views, as in the contamination literature: word n-gram overlap (13-grams, as GPT-3 did; a
prompt shorter than n words (and at least 4) counts when it appears whole. 8-grams were tried and flag shared
boilerplate, e.g. "a step by step guide on how to" in HarmBench and in our seed questions, or
"here to assist you with any questions" in jailbreak templates and in SmolLM2's answers), and
embedding similarity (the shipped MiniLM; near-paraphrases that share
no n-gram still show up as cosine >= threshold).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Sequence

from alignstack.core.errors import DataError
from alignstack.core.records import iter_json_objects

TEXT_FIELDS = ("question", "prompt", "answer", "correction", "chosen", "rejected", "completion")
QUESTION_FIELDS = ("question", "prompt")


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    """Word n-grams, without degenerate ones made only of one-character tokens (table headers
    such as "| A | B | C ..." appear in both an RTP prompt and a SmolLM2 answer)."""
    grams = (tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    return {g for g in grams if any(len(t) > 1 for t in g)}


def _as_text(value) -> str:
    if isinstance(value, list):                 # conversational records: messages
        return " ".join(m.get("content", "") for m in value if isinstance(m, dict))
    return value if isinstance(value, str) else ""


def read_training_texts(path: str | Path) -> tuple[list[str], list[str]]:
    """(all text fields, question/prompt fields) of a JSONL training file."""
    texts, questions = [], []
    for number, obj in iter_json_objects(path):
        found = [f for f in TEXT_FIELDS if _as_text(obj.get(f))]
        if not found:
            raise DataError(f"no text field (one of {', '.join(TEXT_FIELDS)})",
                            path=path, line=number)
        texts += [_as_text(obj[f]) for f in found]
        questions += [_as_text(obj[f]) for f in QUESTION_FIELDS if _as_text(obj.get(f))]
    return texts, questions


def ngram_overlap(eval_prompts: Sequence[str], train_texts: Iterable[str], n: int = 13) -> list[bool]:
    train_grams: set[tuple[str, ...]] = set()
    whole: set[str] = set()
    for text in train_texts:
        tokens = words(text)
        train_grams |= ngrams(tokens, n)
        whole.add(" ".join(tokens))
    flags = []
    for prompt in eval_prompts:
        tokens = words(prompt)
        if len(tokens) < n:     # a short prompt counts when it appears whole (>= 4 words:
            needle = f" {' '.join(tokens)} "            # "you are a" is in everything)
            flags.append(len(tokens) >= 4 and any(needle in f" {w} " for w in whole))
        else:
            flags.append(bool(ngrams(tokens, n) & train_grams))
    return flags


def embedding_overlap(eval_prompts: Sequence[str], train_questions: Sequence[str],
                      encoder: str | None = None) -> list[tuple[float, int]]:
    """(max cosine, index of the nearest training question) per eval prompt."""
    from alignstack.backends.encoders import load_encoder

    if not eval_prompts or not train_questions:
        return [(0.0, -1) for _ in eval_prompts]
    model = load_encoder(encoder)
    a = model.encode(list(eval_prompts), normalize_embeddings=True, convert_to_tensor=True)
    b = model.encode(list(train_questions), normalize_embeddings=True, convert_to_tensor=True)
    best = (a @ b.T).max(dim=1)
    return [(round(float(v), 4), int(i)) for v, i in zip(best.values, best.indices)]


def contamination_report(eval_prompts: Sequence[str], train_files: Sequence[str | Path], *,
                         n: int = 13, threshold: float = 0.9, top: int = 5,
                         encoder: str | None = None, questions_only: bool = False) -> dict:
    """n-gram overlap with every text field of the training files (only their questions when
    `questions_only`) and embedding similarity to their questions."""
    texts, questions = [], []
    for path in train_files:
        t, q = read_training_texts(path)
        texts += q if questions_only else t
        questions += q
    flags = ngram_overlap(eval_prompts, texts, n)
    nearest = embedding_overlap(eval_prompts, questions, encoder)
    close = [i for i, (sim, _) in enumerate(nearest) if sim >= threshold]
    ranked = sorted(range(len(eval_prompts)), key=lambda i: -nearest[i][0])[:top]
    return {
        "train_files": [str(p) for p in train_files], "n_eval": len(eval_prompts),
        "n_train_texts": len(texts), "n_train_questions": len(questions),
        "ngram": {"n": n, "contaminated": sum(flags),
                  "rate": sum(flags) / len(flags) if flags else 0.0,
                  "examples": [eval_prompts[i] for i, f in enumerate(flags) if f][:top]},
        "embedding": {"threshold": threshold, "above": len(close),
                      "max": max((s for s, _ in nearest), default=0.0),
                      "mean_nearest": (sum(s for s, _ in nearest) / len(nearest)) if nearest else 0.0,
                      "nearest_pairs": [{"eval": eval_prompts[i], "train": questions[nearest[i][1]]
                                         if nearest[i][1] >= 0 else "", "cosine": nearest[i][0]}
                                        for i in ranked]},
    }
