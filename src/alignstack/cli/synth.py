"""`alignstack synth`: run a principle-driven synthesis flow (resumable), then select and export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from alignstack.cli.common import console, handle_errors, progress


@handle_errors
def synth(
    config: Path = typer.Option(..., "--config", "-c", help="Flow YAML (tasks, backends, principles)."),
    output_dir: Optional[str] = typer.Option(None, help="Override the flow's output_dir."),
    resume: bool = typer.Option(False, "--resume", help="Continue a run in output_dir."),
    executor: str = typer.Option("local", help="local | ray"),
    ray_address: Optional[str] = typer.Option(None, help="ray.init(address=...); default: local Ray."),
    ray_cpus: Optional[int] = typer.Option(None, help="num_cpus for a local Ray instance."),
    concurrency: int = typer.Option(1, help="Ray actors per task."),
    threads: Optional[int] = typer.Option(
        None, help="torch CPU threads (1 is several times faster on a busy shared CPU)."),
) -> None:
    """Generate Q-A-C, preference and unpaired records from a flow; stats.json beside them."""
    from alignstack.core.errors import ConfigError
    from alignstack.synth.flow import load_flow
    from alignstack.synth.pipeline import LocalExecutor, run_flow

    flow = load_flow(config, output_dir=output_dir)
    if threads:
        from alignstack.backends.hardware import configure_torch

        configure_torch(threads)
    if executor == "local":
        runner = LocalExecutor()
    elif executor == "ray":
        from alignstack.synth.ray_executor import RayExecutor

        runner = RayExecutor(ray_address, num_cpus=ray_cpus, concurrency=concurrency)
    else:
        raise ConfigError(f"unknown executor '{executor}' (known: local, ray)", field="--executor")
    with progress() as bar:
        bars: dict[str, int] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in bars:
                bars[stage] = bar.add_task(stage, total=total)
            bar.update(bars[stage], completed=done, total=total)

        summary = run_flow(flow, executor=runner, resume=resume, on_progress=on_progress)
    for stage in summary["stages"]:
        console.print(f"{stage['task']:>10}: {stage['kept']}/{stage['items']} kept, "
                      f"{stage['parse_failures']} parse failures, {stage['filtered']} filtered, "
                      f"{stage['completion_tokens']} tokens out")
    console.print(f"selection: {summary['selection']}")
    console.print(f"wrote {summary['outputs']} to {flow.output_dir} in {summary['seconds']} s")
    console.print_json(json.dumps({"outputs": summary["outputs"], "seconds": summary["seconds"]}))
