"""`alignstack judges validate`: each judge's agreement and Cohen's kappa with hand labels, on the
labelled set's test half (never tuned on) and its tuning half."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from alignstack.cli.common import console, handle_errors

app = typer.Typer(no_args_is_help=True, help="Judges: validation against hand-labelled answers.")


@app.command("validate")
@handle_errors
def validate(labels: Optional[Path] = typer.Option(None, help="Labelled JSONL (default: the "
                                                                "shipped judge_labels.jsonl)."),
             output: Path = typer.Option(Path("runs/judges/validation.json"),
                                         help="Where the numbers go (JSON).")) -> None:
    """Agreement and kappa of every judge behind a headline metric."""
    from alignstack.core.records import write_json
    from alignstack.evaluate.judges.validation import LABELS_FILE, validate as run

    report = run(path=labels or LABELS_FILE)
    write_json(output, report)
    console.print(f"{report['n']} labelled answers ({report['by_split']})", highlight=False)
    for name, halves in report["judges"].items():
        test, tune = halves["test"], halves["tune"]
        if test.get("n"):
            console.print(f"[bold]{name}[/]: test n={test['n']} agreement {test['agreement']:.2f} "
                          f"kappa {test['kappa']:.2f} | tune n={tune.get('n', 0)} agreement "
                          f"{tune.get('agreement', 0):.2f}", highlight=False)
    console.print(f"wrote {output}")
