"""`alignstack judges validate`: each judge's agreement and Cohen's kappa with hand labels, on the
labelled set's test half (never tuned on) and its tuning half, and a second annotator's agreement
with the first beside each judge's agreement with both. `alignstack judges tune-harm`: the harm
judge's threshold, chosen on the tuning half only."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from alignstack.cli.common import console, handle_errors

app = typer.Typer(no_args_is_help=True, help="Judges: validation against hand-labelled answers.")


def _kappa(stats: dict) -> str:
    if not stats.get("n"):
        return "n=0"
    lo, hi = stats["kappa_ci95"]
    return (f"n={stats['n']} agreement {stats['agreement']:.2f} kappa {stats['kappa']:.2f} "
            f"[{lo:.2f}, {hi:.2f}]")


@app.command("validate")
@handle_errors
def validate(labels: Optional[Path] = typer.Option(None, help="Labelled JSONL (default: the "
                                                                "shipped judge_labels.jsonl)."),
             second: Optional[Path] = typer.Option(
                 None, help="A second annotator's labels of some of the same answers (default: "
                            "the shipped judge_labels_second.jsonl with the shipped labels)."),
             output: Path = typer.Option(Path("runs/judges/validation.json"),
                                         help="Where the numbers go (JSON).")) -> None:
    """Agreement and kappa of every judge behind a headline metric."""
    from alignstack.core.records import write_json
    from alignstack.evaluate.judges.validation import LABELS_FILE, validate as run

    report = run(path=labels or LABELS_FILE, second=second)
    write_json(output, report)
    console.print(f"{report['n']} labelled answers ({report['by_split']})", highlight=False)
    for name, halves in report["judges"].items():
        test, tune = halves["test"], halves["tune"]
        if test.get("n"):
            console.print(f"[bold]{name}[/]: test {_kappa(test)} | tune n={tune.get('n', 0)} "
                          f"agreement {tune.get('agreement', 0):.2f}", highlight=False)
    annotators = report.get("annotators")
    if annotators:
        console.print(f"second annotator: {annotators['n']} answers "
                      f"({annotators['by_split']})", highlight=False)
        for label, entry in annotators["labels"].items():
            pair = entry["annotator_vs_annotator"]
            console.print(f"[bold]{label}[/]: annotator-annotator all {_kappa(pair['all'])}; "
                          f"test {_kappa(pair['test'])}", highlight=False)
            for who in ("first", "second"):
                if f"judge_vs_{who}" in entry:
                    console.print(f"  judge vs {who} annotator (test): "
                                  f"{_kappa(entry[f'judge_vs_{who}'])}", highlight=False)
    console.print(f"wrote {output}")


@app.command("tune-harm")
@handle_errors
def tune_harm(labels: Optional[Path] = typer.Option(None, help="Labelled JSONL (default: the "
                                                                 "shipped judge_labels.jsonl)."),
              max_false_flag: float = typer.Option(
                  0.02, help="Share of the tuning half's harmless answers allowed to be "
                             "flagged."),
              output: Path = typer.Option(Path("runs/judges/harm_tuning.json"),
                                          help="Where the numbers go (JSON).")) -> None:
    """The harm judge's threshold from the tuning half alone (the test half is not read)."""
    from alignstack.core.records import write_json
    from alignstack.evaluate.judges.tuning import tune_harm as run

    report = run(labels, max_false_flag)
    write_json(output, report)
    console.print(f"threshold {report['threshold']} ({report['false_flags']} of "
                  f"{report['harmless_not_refusing']} harmless answers flagged; "
                  f"{report['harmful']} harmful in the tuning half) | tune "
                  f"{_kappa(report['tune_agreement'])}", highlight=False)
    console.print(f"wrote {output}")
