"""`alignstack eval --executor ray`: the same answering step on Ray Data.

Each Ray actor builds the system's `Stack` once (the model loads once per actor) and answers
batches; the driver streams rows back into the same append-only answer log the local executor
writes, so a run can switch executors and still resume.

On a cluster: start Ray there (`ray start --head`, workers with `ray start --address=...`) and set
`RAY_ADDRESS=ray://head:10001` (or `auto` on a cluster node) before `alignstack eval`; `ray.init()`
picks it up. For a GPU per actor set ALIGNSTACK_RAY_GPUS=1. An upstream served by vLLM is
`backend: openai` with `base_url:` pointing at vLLM's OpenAI-compatible server.
"""

from __future__ import annotations

import json
import os
from typing import Iterator

from alignstack.evaluate.config import EvalConfig, SystemSpec


class StackWorker:
    """A Ray Data callable class: builds the stack once, answers a batch of prompts per call."""

    def __init__(self, spec_json: str, cfg_json: str):
        from alignstack.evaluate.systems import build_stack

        self.spec = SystemSpec.model_validate_json(spec_json)
        self.stack = build_stack(self.spec, EvalConfig.model_validate_json(cfg_json), None)

    def __call__(self, batch: dict) -> dict:
        from alignstack.evaluate.runner import stack_row

        prompts = [str(p) for p in batch["prompt"]]
        results = self.stack.answer(prompts)
        rows = [stack_row(str(i), r) for i, r in zip(batch["id"], results)]
        return {"id": [r["id"] for r in rows], "row": [json.dumps(r) for r in rows]}


def ensure_ray() -> None:
    import ray

    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False, ignore_reinit_error=True,
                 num_cpus=None if os.environ.get("RAY_ADDRESS") else os.cpu_count())


def answer_with_ray(spec: SystemSpec, cfg: EvalConfig, todo: list[dict]) -> Iterator[dict]:
    import ray

    ensure_ray()
    ds = ray.data.from_items([{"id": i["id"], "prompt": i["prompt"]} for i in todo])
    answered = ds.map_batches(
        StackWorker, fn_constructor_kwargs={"spec_json": spec.model_dump_json(),
                                            "cfg_json": cfg.model_dump_json()},
        batch_size=cfg.batch_size, concurrency=int(os.environ.get("ALIGNSTACK_RAY_ACTORS", "1")),
        num_gpus=float(os.environ.get("ALIGNSTACK_RAY_GPUS", "0")), batch_format="numpy")
    for row in answered.iter_rows():
        yield json.loads(row["row"])
