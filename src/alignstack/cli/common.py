"""What every command shares: the console, error printing, config loading with overrides."""

from __future__ import annotations

import functools
import os
import sys
from typing import Callable, TypeVar

import typer
from rich.console import Console

from alignstack.core.errors import AlignstackError

console = Console(stderr=True)
F = TypeVar("F", bound=Callable)


def quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def handle_errors(func: F) -> F:
    """Print alignstack errors as one line (a traceback only with --debug) and exit 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except AlignstackError as exc:
            if os.environ.get("ALIGNSTACK_DEBUG"):
                raise
            console.print(f"[bold red]error:[/] {exc}", highlight=False)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def progress():
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console)


ConfigOption = typer.Option(None, "--config", "-c", help="YAML file whose keys are the config fields.")
SetOption = typer.Option([], "--set", "-s", help="Override a config field: --set key=value (repeat).")
