"""`alignstack optimize` (SFT / DPO / KTO / ORPO / SimPO on an upstream) and `alignstack bootstrap`
(rounds of answer -> correct -> pairs -> optimise, each round evaluated)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from alignstack.cli.common import ConfigOption, SetOption, console, handle_errors


@handle_errors
def optimize(config: Optional[Path] = ConfigOption, set_: list[str] = SetOption) -> None:
    """Preference-optimise an upstream through TRL; writes the merged model and metrics."""
    from alignstack.optimize.config import load_optimize_config
    from alignstack.optimize.train import optimize as run_optimize

    cfg = load_optimize_config(config, set_)
    console.print(f"{cfg.method} on [bold]{', '.join(cfg.data)}[/] from {cfg.base_model} -> "
                  f"{cfg.output_dir}", highlight=False)
    metrics = run_optimize(cfg)
    shown = {k: metrics[k] for k in ("method", "device", "dtype", "world_size", "examples",
                                     "steps", "seconds", "seconds_per_step", "train_loss")}
    shown["heldout"] = metrics["heldout"][-1:] if metrics["heldout"] else None
    console.print_json(json.dumps(shown))


@handle_errors
def bootstrap(config: Optional[Path] = ConfigOption, set_: list[str] = SetOption) -> None:
    """Bootstrap the upstream from its own corrections, round after round (resumable)."""
    from alignstack.core.config import load_config
    from alignstack.core.records import write_json
    from alignstack.evaluate.runner import run_eval
    from alignstack.optimize.bootstrap import run_bootstrap
    from alignstack.optimize.config import BootstrapConfig
    from alignstack.optimize.curve import curve_eval_config, curve_table

    cfg = load_config(BootstrapConfig, config, set_)
    log = lambda m: console.print(m, highlight=False)  # noqa: E731

    def evaluate(trained) -> None:
        eval_cfg = curve_eval_config(cfg, trained)
        if eval_cfg is None:
            return
        results = run_eval(eval_cfg, log=log)
        table = curve_table(results)
        write_json(Path(cfg.output_dir) / "curve.json", table)
        for row in table:
            cells = [f"{k} {100 * v['rate']:.0f}% [{100 * v['ci95'][0]:.0f},"
                     f"{100 * v['ci95'][1]:.0f}]" for k, v in row.items() if k != "system"]
            log(f"[bold]{row['system']}[/]: " + ", ".join(cells))

    summary = run_bootstrap(cfg, log=log, after_round=evaluate)
    console.print(f"trained: {', '.join(t['name'] for t in summary['trained'])}; "
                  f"summary {Path(cfg.output_dir) / 'bootstrap.json'}", highlight=False)
