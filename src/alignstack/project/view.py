"""The build on a terminal: one rich progress view of the stages (a row each: waiting, running
with the progress inside it, skipped, done with one line of what it made, or failed), then the
summary table."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

MARKS = {"waiting": "[dim]·[/]", "running": "[yellow]▶[/]", "skipped": "[cyan]↷[/]",
         "done": "[green]✓[/]", "failed": "[bold red]✗[/]"}


class StageView:
    """A `Reporter` (project.stages) drawn as one rich Progress; use as a context manager."""

    def __init__(self, stages: list[str], console: Console):
        self.bar = Progress(TextColumn("{task.description}"),
                            BarColumn(bar_width=24), MofNCompleteColumn(), TimeElapsedColumn(),
                            TextColumn("{task.fields[detail]}"), console=console)
        self.rows = {name: self.bar.add_task(self._label(name, "waiting"), total=None,
                                             start=False, detail="") for name in stages}

    @staticmethod
    def _label(name: str, state: str) -> str:
        return f"{MARKS[state]} {name:<12}"

    def __enter__(self) -> "StageView":
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def stage(self, name: str, state: str, detail: str = "") -> None:
        row = self.rows[name]
        self.bar.start_task(row)          # a task never started never counts as finished
        if state == "running":
            self.bar.update(row, description=self._label(name, state), detail="")
            return
        self.bar.update(row, description=self._label(name, state), total=1, completed=1,
                        detail=f"{state}: {detail}" if detail else state)
        self.bar.stop_task(row)

    def progress(self, name: str, label: str, done: int, total: int | None) -> None:
        self.bar.update(self.rows[name], total=total, completed=done, detail=label)

    def log(self, message: str) -> None:
        self.bar.console.print(f"  {message}", highlight=False, style="dim")


def _pct(value: dict | None) -> str:
    if not value or value.get("rate") is None:
        return "—"
    lo, hi = value["ci95"]
    return f"{value['rate']:.0%} [{lo:.0%}, {hi:.0%}] n={value['n']}"


def summary_tables(summary: dict) -> list[Table]:
    """What each stage produced and measured; then the eval's headline metrics per system."""
    from alignstack.project.build import stage_line

    stages = Table(title="alignstack build" + ("" if summary["finished"] else ": stopped"))
    for column in ("stage", "status", "seconds", "produced and measured"):
        stages.add_column(column)
    for name, row in summary["stages"].items():
        info = row.get("info") or {}
        notes = [n for n in [info.get("note"), *info.get("notes", [])] if n]
        text = stage_line(name, info) + "".join(f"\n[dim]{n}[/]" for n in notes)
        seconds = "" if row.get("seconds") is None else f"{row['seconds']:.1f}"
        if seconds and row["status"] == "skipped":
            seconds = f"[dim]({seconds})[/]"         # what it took when it ran
        stages.add_row(name, row["status"], seconds, text)
    if summary.get("failed"):
        stages.add_row(summary["failed"]["stage"], "[bold red]failed[/]", "",
                       summary["failed"]["error"].splitlines()[0][:300])
    tables = [stages]
    evaluation = summary["stages"].get("eval", {}).get("info")
    if evaluation:
        metrics = sorted({m for v in evaluation["systems"].values() for m in v})
        table = Table(title=f"eval: {evaluation['n_items']} prompts, dev split (95 % CI); "
                            f"report: {evaluation['report']}")
        table.add_column("metric")
        for system in evaluation["systems"]:
            table.add_column(system)
        for metric in metrics:
            table.add_row(metric, *[_pct(v.get(metric)) for v in evaluation["systems"].values()])
        tables.append(table)
    return tables
