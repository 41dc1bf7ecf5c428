"""The local pipeline end to end on the tiny random model: stage logs keyed by content hash,
stats, resume without duplicates, exports that validate as records."""

import json
import shutil
from pathlib import Path

import pytest

from alignstack.core.errors import ConfigError
from alignstack.core.records import Correction, Preference, UnpairedPreference, read_jsonl
from alignstack.core.preferences import to_preferences, to_unpaired
from alignstack.synth.flow import load_flow
from alignstack.synth.pipeline import LocalExecutor, run_flow, stage_paths

PRINCIPLES = Path(__file__).resolve().parents[2] / "examples" / "newsroom" / "principles.yaml"
# Greedy decoding on the random model emits only whitespace; seeded sampling with one prompt per
# batch gives varied tokens and is just as deterministic (the seed is reset for every batch).
SAMPLE = "temperature: 1.0, seed: 0"


def tiny_flow(tmp_path, model_dir, *, out="out", backend=None):
    backend = backend or f"{{kind: transformers, model: {model_dir}}}"
    text = f"""\
name: tiny
principles: {PRINCIPLES}
principle_ids: [harm, privacy]
output_dir: {tmp_path / out}
backends:
  teacher: {backend}
grounding:
  - {{id: d1, title: Flood, text: "Heavy rain closed three roads and the main bridge on Tuesday."}}
tasks:
  - {{task: topics, samples: 2, batch_size: 1, params: {{max_new_tokens: 4, {SAMPLE}}}}}
  - {{task: questions, kinds_per_topic: 1, batch_size: 1, params: {{max_new_tokens: 6, {SAMPLE}}}}}
  - {{task: answers, batch_size: 1, params: {{max_new_tokens: 4, {SAMPLE}}}}}
  - {{task: critique, batch_size: 1, params: {{max_new_tokens: 4, {SAMPLE}}}}}
  - {{task: revision, batch_size: 1, params: {{max_new_tokens: 4, {SAMPLE}}}}}
  - {{task: judge, batch_size: 1, params: {{max_new_tokens: 2, {SAMPLE}}}}}
select: {{embedding_dedup: false}}
"""
    path = tmp_path / f"{out}.yaml"
    path.write_text(text)
    return path


def log_ids(flow):
    return [[json.loads(line)["id"] for line in p.read_text().splitlines()] if p.exists() else []
            for p in stage_paths(flow)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_model_dir):
    import torch

    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("synth")
    flow = load_flow(tiny_flow(tmp, tiny_model_dir))
    seen = []
    executor = LocalExecutor()
    summary = run_flow(flow, executor=executor,
                       on_progress=lambda s, d, t: seen.append((s, d, t)))
    return tmp, flow, summary, seen, executor


def test_run_writes_stage_logs_stats_and_exports(reference):
    _, flow, summary, seen, _ = reference
    ids = log_ids(flow)
    assert len(ids[0]) == 4                                   # 2 principles x 2 topics
    for stage in ids:
        assert len(stage) == len(set(stage))                  # no duplicates
    stats = json.loads((Path(flow.output_dir) / "stats.json").read_text())
    assert stats == json.loads(json.dumps(summary))
    assert stats["source"] == f"synth:tiny:{flow.backends['teacher'].model}"
    topics, questions, answers = stats["stages"][:3]
    assert topics["items"] == topics["generated"] == 4 and topics["completion_tokens"] > 0
    assert topics["parse_failures"] + topics["kept"] + topics["filtered"] == 4
    assert topics["kept"] > 0, "seeded sampling on the tiny model yields some parseable topics"
    assert questions["items"] == topics["kept"]               # kinds_per_topic: 1
    assert answers["items"] == questions["kept"]
    for before, after in zip(stats["stages"][1:], stats["stages"][2:]):
        assert after["items"] == before["kept"]
    assert seen[-1][1] == seen[-1][2]
    out = Path(flow.output_dir)
    n = len(read_jsonl(out / "qac.jsonl", Correction))
    assert n == stats["outputs"]["qac"] == stats["selection"]["selected"]
    read_jsonl(out / "preferences.jsonl", Preference)
    read_jsonl(out / "unpaired.jsonl", UnpairedPreference)


def test_rerun_requires_resume_and_resume_adds_nothing(reference):
    _, flow, _, _, executor = reference
    before = log_ids(flow)
    with pytest.raises(ConfigError, match="--resume"):
        run_flow(flow, executor=executor)
    run_flow(flow, executor=executor, resume=True)
    assert log_ids(flow) == before


def test_resume_after_a_torn_line_and_a_partial_stage(reference, tiny_model_dir):
    tmp, flow, _, _, executor = reference
    want = log_ids(flow)
    shutil.copytree(Path(flow.output_dir) / "stages", tmp / "cut" / "stages")
    partial = load_flow(tiny_flow(tmp, tiny_model_dir, out="cut"))
    paths = stage_paths(partial)
    lines = paths[1].read_text().splitlines(keepends=True)
    assert len(lines) >= 2
    paths[1].write_text("".join(lines[:1]) + lines[1][:10])   # killed mid-write
    for p in paths[2:]:
        p.unlink()
    run_flow(partial, executor=executor, resume=True)
    got = log_ids(partial)
    assert [sorted(s) for s in got] == [sorted(s) for s in want]
    assert read_jsonl(tmp / "cut" / "qac.jsonl", Correction) == \
        read_jsonl(Path(flow.output_dir) / "qac.jsonl", Correction)


def test_preferences_skip_identity_and_unpaired_labels():
    records = [Correction(question="q1", answer="bad", correction="good", principles=["harm"],
                          source="synth:x:m"),
               Correction(question="q2", answer="fine", correction="fine", principles=["accuracy"],
                          source="synth:x:m")]
    prefs = to_preferences(records)
    assert [(p.prompt, p.chosen, p.rejected) for p in prefs] == [("q1", "good", "bad")]
    assert prefs[0].principles == ["harm"] and prefs[0].source == "synth:x:m"
    unpaired = to_unpaired(records)
    assert [(u.prompt, u.completion, u.label) for u in unpaired] == [
        ("q1", "bad", False), ("q1", "good", True), ("q2", "fine", True)]
