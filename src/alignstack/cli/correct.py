"""`alignstack correct`: run a trained corrector over a JSONL of question/answer pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from alignstack.cli.common import console, handle_errors, progress


@handle_errors
def correct(
    input: Path = typer.Option(..., "--input", "-i", help="JSONL with question and answer fields."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write corrected JSONL."),
    corrector: str = typer.Option(..., "--corrector", help="Trained corrector dir or a model."),
    template: Optional[str] = typer.Option(None, help="Override the prompt template."),
    principles: Optional[Path] = typer.Option(None, help="Principles YAML."),
    batch_size: int = typer.Option(8, help="Items per generation batch."),
    max_new_tokens: int = typer.Option(160, help="Upper bound on correction length."),
) -> None:
    """Correct answers; writes question, answer, corrected, changed per line (atomic write)."""
    from alignstack.core.records import QA, read_jsonl, write_jsonl
    from alignstack.correct.corrector import Corrector

    items = read_jsonl(input, QA)
    model = Corrector.load(corrector, template=template,
                           principles_file=str(principles) if principles else None,
                           batch_size=batch_size, max_new_tokens=max_new_tokens)
    results = []
    with progress() as bar:
        task = bar.add_task("correcting", total=len(items))
        for start in range(0, len(items), batch_size):
            results += model.correct(items[start:start + batch_size])
            bar.advance(task, len(items[start:start + batch_size]))
    write_jsonl(output, results)
    changed = sum(r.changed for r in results)
    outcomes = {k: v for k, v in model.stats.items() if v and k != "items"}
    console.print(f"{len(results)} corrected -> {output} ({changed} changed; {outcomes})",
                  highlight=False)
