"""`alignstack init DIR` (a project for your own principles) and `alignstack build DIR` (its
stages, synth to a serve config, resumable)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from alignstack.cli.common import SetOption, console, handle_errors


@handle_errors
def init(
    directory: Path = typer.Argument(..., help="The project directory to create."),
    name: Optional[str] = typer.Option(None, "--name", help="Your organisation's name."),
    principles: Optional[Path] = typer.Option(
        None, "--principles", help="Start from this principles file (else a commented template)."),
    teacher_url: Optional[str] = typer.Option(
        None, "--teacher-url", help="The teacher's OpenAI-compatible base URL (…/v1)."),
    teacher_model: Optional[str] = typer.Option(
        None, "--teacher-model", help="The model name the teacher's server serves."),
    force: bool = typer.Option(False, "--force", help="Write into a non-empty directory."),
) -> None:
    """Scaffold a project: principles.yaml and the configs that build and serve it."""
    from alignstack.project.scaffold import init_project

    files = init_project(directory, name=name, principles=principles, teacher_url=teacher_url,
                         teacher_model=teacher_model, force=force)
    for path in files:
        console.print(f"wrote {path}", highlight=False)
    if not teacher_url:
        console.print("[yellow]no teacher given[/]: synth.yaml uses the offline SmolLM2 as a "
                      "placeholder, far too weak to teach; point it at a strong model",
                      highlight=False)
    console.print(f"next: edit {directory / 'principles.yaml'}, then `alignstack build "
                  f"{directory}` ({directory / 'README.md'})", highlight=False)


@handle_errors
def build(
    directory: Path = typer.Argument(..., help="A project made by `alignstack init`."),
    set_: list[str] = SetOption,
) -> None:
    """Run the project's stages in order (synth, data, corrector, gates, eval, serve config),
    skipping those already done; a summary table and runs/build_summary.json at the end."""
    from alignstack.core.errors import AlignstackError
    from alignstack.project.build import STAGES, SUMMARY_FILE, build_project
    from alignstack.project.view import StageView, summary_tables

    try:
        with StageView(list(STAGES), console) as view:
            summary = build_project(directory, set_, reporter=view)
    except AlignstackError as exc:
        if getattr(exc, "build_summary", None):      # where this build stopped, then the error
            for table in summary_tables(exc.build_summary):
                console.print(table)
        raise
    for table in summary_tables(summary):
        console.print(table)
    console.print(f"summary: {directory / SUMMARY_FILE}", highlight=False)
    for command in summary["next"]:
        console.print(f"next: {command}", highlight=False)
