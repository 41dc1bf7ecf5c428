"""`alignstack generate`: answer a JSONL of questions with any backend (resumable)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from alignstack.cli.common import console, handle_errors, progress


@handle_errors
def generate(
    input: Path = typer.Option(..., "--input", "-i", help="JSONL with a question field."),
    output: Path = typer.Option(..., "--output", "-o", help="JSONL log of answers (resumable)."),
    model: str = typer.Option("smollm2", help="Model: built-in name, path, .gguf or hub id."),
    backend: str = typer.Option("transformers", help="transformers | openai"),
    base_url: Optional[str] = typer.Option(None, help="For --backend openai."),
    system_prompt: Optional[str] = typer.Option(None, help="Optional system message."),
    max_new_tokens: int = typer.Option(96),
    temperature: float = typer.Option(0.0),
    batch_size: int = typer.Option(8),
) -> None:
    """Answer questions; re-running after an interruption continues where it stopped."""
    from alignstack.backends.base import GenParams, open_backend
    from alignstack.core.records import Question, read_jsonl
    from alignstack.correct.stack import Stack, answer_resumable

    rows = [q.model_dump(exclude_none=True) for q in read_jsonl(input, Question)]
    stack = Stack(open_backend(backend, model, base_url=base_url, batch_size=batch_size),
                  system_prompt=system_prompt,
                  params=GenParams(max_new_tokens=max_new_tokens, temperature=temperature))
    with progress() as bar:
        task = bar.add_task("answering", total=len(rows))
        done = answer_resumable(stack, rows, output, chunk=batch_size,
                                on_progress=lambda n: bar.advance(task, n))
    console.print(f"{len(done)} answers in {output}")
    console.print_json(json.dumps({"answers": len(done)}))
