"""`alignstack stack`: answer a JSONL of questions end to end — upstream, optional best-of-N,
inspector gate, corrector or squad — resumable, with a summary JSON beside the output."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Optional

import typer

from alignstack.cli.common import console, handle_errors, progress


def heldout_recall(inspector, threshold: float) -> dict | None:
    """The inspector's held-out precision/recall at `threshold` (exact at its own threshold,
    else the nearest row of its threshold table)."""
    heldout = getattr(inspector, "info", {}).get("heldout_overall")
    if not heldout:
        return None
    if abs(threshold - heldout["at_threshold"]["threshold"]) < 1e-9:
        return heldout["at_threshold"]
    return min(heldout["threshold_table"], key=lambda r: abs(r["threshold"] - threshold))


@handle_errors
def stack(
    input: Path = typer.Option(..., "--input", "-i", help="JSONL with a question field."),
    output: Path = typer.Option(..., "--output", "-o", help="JSONL log of results (resumable)."),
    stack_file: Optional[Path] = typer.Option(None, "--stack", help="The stack file (upstream, "
                                              "corrector, gates, thresholds, refuse_flagged; "
                                              "e.g. examples/newsroom/stack.yaml); the flags "
                                              "below override its fields."),
    upstream: Optional[str] = typer.Option(None, help="Upstream model: built-in name, path or "
                                                      "hub id (default smollm2)."),
    backend: Optional[str] = typer.Option(None, help="Upstream engine: transformers | llamacpp "
                                                     "| openai | vllm"),
    engine: Optional[str] = typer.Option(None, help="Corrector engine: transformers | llamacpp "
                                                    "(with --backend llamacpp and the "
                                                    "corrector's base as upstream, they share "
                                                    "one base)."),
    base_url: Optional[str] = typer.Option(None, help="For --backend openai."),
    corrector: Optional[str] = typer.Option(None, help="Trained corrector dir or a model."),
    squad: Optional[Path] = typer.Option(None, help="Squad YAML (members with corrector, "
                                                    "inspector, head); instead of --corrector."),
    inspector: Optional[str] = typer.Option(None, help="Inspector dir: gates the corrector."),
    request_gate: Optional[str] = typer.Option(None, help="Request classifier dir (`train "
                                                          "inspector` with inputs: question): "
                                                          "constrains a verdict corrector."),
    answer_gate: Optional[list[str]] = typer.Option(None, help="Answer inspector dir: decides "
                                                              "whether a verdict corrector "
                                                              "changes an answer (repeat: all "
                                                              "must flag)."),
    refuse_flagged: Optional[bool] = typer.Option(None, "--refuse-flagged/--no-refuse-flagged",
                                                  help="A request the request gate flags is "
                                                       "refused even when the answer gate "
                                                       "passes its answer."),
    rewrite_failed: Optional[str] = typer.Option(None, help="What a rewrite that fails its "
                                                            "checks serves: auto | refuse | "
                                                            "original."),
    verify_rewrites: Optional[str] = typer.Option(None, help="Which rewrites the upstream, as "
                                                            "judge, must prefer to the original: "
                                                            "all | passed | off."),
    threshold: Optional[float] = typer.Option(None, help="Gate threshold (default: the "
                                                         "inspector's chosen one)."),
    best_of_n: Optional[int] = typer.Option(None, "--best-of-n", help="Sample N, keep the "
                                                                       "inspector's best."),
    best_of: str = typer.Option("answers", help="What best-of-N samples: answers | corrections."),
    temperature: float = typer.Option(0.0, help="Upstream temperature (best-of-N: 0.7 if 0)."),
    system_prompt: Optional[str] = typer.Option(None, help="Optional system message "
                                                           "('principles': the constitution)."),
    principles_file: str = typer.Option("examples/newsroom/principles.yaml",
                                        help="The principles served (refusal texts; "
                                             "--system-prompt principles)."),
    max_new_tokens: int = typer.Option(96),
    batch_size: int = typer.Option(8),
) -> None:
    """Answer questions through the stack; re-running after an interruption continues."""
    from alignstack.core.errors import ConfigError
    from alignstack.core.records import Question, read_jsonl, write_json
    from alignstack.correct.assemble import build_stack, load_stack_spec
    from alignstack.correct.stack import answer_resumable

    flags = {"upstream": upstream, "backend": backend, "base_url": base_url,
             "system_prompt": system_prompt, "corrector": corrector, "corrector_engine": engine,
             "squad": str(squad) if squad else None, "inspector": inspector,
             "threshold": threshold, "request_gate": request_gate,
             "answer_gate": (answer_gate[0] if len(answer_gate) == 1 else answer_gate)
             if answer_gate else None, "refuse_flagged": refuse_flagged,
             "rewrite_failed": rewrite_failed, "verify_rewrites": verify_rewrites,
             "best_of_n": best_of_n}
    spec = load_stack_spec(stack_file, {k: v for k, v in flags.items() if v is not None})
    if spec.corrector and spec.squad:
        raise ConfigError("give a corrector or a squad, not both", field="squad")
    if (spec.request_gate or spec.answer_gate) and not spec.corrector:
        raise ConfigError("a request gate / answer gate steers a verdict corrector: give "
                          "--corrector", field="request_gate")
    rows = [q.model_dump(exclude_none=True) for q in read_jsonl(input, Question)]
    pipeline = build_stack(spec, principles_file=principles_file, max_new_tokens=max_new_tokens,
                           batch_size=batch_size, temperature=temperature, best_of=best_of)
    gate = pipeline.inspector
    with progress() as bar:
        task = bar.add_task("answering", total=len(rows))
        done = answer_resumable(pipeline, rows, output, chunk=batch_size,
                                on_progress=lambda n: bar.advance(task, n))
    summary: dict = {"answers": len(done), "corrected": sum(bool(r["corrected"]) for r in done),
                     "served_paths": dict(Counter(r.get("path", "kept") for r in done)),
                     "best_of_n": spec.best_of_n, "best_of": best_of, "output": str(output)}
    if gate is not None:
        skipped = sum(bool(r.get("skipped")) for r in done)
        summary.update({"threshold": pipeline.gate, "skipped": skipped,
                        "skipped_share": round(skipped / max(len(done), 1), 4),
                        "inspector_heldout_at_threshold": heldout_recall(gate, pipeline.gate)})
    write_json(output.with_name(output.name + ".summary.json"), summary)
    console.print(f"{len(done)} answers in {output}")
    console.print_json(json.dumps(summary))
