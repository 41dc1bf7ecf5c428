"""`alignstack train corrector` (inspector and preference optimisation join this group later)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from alignstack.cli.common import ConfigOption, SetOption, console, handle_errors

app = typer.Typer(no_args_is_help=True, help="Train a corrector (and, later, inspectors).")


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
