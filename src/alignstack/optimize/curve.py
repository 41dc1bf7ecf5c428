"""The bootstrap's evaluation: every round on the external suites, beside the upstream alone and
the upstream + corrector stack, so one report shows the curve
(upstream, + corrector, optimised round 1..K, variants, last round + corrector)."""

from __future__ import annotations

from pathlib import Path

from alignstack.core.errors import ConfigError
from alignstack.core.yamlio import load_yaml
from alignstack.optimize.bootstrap import Trained, question_files
from alignstack.optimize.config import BootstrapConfig


def curve_systems(cfg: BootstrapConfig, trained: list[Trained]) -> list[dict]:
    corrector_side = {k: v for k, v in cfg.stack.items() if k != "upstream"}
    systems = [{"name": "upstream", "upstream": cfg.upstream},
               {"name": "upstream+corrector", "upstream": cfg.upstream, **corrector_side}]
    local = {k: v for k, v in corrector_side.items() if k not in ("backend", "base_url")}
    systems += [{"name": t.name, "upstream": t.model} for t in trained]
    rounds = [t for t in trained if not t.variant]
    if rounds:
        last = rounds[-1]
        systems.append({"name": f"{last.name}+corrector", "upstream": last.model, **local})
    return systems


def curve_eval_config(cfg: BootstrapConfig, trained: list[Trained]):
    """The eval config: `cfg.eval_config`'s suites and judges, the curve's systems, every pairs
    file in the contamination check, output under output_dir/eval."""
    from pydantic import ValidationError

    from alignstack.evaluate.config import EvalConfig

    if not cfg.eval_config:
        return None
    data, _ = load_yaml(cfg.eval_config)
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping at the top level", path=cfg.eval_config, line=1)
    out = Path(cfg.output_dir) / "eval"
    pairs = sorted(str(p) for p in Path(cfg.output_dir).glob("round-*/pairs.jsonl"))
    data = {**data, "systems": curve_systems(cfg, trained), "baseline": "upstream",
            "output_dir": str(out), "cache_dir": str(out / "cache"),
            "contamination_files": [*question_files(cfg), *pairs]}
    try:
        return EvalConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(err["msg"], path=cfg.eval_config,
                          field=".".join(str(p) for p in err["loc"])) from None


def curve_table(results: dict) -> list[dict]:
    """Per system: each overall rate with its 95 % CI, in the order evaluated."""
    rows = []
    for name, stats in results["systems"].items():
        row = {"system": name}
        for metric, value in stats["overall"].items():
            row[metric] = {"rate": value["rate"], "ci95": value["ci95"], "n": value.get("n")}
        rows.append(row)
    return rows
