"""`alignstack eval`: systems side by side on external prompt suites -> results.json + report.html.

It runs the suites' dev split. `--final` runs the sealed test split instead (under
`<output_dir>-final`) and appends one line to the ledger (results/ledger.jsonl): run it once per
decision already taken on dev, and commit the ledger line with the numbers you quote."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from alignstack.cli.common import ConfigOption, SetOption, console, handle_errors, progress


def _pct(v: dict) -> str:
    return f"{100 * v['rate']:.0f}% [{100 * v['ci95'][0]:.0f},{100 * v['ci95'][1]:.0f}]"


def _diff(v: dict) -> str:
    return f"{100 * v['diff']:+.0f} [{100 * v['ci95'][0]:+.0f},{100 * v['ci95'][1]:+.0f}]"


@handle_errors
def evaluate(config: Optional[Path] = ConfigOption, set_: list[str] = SetOption,
             executor: Optional[str] = typer.Option(None, help="local (default) or ray."),
             engine: Optional[str] = typer.Option(
                 None, help="Run every local upstream and corrector on this engine "
                            "(transformers | llamacpp); HTTP upstreams stay as they are."),
             final: bool = typer.Option(
                 False, "--final", help="Run the sealed test split (not dev) and append the "
                                        "numbers to the ledger (results/ledger.jsonl).")) -> None:
    """Evaluate helpful / harmless / honest on external suites (dev split; --final: the sealed
    test split, logged); answers are cached and resumable."""
    from alignstack.evaluate.config import load_eval_config
    from alignstack.evaluate.runner import run_eval

    overrides = list(set_) + ([f"executor={executor}"] if executor else [])
    cfg = load_eval_config(config, overrides)
    if engine:
        cfg = cfg.on_engine(engine)
    if final:
        console.print(f"[bold]final run[/]: the sealed test split; it will be logged in "
                      f"{cfg.ledger}", highlight=False)
    with progress() as bar:
        tasks: dict[str, int] = {}

        def advance_factory(name: str, total: int):
            tasks[name] = bar.add_task(f"answering: {name}", total=total)
            return lambda n: bar.advance(tasks[name], n)

        results = run_eval(cfg, log=lambda m: console.print(m, highlight=False),
                           advance_factory=advance_factory, final=final,
                           config_file=str(config) if config else None)
    for name, stats in results["systems"].items():
        overall = ", ".join(f"{k} {_pct(v)}" for k, v in stats["overall"].items())
        console.print(f"[bold]{name}[/]: {overall}", highlight=False)
    for name, diffs in results.get("against_baseline", {}).items():
        shown = ", ".join(f"{k} {_diff(v)}" for k, v in diffs["overall"].items())
        console.print(f"{name} - {results['config']['baseline']} (points, paired 95 % CI): "
                      f"{shown}", highlight=False)
    out = Path(f"{cfg.output_dir}-final" if final else cfg.output_dir)
    console.print(f"report: {out / 'report.html'}")
