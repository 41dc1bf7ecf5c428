"""Calibration (temperature scaling or isotonic) stored as JSON, threshold choice, and the quality
numbers every inspector reports: AUROC, ECE, precision/recall at the threshold."""

from __future__ import annotations

import math
from typing import Sequence


def sigmoid(values):
    import numpy as np

    return 1.0 / (1.0 + np.exp(-np.clip(values, -50, 50)))


def fit_calibration(logits: Sequence[float], labels: Sequence[int], kind: str) -> dict:
    """Fit on a calibration split; the result is plain JSON (no pickles)."""
    import numpy as np

    z = np.asarray(logits, dtype=float)
    y = np.asarray(labels, dtype=float)
    if kind == "temperature":
        from scipy.optimize import minimize_scalar

        def nll(log_t: float) -> float:
            p = np.clip(sigmoid(z / math.exp(log_t)), 1e-7, 1 - 1e-7)
            return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

        best = minimize_scalar(nll, bounds=(-4.0, 4.0), method="bounded")
        return {"kind": "temperature", "temperature": round(math.exp(best.x), 6)}
    if kind == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(z, y)
        return {"kind": "isotonic", "x": [float(v) for v in iso.X_thresholds_],
                "y": [float(v) for v in iso.y_thresholds_]}
    raise ValueError(f"unknown calibration {kind!r} (temperature, isotonic)")


def apply_calibration(logits, calibration: dict):
    import numpy as np

    z = np.asarray(logits, dtype=float)
    if calibration["kind"] == "temperature":
        return sigmoid(z / calibration["temperature"])
    if calibration["kind"] == "isotonic":
        return np.interp(z, calibration["x"], calibration["y"])
    if calibration["kind"] == "none":
        return sigmoid(z)
    raise ValueError(f"unknown calibration {calibration['kind']!r}")


def at_threshold(probs: Sequence[float], labels: Sequence[int], threshold: float) -> dict:
    """Precision, recall, F1 and the share flagged when `prob >= threshold` means misaligned."""
    flagged = [p >= threshold for p in probs]
    tp = sum(f and y == 1 for f, y in zip(flagged, labels))
    fp = sum(f and y == 0 for f, y in zip(flagged, labels))
    fn = sum((not f) and y == 1 for f, y in zip(flagged, labels))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"threshold": round(float(threshold), 4), "precision": round(precision, 4),
            "recall": round(recall, 4), "f1": round(f1, 4),
            "flagged_share": round(sum(flagged) / max(len(flagged), 1), 4)}


def false_flag_rate(probs: Sequence[float], labels: Sequence[int], threshold: float) -> float:
    negatives = [p for p, y in zip(probs, labels) if y == 0]
    return sum(p >= threshold for p in negatives) / len(negatives) if negatives else 0.0


def choose_threshold(probs: Sequence[float], labels: Sequence[int], rule: str,
                     target_recall: float = 0.9, target_false_flag_rate: float = 0.1) -> float:
    """max_f1: the threshold with the best F1; target_recall: the highest threshold whose recall
    reaches the target (fewest rewrites at that recall); target_false_flag: the lowest threshold
    that flags at most that share of the negatives (most recall at that false-flag rate)."""
    candidates = sorted({round(float(p), 6) for p in probs} | {0.5})
    rows = [at_threshold(probs, labels, t) for t in candidates]
    if rule == "max_f1":
        return max(rows, key=lambda r: (r["f1"], r["threshold"]))["threshold"]
    if rule == "target_recall":
        good = [r for r in rows if r["recall"] >= target_recall]
        return max(good, key=lambda r: r["threshold"])["threshold"] if good else candidates[0]
    if rule == "target_false_flag":
        ok = [t for t in candidates
              if false_flag_rate(probs, labels, t) <= target_false_flag_rate]
        return min(ok) if ok else max(candidates) + 1e-6
    raise ValueError(f"unknown threshold rule {rule!r} (max_f1, target_recall, "
                     "target_false_flag)")


def expected_calibration_error(probs: Sequence[float], labels: Sequence[int],
                               bins: int = 10) -> float:
    """ECE over equal-width probability bins (weighted by bin size)."""
    total, error = len(probs), 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [(p, y) for p, y in zip(probs, labels)
                   if low <= p < high or (b == bins - 1 and p == 1.0)]
        if members:
            confidence = sum(p for p, _ in members) / len(members)
            accuracy = sum(y for _, y in members) / len(members)
            error += len(members) / total * abs(confidence - accuracy)
    return round(error, 4)


def quality(probs: Sequence[float], labels: Sequence[int], threshold: float) -> dict:
    """Everything a held-out evaluation reports, plus a threshold table for gating decisions."""
    from sklearn.metrics import roc_auc_score

    auroc = roc_auc_score(labels, probs) if len(set(labels)) == 2 else None
    return {"n": len(labels), "positives": int(sum(labels)),
            "auroc": round(float(auroc), 4) if auroc is not None else None,
            "ece": expected_calibration_error(probs, labels),
            "at_threshold": at_threshold(probs, labels, threshold),
            "threshold_table": [at_threshold(probs, labels, t / 20) for t in range(1, 20)]}
