"""Run a flow's generation on Ray Data: the same stages, logs and resume as the local executor;
only the batches of a round are farmed out with `ray.data.from_items(...).map_batches(...)`.

Each batch runs the task's `format_input` -> backend `generate` -> `format_output` inside an
actor (`_TaskBatch`) that loads its backend once; the driver appends results to the stage's
append-only log as they stream back, so a killed Ray job resumes exactly like a local one.

Pointing it at a cluster and a strong teacher:

    ray start --head                       # on the head node; `ray start --address=...` on workers
    alignstack synth --config flow.yaml --executor ray --ray-address ray://head:10001 \
        --concurrency 8

    # flow.yaml: a vLLM (or any OpenAI-compatible) server as the teacher
    backends:
      teacher: {kind: openai, model: Qwen/Qwen2.5-72B-Instruct,
                base_url: http://vllm-host:8000/v1, concurrency: 16}

In Python: `RayExecutor(address="ray://head:10001", concurrency=8)` calls
`ray.init(address=...)`; without an address a local Ray instance starts (`num_cpus` caps it).
With a transformers backend every actor loads its own copy of the model; with an openai backend
the actors are thin HTTP clients and the GPU work happens on the vLLM server.
"""

from __future__ import annotations

import json
from typing import Iterator

from alignstack.synth.flow import Flow, TaskSpec


class _TaskBatch:
    """Ray actor body: built once per actor, called once per batch."""

    def __init__(self, flow_json: str, spec_json: str, backend_json: str | None):
        from alignstack.backends.base import load_backend
        from alignstack.synth.flow import BackendSpec, Flow, TaskSpec
        from alignstack.synth.pipeline import build_task, gen_params

        flow = Flow.model_validate_json(flow_json)
        spec = TaskSpec.model_validate_json(spec_json)
        self.task = build_task(flow, spec)
        self.params = gen_params(spec)
        self.backend = None
        if backend_json is not None:
            backend = BackendSpec.model_validate_json(backend_json)
            self.backend = load_backend(backend.kind, **backend.options())

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        from alignstack.synth.pipeline import generate_rows

        items = [json.loads(s) for s in batch["item"]]
        rows = generate_rows(self.task, self.backend, items, self.params)
        return {"row": np.array([json.dumps(r, ensure_ascii=False) for r in rows], dtype=object)}


class RayExecutor:
    """`Executor` over Ray Data; `address=None` starts (or joins) a local Ray instance."""

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None,
                 concurrency: int = 1):
        import ray

        if not ray.is_initialized():
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                         configure_logging=False)
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        self.concurrency = concurrency

    def map(self, flow: Flow, spec: TaskSpec, items: list[dict]) -> Iterator[dict]:
        import ray

        from alignstack.synth.pipeline import build_task

        task = build_task(flow, spec)
        needs = any(task.format_input(item) is not None for item in items)
        backend_json = flow.backends[spec.backend].model_dump_json() if needs else None
        flow_json = flow.model_dump_json(exclude={"path", "constitution"})
        dataset = ray.data.from_items([{"item": json.dumps(item)} for item in items])
        results = dataset.map_batches(
            _TaskBatch, fn_constructor_args=(flow_json, spec.model_dump_json(), backend_json),
            batch_size=spec.batch_size, concurrency=self.concurrency, num_cpus=1)
        for row in results.iter_rows():
            yield json.loads(row["row"])

    @staticmethod
    def shutdown() -> None:
        import ray

        ray.shutdown()
