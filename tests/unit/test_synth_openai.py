"""The flow against a real OpenAI-compatible server on loopback (serve.app over the tiny model,
uvicorn in a thread), through the official openai client: no mock."""

import json
from pathlib import Path

import pytest

from alignstack.core.records import Correction, read_jsonl
from alignstack.synth.flow import load_flow
from alignstack.synth.pipeline import run_flow, stage_paths

from conftest import serving

PRINCIPLES = Path(__file__).resolve().parents[2] / "examples" / "newsroom" / "principles.yaml"
SAMPLE = "temperature: 1.0, seed: 0"    # greedy on the random model emits only whitespace


@pytest.fixture(scope="module")
def server(tiny_model_dir):
    import torch

    from alignstack.backends.transformers_backend import TransformersGenerator
    from alignstack.serve.app import bare_app

    torch.set_num_threads(1)
    local = TransformersGenerator(tiny_model_dir, batch_size=1, dtype="float32")
    with serving(bare_app(local, "tiny-teacher")) as url:
        yield url


def flow_file(tmp_path, url, model="tiny-teacher"):
    path = tmp_path / "flow.yaml"
    path.write_text(f"""\
name: loopback
principles: {PRINCIPLES}
principle_ids: [harm, fairness]
output_dir: {tmp_path / "out"}
backends:
  teacher: {{kind: openai, model: {model}, base_url: "{url}/v1", concurrency: 2, max_retries: 0}}
tasks:
  - {{task: topics, samples: 2, params: {{max_new_tokens: 4, {SAMPLE}}}}}
  - {{task: questions, kinds_per_topic: 1, params: {{max_new_tokens: 6, {SAMPLE}}}}}
  - {{task: answers, params: {{max_new_tokens: 4, {SAMPLE}}}}}
  - {{task: critique, params: {{max_new_tokens: 4, {SAMPLE}}}}}
  - {{task: revision, params: {{max_new_tokens: 4, {SAMPLE}}}}}
  - {{task: judge, params: {{max_new_tokens: 2, {SAMPLE}}}}}
select: {{embedding_dedup: false}}
""")
    return path


def test_flow_runs_against_a_loopback_openai_server(tmp_path, server):
    flow = load_flow(flow_file(tmp_path, server))
    summary = run_flow(flow)
    topics, questions, answers = summary["stages"][:3]
    assert topics["items"] == 4 and topics["generated"] == 4
    assert topics["prompt_tokens"] > 0 and topics["completion_tokens"] > 0   # from HTTP usage
    assert questions["items"] == topics["kept"] > 0
    assert answers["items"] == questions["kept"]
    assert summary["source"] == "synth:loopback:tiny-teacher"
    for path in stage_paths(flow):
        ids = [json.loads(line)["id"] for line in path.read_text().splitlines()]
        assert len(ids) == len(set(ids))
    records = read_jsonl(Path(flow.output_dir) / "qac.jsonl", Correction)
    assert len(records) == summary["outputs"]["qac"]
    assert all(r.source == "synth:loopback:tiny-teacher" for r in records)


def test_unknown_served_model_is_a_backend_error(tmp_path, server):
    from alignstack.core.errors import BackendError

    flow = load_flow(flow_file(tmp_path, server, model="not-served"))
    with pytest.raises(BackendError, match="not-served"):
        run_flow(flow)
