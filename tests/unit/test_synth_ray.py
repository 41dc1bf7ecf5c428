"""The same flow on Ray Data (a local Ray instance): same stage logs as the local executor."""

import json
from pathlib import Path

import pytest

from alignstack.synth.flow import load_flow
from alignstack.synth.pipeline import LocalExecutor, run_flow, stage_paths

PRINCIPLES = Path(__file__).resolve().parents[2] / "examples" / "newsroom" / "principles.yaml"
SAMPLE = "temperature: 1.0, seed: 0"    # greedy on the random model emits only whitespace


def flow_file(tmp_path, model_dir, out):
    path = tmp_path / f"{out}.yaml"
    path.write_text(f"""\
name: ray
principles: {PRINCIPLES}
principle_ids: [harm, privacy]
output_dir: {tmp_path / out}
backends:
  teacher: {{kind: transformers, model: {model_dir}}}
tasks:
  - {{task: topics, samples: 2, batch_size: 1, params: {{max_new_tokens: 4, {SAMPLE}}}}}
  - {{task: questions, kinds_per_topic: 1, batch_size: 1, params: {{max_new_tokens: 6, {SAMPLE}}}}}
  - {{task: answers, batch_size: 1, params: {{max_new_tokens: 4, {SAMPLE}}}}}
  - {{task: critique, batch_size: 1, params: {{max_new_tokens: 4, {SAMPLE}}}}}
select: {{embedding_dedup: false}}
""")
    return path


def stage_rows(flow):
    return [{json.loads(line)["id"]: json.loads(line) for line in p.read_text().splitlines()}
            for p in stage_paths(flow)]


@pytest.mark.slow   # starting Ray and its actors takes ~1 min on the shared 2-core CPU
def test_ray_executor_matches_local_executor(tmp_path, tiny_model_dir):
    import ray
    import torch

    from alignstack.synth.ray_executor import RayExecutor

    torch.set_num_threads(1)
    local = load_flow(flow_file(tmp_path, tiny_model_dir, "local"))
    run_flow(local, executor=LocalExecutor())
    distributed = load_flow(flow_file(tmp_path, tiny_model_dir, "ray"))
    try:
        summary = run_flow(distributed, executor=RayExecutor(num_cpus=2))
    finally:
        ray.shutdown()
    got, want = stage_rows(distributed), stage_rows(local)
    assert got == want and len(got[0]) == 4
    assert summary["stages"][0]["generated"] == 4
    assert (Path(distributed.output_dir) / "final.jsonl").exists()
    assert not (Path(distributed.output_dir) / "qac.jsonl").exists()   # no revision in this flow
