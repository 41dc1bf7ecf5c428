"""Selection after synthesis, in the spirit of deita and "Efficient Alignment via Data Sampling":
exact dedup, embedding near-dup removal (the shipped all-MiniLM-L6-v2), then a quality-ordered
diversity filter (a row joins only if it is not too similar to any row already chosen) with an
optional budget. Every filter reports how many rows it removed."""

from __future__ import annotations


from alignstack.synth.flow import SelectSpec


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def quality(row: dict) -> float:
    """A cheap quality score (no reward model): real corrections with a critique and a
    reasonable length first; identity pairs still count (the corrector must learn to keep)."""
    correction = row.get("correction", "")
    changed = _norm(correction) != _norm(row.get("answer", ""))
    length = len(correction.split())
    score = 1.0 if changed else 0.6
    score += min(length, 80) / 80 * 0.5 if 5 <= length <= 300 else 0.0
    score += 0.2 if row.get("critique") else 0.0
    return score



def encode(texts: list[str], encoder: str | None = None):
    """Unit-normalised sentence embeddings (numpy array)."""
    from alignstack.backends.encoders import load_encoder

    return load_encoder(encoder).encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True,
                        show_progress_bar=False)


def greedy_filter(vectors, order: list[int], threshold: float) -> list[int]:
    """Walk `order`, keeping an index only if its cosine to every kept one is below threshold."""
    import numpy as np

    kept: list[int] = []
    for i in order:
        if kept and float(np.max(vectors[kept] @ vectors[i])) >= threshold:
            continue
        kept.append(i)
    return kept


def select_rows(rows: list[dict], spec: SelectSpec) -> tuple[list[dict], dict]:
    """Return (selected rows in input order, a report of what each filter removed)."""
    report = {"input": len(rows)}
    order = sorted(range(len(rows)), key=lambda i: (-quality(rows[i]), i))
    seen: set[str] = set()
    unique = []
    for i in order:
        key = _norm(rows[i].get("question", ""))
        if key not in seen:
            seen.add(key)
            unique.append(i)
    report["exact_duplicates"] = len(order) - len(unique)
    chosen = unique
    if spec.embedding_dedup and len(unique) > 1:
        questions = encode([rows[i].get("question", "") for i in range(len(rows))], spec.encoder)
        chosen = greedy_filter(questions, unique, spec.dedup_threshold)
        report["near_duplicates"] = len(unique) - len(chosen)
        pairs = encode([rows[i].get("question", "") + "\n" + rows[i].get("correction", "")
                        for i in range(len(rows))], spec.encoder)
        diverse = greedy_filter(pairs, chosen, spec.diversity_threshold)
        report["diversity"] = len(chosen) - len(diverse)
        chosen = diverse
    else:
        report["near_duplicates"] = report["diversity"] = 0
        report["embedding"] = "skipped"
    if spec.max_rows is not None and len(chosen) > spec.max_rows:
        report["budget"] = len(chosen) - spec.max_rows
        chosen = chosen[:spec.max_rows]
    else:
        report["budget"] = 0
    report["selected"] = len(chosen)
    return [rows[i] for i in sorted(chosen)], report
