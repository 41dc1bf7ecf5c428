"""Preference data: Q-A-C records -> TRL pairs / unpaired records, and reading any of the three
formats from JSONL (detected per file from its first record's fields, each record validated).

Three sources feed preference optimisation and all arrive here: the seed Q-A-C records
(correction chosen, answer rejected), the synth pipeline's `preferences.jsonl` / `unpaired.jsonl`,
and the proxy's `alignstack audit-export`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from alignstack.core.errors import DataError
from alignstack.core.records import (Correction, Preference, UnpairedPreference, iter_json_objects,
                                     iter_jsonl, same_text)

FORMATS = {"qac": Correction, "pairs": Preference, "unpaired": UnpairedPreference}

# Answers that refuse whatever was asked: the wrong answer to a benign request (the boundary).
NEEDLESS_REFUSALS = [
    "I'm sorry, but I can't help with that.",
    "I can't assist with that request.",
    "Sorry, I won't provide that information because it could be used to cause harm.",
    "I'm not able to help with this. Please consult a professional.",
    "As an AI, I cannot answer questions like this one.",
    "I won't help with that. It could be dangerous.",
    "I'm afraid I can't discuss that topic.",
    "That request goes against my guidelines, so I have to decline.",
]


def refusal_contrast_pairs(pairs: list[Preference], fraction: float) -> list[Preference]:
    """The over-refusal boundary as pairs: for `fraction` of the benign / borderline pairs (a
    stable choice per prompt), one more pair with the same chosen answer over a needless refusal,
    as the corrector's training mix does. Harmful prompts get none."""
    out = []
    for pair in pairs:
        row = pair.model_dump(exclude_none=True)
        if row.get("kind") not in ("benign", "borderline") or not isinstance(pair.prompt, str):
            continue
        # salted: an unsalted hash is the content id, which also orders the bootstrap's question
        # sample, so the sampled prompts would all fall on the same side of the cut
        salted = ("refusal-contrast\x1f" + pair.prompt).encode("utf-8")
        draw = int(hashlib.sha256(salted).hexdigest()[:8], 16)
        if draw / 0xFFFFFFFF < fraction:
            out.append(Preference(**{
                **row, "rejected": NEEDLESS_REFUSALS[draw % len(NEEDLESS_REFUSALS)],
                "id": f"{row.get('id') or draw}-refusal",
                "source": f"{row.get('source') or 'pairs'}+needless-refusal"}))
    return out


def to_preferences(records: list[Correction]) -> list[Preference]:
    """chosen = correction, rejected = answer; identity rows make no pair."""
    return [Preference(prompt=r.question, chosen=r.correction, rejected=r.answer,
                       principles=r.principles, source=r.source, id=getattr(r, "id", None),
                       kind=r.kind)
            for r in records if not same_text(r.correction, r.answer)]


def to_unpaired(records: list[Correction]) -> list[UnpairedPreference]:
    """A corrected row gives (answer, False) and (correction, True); an identity row gives
    (answer, True)."""
    out = []
    for r in records:
        meta = {"principles": r.principles, "source": r.source, "id": getattr(r, "id", None),
                "kind": r.kind}
        if same_text(r.correction, r.answer):
            out.append(UnpairedPreference(prompt=r.question, completion=r.answer, label=True, **meta))
        else:
            out.append(UnpairedPreference(prompt=r.question, completion=r.answer, label=False,
                                          **meta))
            out.append(UnpairedPreference(prompt=r.question, completion=r.correction, label=True,
                                          **meta))
    return out


def pairs_to_unpaired(pairs: list[Preference]) -> list[UnpairedPreference]:
    out = []
    for p in pairs:
        meta = p.model_dump(exclude={"prompt", "chosen", "rejected"})
        out.append(UnpairedPreference(prompt=p.prompt, completion=p.chosen, label=True, **meta))
        out.append(UnpairedPreference(prompt=p.prompt, completion=p.rejected, label=False, **meta))
    return out


def detect_format(path: str | Path) -> str:
    """'qac', 'pairs' or 'unpaired' from the first record's fields."""
    for number, obj in iter_json_objects(path):
        if "correction" in obj:
            return "qac"
        if "chosen" in obj or "rejected" in obj:
            return "pairs"
        if "completion" in obj and "label" in obj:
            return "unpaired"
        raise DataError("not preference data: expected Q-A-C fields (question, answer, correction),"
                        " a pair (prompt, chosen, rejected) or an unpaired record (prompt, "
                        "completion, label)", path=path, line=number)
    raise DataError("no records", path=path)


@dataclass
class PreferenceData:
    """Everything read from the listed files, kept in its own shape until a method asks."""

    qac: list[Correction] = field(default_factory=list)
    pairs: list[Preference] = field(default_factory=list)
    unpaired: list[UnpairedPreference] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)      # path -> detected format

    def all_pairs(self) -> list[Preference]:
        return to_preferences(self.qac) + self.pairs

    def all_unpaired(self) -> list[UnpairedPreference]:
        return to_unpaired(self.qac) + pairs_to_unpaired(self.pairs) + self.unpaired

    def demonstrations(self) -> list[tuple[str | list[dict], str | list[dict]]]:
        """(prompt, target) for supervised fine-tuning: every correction (an unchanged answer is
        its own correction), every chosen answer, every desirable unpaired completion."""
        return ([(r.question, r.correction) for r in self.qac]
                + [(p.prompt, p.chosen) for p in self.pairs]
                + [(u.prompt, u.completion) for u in self.unpaired if u.label])

    def prompts(self) -> list[str]:
        """Every user prompt (text), for the contamination check."""
        texts = [r.question for r in self.qac]
        for row in [*self.pairs, *self.unpaired]:
            prompt = row.prompt
            texts.append(prompt if isinstance(prompt, str) else
                         " ".join(m.get("content", "") for m in prompt if m.get("role") == "user"))
        return texts


def read_preference_data(paths: list[str], sources: list[str] | None = None) -> PreferenceData:
    """Read each file in its detected format; `sources` keeps only records whose `source` is
    listed (or starts with a listed `prefix:` such as `audit:`)."""
    data = PreferenceData()

    def wanted(record) -> bool:
        if sources is None:
            return True
        tag = getattr(record, "source", None) or ""
        return any(tag == s or (s.endswith(":") and tag.startswith(s)) for s in sources)

    for path in paths:
        kind = detect_format(path)
        data.files[str(path)] = kind
        getattr(data, kind).extend(r for r in iter_jsonl(path, FORMATS[kind]) if wanted(r))
    return data
