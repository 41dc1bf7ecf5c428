"""`alignstack train corrector | inspector` (preference optimisation joins this group later)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from alignstack.cli.common import ConfigOption, SetOption, console, handle_errors

app = typer.Typer(no_args_is_help=True, help="Train a corrector or an inspector.")


@app.command("corrector")
@handle_errors
def corrector(config: Optional[Path] = ConfigOption, set_: list[str] = SetOption) -> None:
    """Train a LoRA corrector on Q-A-C data (identity warm-up, then corrections)."""
    from alignstack.core.config import load_config
    from alignstack.correct.config import CorrectorTrainConfig
    from alignstack.correct.train import train_corrector

    cfg = load_config(CorrectorTrainConfig, config, set_)
    console.print(f"training corrector on [bold]{cfg.train_file}[/] -> {cfg.output_dir}")
    metrics = train_corrector(cfg)
    console.print_json(json.dumps({k: metrics[k] for k in ("device", "dtype", "phases", "seconds")}))


@app.command("inspector")
@handle_errors
def inspector(config: Optional[Path] = ConfigOption, set_: list[str] = SetOption) -> None:
    """Train an inspector (P(misaligned)) on Q-A-C or labelled data; writes metrics.json."""
    from alignstack.core.config import load_config
    from alignstack.inspect.config import InspectorTrainConfig
    from alignstack.inspect.train import train_inspector

    cfg = load_config(InspectorTrainConfig, config, set_)
    console.print(f"training inspector on [bold]{cfg.train_file}[/] -> {cfg.output_dir}")
    metrics = train_inspector(cfg)
    split = "heldout" if "heldout" in metrics else "calibration_split"
    overall = metrics[split]["overall"]
    console.print_json(json.dumps({"split": split, "auroc": overall["auroc"],
                                   "ece": overall["ece"], **overall["at_threshold"],
                                   "heads": list(metrics["heads"]),
                                   "seconds": metrics["seconds"],
                                   "metrics": str(Path(cfg.output_dir) / "metrics.json")}))
