"""`alignstack export` and `alignstack quantize`: GGUF files for llama.cpp / Ollama, and what each
one costs in quality and buys in speed."""

from __future__ import annotations

from pathlib import Path

import typer

from alignstack.cli.common import console, handle_errors

TYPES_HELP = "GGUF type, repeatable: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1."


def _run(source: str, out: Path, types: list[str], lora: bool, measure: bool, eval_file: str,
         items: int) -> dict:
    from alignstack.core.records import write_json
    from alignstack.quantize.artefacts import quantize as run

    out.mkdir(parents=True, exist_ok=True)
    report = run(source, out, types, eval_file=eval_file, items=items, lora=lora,
                 measure=measure, log=lambda m: console.print(m, highlight=False))
    write_json(out / ("quantize.json" if measure else "export.json"), report)
    for art in report["artefacts"]:
        extra = ""
        if art["tokens_per_second"] is not None:
            extra = f", {art['tokens_per_second']} tok/s"
        if art["perplexity_delta"] is not None:
            extra += f", perplexity {art['perplexity']} ({100 * art['perplexity_delta']:+.1f}%)"
        console.print(f"{art['path']}: {art['bytes'] / 2**20:.1f} MiB{extra}", highlight=False)
    return report


@handle_errors
def export(
    source: str = typer.Argument(..., help="A `train corrector` directory or a model spec."),
    out: Path = typer.Option(Path("runs/export"), "--out", "-o", help="Output directory."),
    type_: list[str] = typer.Option(["f16"], "--type", "-t", help=TYPES_HELP),
    lora: bool = typer.Option(True, help="Also write a corrector's adapter as GGUF LoRA."),
) -> None:
    """Write GGUF files (merged weights; a corrector's adapter as GGUF LoRA)."""
    _run(source, out, type_, lora, False, "", 0)


@handle_errors
def quantize(
    source: str = typer.Argument(..., help="A `train corrector` directory or a model spec."),
    out: Path = typer.Option(Path("runs/quantize"), "--out", "-o", help="Output directory."),
    type_: list[str] = typer.Option(["q8_0", "q4_1"], "--type", "-t", help=TYPES_HELP),
    lora: bool = typer.Option(True, help="Also write and time a corrector's GGUF LoRA."),
    eval_file: str = typer.Option("examples/newsroom/data/heldout.jsonl",
                                  help="Held-out Q-A-C records scoring the quality delta."),
    items: int = typer.Option(48, help="Held-out completions scored."),
) -> None:
    """Export to GGUF types and report size, llama.cpp tokens/s and perplexity delta."""
    _run(source, out, type_, lora, True, eval_file, items)
