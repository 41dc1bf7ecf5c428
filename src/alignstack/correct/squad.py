"""A squad of correctors, each with its inspector, routed as in Ngweta et al. ("Aligners:
Decoupling LLMs and Alignment"): each round, every item still judged misaligned goes to the
corrector of its most-violated criterion; answers are re-scored between rounds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import yaml

from alignstack.core.config import from_dict
from alignstack.core.errors import ConfigError
from alignstack.core.records import QA, Corrected, same_text
from alignstack.core.yamlio import load_yaml
from alignstack.correct.stack import CorrectorLike


@dataclass
class SquadMember:
    name: str
    corrector: CorrectorLike
    inspector: object                  # .score(items[, head]) -> P(misaligned); .threshold
    head: str | None = None            # the inspector head for this criterion (e.g. a principle)
    threshold: float | None = None     # overrides the squad's threshold for this member


class Squad:
    """Corrector-like: `correct(items) -> list[Corrected]`, so a Stack can take it.

    threshold: an item is misaligned on a criterion when its score is above this (0.5: alignment
    below one half); None uses each inspector's own calibrated threshold.
    """

    def __init__(self, members: Sequence[SquadMember], rounds: int = 2,
                 threshold: float | None = 0.5):
        if not members:
            raise ConfigError("a squad needs at least one member", field="members")
        if rounds < 1:
            raise ConfigError(f"must be at least 1, got {rounds}", field="rounds")
        names = [m.name for m in members]
        if len(set(names)) != len(names):
            raise ConfigError(f"member names must be unique: {names}", field="members")
        self.members, self.rounds, self.threshold = list(members), rounds, threshold

    def limit(self, member: SquadMember) -> float:
        if member.threshold is not None:
            return member.threshold
        if self.threshold is not None:
            return self.threshold
        heads = getattr(member.inspector, "heads", None) or {}
        head = heads.get(member.head) if member.head else None
        return getattr(head, "threshold", None) or member.inspector.threshold

    def scores(self, items: list[QA]) -> list[dict[str, float]]:
        """Per item, every member's P(misaligned); one encoder pass per distinct inspector."""
        by_inspector: dict[int, list[dict[str, float]]] = {}
        columns: dict[str, list[float]] = {}
        for m in self.members:
            if m.head is None:
                columns[m.name] = m.inspector.score(items)
                continue
            key = id(m.inspector)
            if key not in by_inspector:
                by_inspector[key] = (m.inspector.score_heads(items)
                                     if hasattr(m.inspector, "score_heads") else None)
            rows = by_inspector[key]
            columns[m.name] = ([r[m.head] for r in rows] if rows is not None
                               else m.inspector.score(items, head=m.head))
        return [{name: col[i] for name, col in columns.items()} for i in range(len(items))]

    def route(self, scores: dict[str, float], used: set[str]) -> SquadMember | None:
        """The most-violated criterion whose score is above its threshold, not yet applied."""
        flagged = [m for m in self.members
                   if m.name not in used and scores[m.name] > self.limit(m)]
        return max(flagged, key=lambda m: scores[m.name]) if flagged else None

    def correct(self, items: list[QA]) -> list[Corrected]:
        if not items:
            return []
        current = [QA(question=i.question, answer=i.answer, principles=i.principles)
                   for i in items]
        routes: list[list[str]] = [[] for _ in items]
        first = scores = self.scores(current)
        for _ in range(self.rounds):
            groups: dict[str, list[int]] = {}
            for k, s in enumerate(scores):
                member = self.route(s, set(routes[k]))
                if member is not None:
                    groups.setdefault(member.name, []).append(k)
            if not groups:
                break
            for member in self.members:
                idx = groups.get(member.name, [])
                if not idx:
                    continue
                for k, out in zip(idx, member.corrector.correct([current[k] for k in idx])):
                    routes[k].append(member.name)
                    current[k] = QA(question=current[k].question, answer=out.corrected,
                                    principles=current[k].principles)
            scores = self.scores(current)
        return [Corrected(question=item.question, answer=item.answer, principles=item.principles,
                          corrected=now.answer,
                          changed=not same_text(now.answer, item.answer),
                          route=route, scores_before=_round(before), scores_after=_round(after))
                for item, now, route, before, after in zip(items, current, routes, first, scores)]


def _child(node, key: str | int):
    """The YAML node under `key` (for line numbers in errors), or None."""
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
        return node.value[key]
    if isinstance(node, yaml.MappingNode):
        return next((v for k, v in node.value if k.value == key), None)
    return None


def _round(scores: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in scores.items()}


@dataclass
class MemberConfig:
    name: str
    corrector: str                     # a corrector directory or model
    inspector: str                     # an inspector directory or sequence-classification model
    head: str | None = None
    threshold: float | None = None


@dataclass
class SquadConfig:
    members: list[dict] = field(default_factory=list)
    rounds: int = 2
    threshold: float | None = 0.5


def load_squad(path: str | Path, load_corrector: Callable[[str], CorrectorLike],
               load_inspector: Callable[[str], object]) -> Squad:
    """Build a squad from YAML (`members: [{name, corrector, inspector, head?, threshold?}]`,
    `rounds`, `threshold`); the loaders are passed in so `correct` stays apart from `inspect`.
    The same corrector or inspector path is loaded once."""
    data, node = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping at the top level", path=path, line=1)
    cfg = from_dict(SquadConfig, data, path=path, node=node)
    cache: dict[tuple[str, str], object] = {}

    def once(kind: str, source: str, loader: Callable) -> object:
        if (kind, source) not in cache:
            cache[(kind, source)] = loader(source)
        return cache[(kind, source)]

    members = []
    for n, raw in enumerate(cfg.members):
        member_node = _child(_child(node, "members"), n)
        if not isinstance(raw, dict):
            raise ConfigError("each member must be a mapping", path=path, field=f"members[{n}]")
        m = from_dict(MemberConfig, raw, path=path, node=member_node)
        members.append(SquadMember(m.name, once("corrector", m.corrector, load_corrector),
                                   once("inspector", m.inspector, load_inspector),
                                   m.head, m.threshold))
    return Squad(members, rounds=cfg.rounds, threshold=cfg.threshold)
