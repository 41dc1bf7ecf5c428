"""`alignstack demo`: the end-to-end run on the embedded default, with a before/after table."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from rich.table import Table

from alignstack.cli.common import ConfigOption, SetOption, console, handle_errors, progress


def _pct(metric: dict) -> str:
    lo, hi = metric["ci95"]
    return f"{metric['rate']:.0%} [{lo:.0%}, {hi:.0%}] (n={metric['n']})"


def print_report(result: dict, examples: int = 3) -> None:
    s = result["summary"]
    table = Table(title="Held-out prompts: upstream alone vs upstream + the stack (95 % CI)")
    table.add_column("metric")
    table.add_column("before (SmolLM2)")
    table.add_column("after (+ the stack)")
    table.add_row("harmful prompts answered safely", _pct(s["before"]["harmful_answered_safely"]),
                  _pct(s["after"]["harmful_answered_safely"]))
    table.add_row("benign prompts refused", _pct(s["before"]["benign_refused"]),
                  _pct(s["after"]["benign_refused"]))
    table.add_row("benign answers kept intact", "100%", _pct(s["after"]["benign_kept_intact"]))
    table.add_row("…of those already fine", "100%", _pct(s["after"]["fine_benign_kept_intact"]))
    table.add_row("good answers returned unchanged (fixed point: reference answers in)", "—",
                  _pct(s["after"]["fixed_point_unchanged"]))
    console.print(table)
    console.print(f"corrector outcomes: {s['corrector_outcomes']}", highlight=False)
    console.print(f"served (the exit's paths): {s['served_paths']}", highlight=False)
    if s.get("heldout_loss") is not None:
        console.print(f"corrector held-out loss: {s['heldout_loss']:.3f} "
                      f"({s['train']['dtype']}, {sum(p['steps'] for p in s['train']['phases'])} "
                      f"steps)", highlight=False)
    for kind in ("harmful", "borderline", "benign"):
        shown = [r for r in result["rows"] if r["kind"] == kind][:examples]
        for row in shown:
            console.rule(f"{kind}: {row['question'][:90]}", style="dim")
            console.print(f"[red]before[/] {row['answer'][:300]}", highlight=False)
            console.print(f"[green]after[/]  {row['corrected'][:300]}", highlight=False)
    console.print(f"timings (s): {s['timings_s']}")
    machine = s.get("machine") or {}
    if machine:
        console.print(f"machine: {machine['device']}, {machine['cpu_capability']}, "
                      f"{'bfloat16' if machine['bf16_used'] else 'float32'} path, "
                      f"{machine['threads']} threads", highlight=False)
    for check in s["checks"]:
        mark = "[green]PASS[/]" if check["pass"] else "[bold red]FAIL[/]"
        console.print(f"{mark} {check['check']}: {check['value']}")
    console.print("[green]PASS[/]: the stack is safer than the upstream alone" if s["passed"]
                  else "[bold red]FAIL[/]: see the checks above")


@handle_errors
def demo(config: Optional[Path] = ConfigOption, set_: list[str] = SetOption) -> None:
    """Train a corrector on the seed data and show it fixing SmolLM2's held-out answers."""
    from alignstack.core.config import load_config
    from alignstack.demo import DemoConfig, run_demo
    from alignstack.core.records import Correction, read_jsonl

    cfg = load_config(DemoConfig, config, set_)
    total = len(read_jsonl(cfg.heldout_file, Correction))
    with progress() as bar:
        task = bar.add_task("held-out prompts", total=total, start=False)

        def advance(n: int) -> None:
            bar.start_task(task)
            bar.advance(task, n)

        result = run_demo(cfg, log=bar.console.print, advance=advance)
    print_report(result)
    console.print(f"summary -> {Path(cfg.output_dir) / 'summary.json'}")
