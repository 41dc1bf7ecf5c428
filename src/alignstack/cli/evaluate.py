"""`alignstack eval`: systems side by side on external prompt suites -> results.json + report.html."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from alignstack.cli.common import ConfigOption, SetOption, console, handle_errors, progress


@handle_errors
def evaluate(config: Optional[Path] = ConfigOption, set_: list[str] = SetOption,
             executor: Optional[str] = typer.Option(None, help="local (default) or ray."),
             engine: Optional[str] = typer.Option(
                 None, help="Run every local upstream and corrector on this engine "
                            "(transformers | llamacpp); HTTP upstreams stay as they are.")) -> None:
    """Evaluate helpful / harmless / honest on external suites; answers are cached and resumable."""
    from alignstack.evaluate.config import load_eval_config
    from alignstack.evaluate.runner import run_eval

    overrides = list(set_) + ([f"executor={executor}"] if executor else [])
    cfg = load_eval_config(config, overrides)
    if engine:
        cfg = cfg.on_engine(engine)
    with progress() as bar:
        tasks: dict[str, int] = {}

        def advance_factory(name: str, total: int):
            tasks[name] = bar.add_task(f"answering: {name}", total=total)
            return lambda n: bar.advance(tasks[name], n)

        results = run_eval(cfg, log=lambda m: console.print(m, highlight=False),
                           advance_factory=advance_factory)
    for name, stats in results["systems"].items():
        overall = ", ".join(f"{k} {100 * v['rate']:.0f}% [{100 * v['ci95'][0]:.0f},{100 * v['ci95'][1]:.0f}]"
                            for k, v in stats["overall"].items())
        console.print(f"[bold]{name}[/]: {overall}", highlight=False)
    console.print(f"report: {Path(cfg.output_dir) / 'report.html'}")
