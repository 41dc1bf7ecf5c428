"""Run a flow: stage by stage, each stage an append-only JSONL log keyed by a content hash, so a
run killed at any moment resumes with nothing lost and nothing duplicated.

Within a stage, work items run in rounds: round r is asked to steer away from the outputs of
rounds < r in the same group (negatively-correlated sampling), and a round's prompts only read
rounds that are already complete, so a resumed run builds exactly the prompts an uninterrupted
one would. Parse failures and judge rejections are logged too (``ok`` / ``kept``), so they are
counted once and never retried.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

from alignstack.backends.base import Generator, GenParams
from alignstack.core.errors import ConfigError
from alignstack.core.records import AppendOnlyLog, content_id, write_json
from alignstack.synth.flow import Flow, TaskSpec
from alignstack.synth.tasks import TASKS
from alignstack.synth.tasks.base import Task

Progress = Callable[[str, int, int], None]       # (stage, done, total)


def build_task(flow: Flow, spec: TaskSpec) -> Task:
    documents = [d.model_dump() for d in flow.grounding]
    return TASKS.get(spec.task)(spec, {"documents": documents})


def gen_params(spec: TaskSpec) -> GenParams:
    p = spec.params
    return GenParams(max_new_tokens=p.max_new_tokens, temperature=p.temperature, top_p=p.top_p,
                     seed=p.seed)


def generate_rows(task: Task, backend: Generator | None, items: list[dict],
                  params: GenParams) -> list[dict]:
    """Format, generate and parse one batch of work items; the same code runs locally and
    inside Ray's batch function. A parser exception counts as a parse failure."""
    rows: list[dict | None] = [None] * len(items)
    prompts, where = [], []
    for i, item in enumerate(items):
        messages = task.format_input(item)
        if messages is None:
            rows[i] = _row(item, task.passthrough(item), generated=False)
        else:
            prompts.append(messages)
            where.append(i)
    if prompts:
        assert backend is not None, "a backend is needed for items that generate"
        completions = backend.generate(prompts, params)
        for i, completion in zip(where, completions):
            try:
                parsed = task.format_output(completion.text, items[i])
            except Exception:  # noqa: BLE001 - a tolerant parser: garbage in is counted, not fatal
                parsed = None
            row = _row(items[i], parsed, generated=True)
            row["prompt_tokens"] = completion.prompt_tokens
            row["completion_tokens"] = completion.completion_tokens
            if parsed is None:
                row["raw"] = completion.text[:300]
            rows[i] = row
    for row in rows:
        assert row is not None
        row["kept"] = bool(row["ok"]) and task.keep(row)
    return rows  # type: ignore[return-value]


def _row(item: dict, parsed: dict | None, *, generated: bool) -> dict:
    row = {k: v for k, v in item.items() if k != "avoid"}
    row.update(parsed or {})
    row["ok"] = parsed is not None
    row["generated"] = generated
    return row


class Executor(Protocol):
    def map(self, flow: Flow, spec: TaskSpec, items: list[dict]) -> Iterator[dict]: ...


class LocalExecutor:
    """Generate in-process, batch by batch, one backend instance per flow backend name."""

    def __init__(self) -> None:
        self.backends: dict[str, Generator] = {}

    def backend(self, flow: Flow, name: str) -> Generator:
        if name not in self.backends:
            from alignstack.backends.base import load_backend

            spec = flow.backends[name]
            self.backends[name] = load_backend(spec.kind, **spec.options())
        return self.backends[name]

    def map(self, flow: Flow, spec: TaskSpec, items: list[dict]) -> Iterator[dict]:
        task = build_task(flow, spec)
        params = gen_params(spec)
        for start in range(0, len(items), spec.batch_size):
            batch = items[start:start + spec.batch_size]
            needs = any(task.format_input(item) is not None for item in batch)
            backend = self.backend(flow, spec.backend) if needs else None
            yield from generate_rows(task, backend, batch, params)


def principle_rows(flow: Flow) -> list[dict]:
    assert flow.constitution is not None
    return [{"id": content_id("principle", p.id), "principle": p.id, "principle_title": p.title,
             "principle_text": p.text, "principles": [p.id]}
            for p in flow.constitution.select(flow.principle_ids)]


def stage_paths(flow: Flow) -> list[Path]:
    out = Path(flow.output_dir) / "stages"
    return [out / f"{i + 1:02d}-{spec.task}.jsonl" for i, spec in enumerate(flow.tasks)]


def run_stage(flow: Flow, index: int, rows: list[dict], executor: Executor,
              on_progress: Progress | None = None) -> tuple[list[dict], dict]:
    """Run one task over `rows`; returns the kept rows (in plan order) and the stage's stats."""
    spec = flow.tasks[index]
    task = build_task(flow, spec)
    items = task.expand(rows)
    label = f"{index + 1}/{len(flow.tasks)} {spec.task}"
    started = time.perf_counter()
    with AppendOnlyLog(stage_paths(flow)[index]) as log:
        done = sum(1 for item in items if item["id"] in log)
        if on_progress:
            on_progress(label, done, len(items))
        by_round: dict[int, list[dict]] = defaultdict(list)
        for item in items:
            by_round[item["round"]].append(item)
        for number in sorted(by_round):
            todo = [item for item in by_round[number] if item["id"] not in log]
            if not todo:
                continue
            if task.avoid_field:
                _add_avoid(todo, log.rows.values(), task.avoid_field)
            for row in executor.map(flow, spec, todo):
                log.append(row)
                done += 1
                if on_progress:
                    on_progress(label, done, len(items))
        stage_rows = [log.rows[item["id"]] for item in items]
    return [r for r in stage_rows if r["kept"]], _stats(spec, stage_rows, started)


def _add_avoid(todo: list[dict], logged: Iterable[dict], field: str) -> None:
    """Earlier rounds' outputs in the same group, for the template to steer away from."""
    earlier: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for row in logged:
        if row.get("ok") and field in row:
            earlier[row["group"]].append((row["round"], row[field]))
    for item in todo:
        item["avoid"] = [text for rnd, text in sorted(earlier[item["group"]])
                         if rnd < item["round"]]


def _stats(spec: TaskSpec, rows: list[dict], started: float) -> dict:
    generated = [r for r in rows if r["generated"]]
    failures = sum(1 for r in generated if not r["ok"])
    kept = sum(1 for r in rows if r["kept"])
    return {"task": spec.task, "backend": spec.backend, "items": len(rows),
            "generated": len(generated), "passthrough": len(rows) - len(generated),
            "parse_failures": failures,
            "filtered": sum(1 for r in rows if r["ok"] and not r["kept"]), "kept": kept,
            "yield": round(kept / len(rows), 4) if rows else 0.0,
            "parse_rate": round(1 - failures / len(generated), 4) if generated else 1.0,
            "prompt_tokens": sum(r.get("prompt_tokens", 0) for r in generated),
            "completion_tokens": sum(r.get("completion_tokens", 0) for r in generated),
            "seconds_this_run": round(time.perf_counter() - started, 2)}


def run_flow(flow: Flow, *, executor: Executor | None = None, resume: bool = False,
             on_progress: Progress | None = None) -> dict:
    """Run every stage, then select and export; returns (and writes) the stats JSON."""
    from alignstack.synth.export import export_all
    from alignstack.synth.select import select_rows

    paths = stage_paths(flow)
    if not resume and any(p.exists() and p.stat().st_size for p in paths):
        raise ConfigError(f"{Path(flow.output_dir)} already holds a run: pass --resume to "
                          "continue it, or choose another output_dir", path=flow.path,
                          field="output_dir")
    executor = executor or LocalExecutor()
    started = time.perf_counter()
    rows = principle_rows(flow)
    stages = []
    for index in range(len(flow.tasks)):
        rows, stats = run_stage(flow, index, rows, executor, on_progress)
        stages.append(stats)
    selected, selection = select_rows(rows, flow.select)
    outputs = export_all(flow, selected)
    summary = {"flow": flow.name, "source": source_tag(flow), "output_dir": str(flow.output_dir),
               "seconds": round(time.perf_counter() - started, 2), "stages": stages,
               "selection": selection, "outputs": outputs}
    write_json(Path(flow.output_dir) / "stats.json", summary)
    return summary


def source_tag(flow: Flow) -> str:
    """`synth:<flow>:<teacher model>`; the teacher is the backend that writes corrections."""
    teacher = next((s.backend for s in flow.tasks if s.task == "revision"), flow.tasks[-1].backend)
    return f"synth:{flow.name}:{flow.backends[teacher].model}"
