"""Contamination check: do evaluation prompts overlap the training data?

Two views, as in the contamination literature: word n-gram overlap (13-grams, as GPT-3 did;
8-grams were tried and flag shared boilerplate, e.g. "a step by step guide on how to" in
HarmBench and in our seed questions, or "here to assist you with any questions" in jailbreak
templates and in SmolLM2's answers), and embedding similarity (the shipped MiniLM; near-paraphrases
that share no n-gram still show up as cosine >= threshold).

Containment, both directions: a text shorter than n words has no n-gram to share, so it is looked
for whole (at least `MIN_WORDS` words: "you are a" is in everything):
- an eval prompt inside a longer training text (a benchmark question pasted into training data);
- a training question inside a longer eval prompt (a jailbreak template wrapped around a request
  the model was trained on). Only question fields are looked for here: a stock answer phrase
  ("I can't help with that") inside a jailbreak template is not a leak.

Which files to check: `training_files()` reads every config under examples/ and lists every file
that trains or selects something (`TRAIN_KEYS`, and the `jsonl` suites of eval configs, which are
the validation sets variants are chosen on), so a new recipe's data is covered without editing a
list; `contamination_files: [auto]` in an eval config checks them all.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Sequence

from alignstack.core.errors import ConfigError, DataError
from alignstack.core.records import iter_json_objects

TEXT_FIELDS = ("question", "prompt", "answer", "correction", "chosen", "rejected", "completion")
QUESTION_FIELDS = ("question", "prompt")
MIN_WORDS = 4
# config keys whose files train something (SFT/DPO data, inspector and gate training sets, the
# bootstrap's questions, seed pairs and reference answers)
TRAIN_KEYS = ("train_file", "extra_train_files", "questions", "seed_pairs", "data", "references")


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


def _anchored(needles: dict[int, tuple[str, ...]]) -> dict[tuple[str, ...], list[int]]:
    index: dict[tuple[str, ...], list[int]] = {}
    for k, tokens in needles.items():
        index.setdefault(tokens[:MIN_WORDS], []).append(k)
    return index


def contained(needles: Sequence[Sequence[str]], haystacks: Sequence[Sequence[str]]
              ) -> tuple[set[int], set[int]]:
    """Whole-word containment of token sequences (each >= MIN_WORDS long): (indices of the
    needles found in some haystack, indices of the haystacks holding some needle)."""
    usable = {k: tuple(t) for k, t in enumerate(needles) if len(t) >= MIN_WORDS}
    index = _anchored(usable)
    found, holding = set(), set()
    for h, tokens in enumerate(haystacks):
        tokens = tuple(tokens)
        for i in range(len(tokens) - MIN_WORDS + 1):
            for k in index.get(tokens[i:i + MIN_WORDS], ()):
                if tokens[i:i + len(usable[k])] == usable[k]:
                    found.add(k)
                    holding.add(h)
    return found, holding


def ngram_overlap(eval_prompts: Sequence[str], train_texts: Iterable[str], n: int = 13,
                  train_questions: Iterable[str] = ()) -> list[bool]:
    """Per eval prompt: it shares a word n-gram with a training text, or (shorter than n words)
    it appears whole inside one, or a training question shorter than n words appears whole
    inside it."""
    texts = [words(t) for t in train_texts]
    train_grams: set[tuple[str, ...]] = set()
    for tokens in texts:
        train_grams |= ngrams(tokens, n)
    prompts = [words(p) for p in eval_prompts]
    flags = [len(t) >= n and bool(ngrams(t, n) & train_grams) for t in prompts]
    short_prompts = [t if len(t) < n else () for t in prompts]
    inside_training, _ = contained(short_prompts, texts)
    short_questions = [q for q in (words(t) for t in train_questions) if len(q) < n]
    _, holding_question = contained(short_questions, prompts)
    return [f or i in inside_training or i in holding_question for i, f in enumerate(flags)]


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


def _config_paths(value) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, str) and v.endswith((".jsonl", ".json", ".parquet"))]


def training_files(root: str | Path = ".", folders: Sequence[str] = ("examples",)) -> dict:
    """Every data file a config under `root/<folders>` trains or selects on: {"train": {file:
    [config:key, ...]}, "select": {...}, "missing": {...}} (paths as the configs write them,
    relative to `root`; "missing": files the configs name that are not in the tree, e.g. pairs a
    bootstrap run writes under runs/, built from files that are listed)."""
    import yaml

    root = Path(root)
    found: dict[str, dict[str, list[str]]] = {"train": {}, "select": {}, "missing": {}}

    def add(role: str, path: str, where: str) -> None:
        role = role if (root / path).exists() else "missing"
        found[role].setdefault(path, []).append(where)

    def walk(node, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in TRAIN_KEYS:
                    for path in _config_paths(value):
                        add("train", path, f"{where}:{key}")
                walk(value, where)
        elif isinstance(node, list):
            for value in node:
                walk(value, where)

    for folder in folders:
        for config in sorted((root / folder).rglob("*.y*ml")):
            try:
                data = yaml.safe_load(config.read_text(encoding="utf-8"))
            except (yaml.YAMLError, UnicodeDecodeError):
                continue
            where = config.relative_to(root).as_posix()
            walk(data, where)
            if isinstance(data, dict) and isinstance(data.get("suites"), list):
                for suite in data["suites"]:
                    if isinstance(suite, dict) and suite.get("name") == "jsonl" and suite.get("path"):
                        add("select", suite["path"], f"{where}:suites.path")
    return {role: dict(sorted(files.items())) for role, files in found.items()}


def resolve_training_files(entries: Sequence[str], root: str | Path = ".") -> list[str]:
    """An eval config's `contamination_files`, with "auto" replaced by every file that trains or
    selects something (`training_files`)."""
    out: list[str] = []
    for entry in entries:
        if entry == "auto":
            found = training_files(root)
            if not (found["train"] or found["select"]):
                raise ConfigError(f"contamination_files: auto found no training file named by a "
                                  f"config under {Path(root).resolve() / 'examples'} (run from "
                                  "the repository root, or list the files)",
                                  field="contamination_files")
            out += [str(Path(root) / p) for p in (*found["train"], *found["select"])]
        else:
            out.append(entry)
    return list(dict.fromkeys(out))


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
    flags = ngram_overlap(eval_prompts, texts, n, train_questions=questions)
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
