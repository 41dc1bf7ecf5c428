"""SIGKILL a real `alignstack synth` process mid-run, resume it, and compare every stage's row
ids with an uninterrupted run: nothing lost, nothing duplicated."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alignstack.core.records import Correction, read_jsonl
from alignstack.synth.flow import load_flow
from alignstack.synth.pipeline import LocalExecutor, run_flow, stage_paths

ROOT = Path(__file__).resolve().parents[2]
PRINCIPLES = ROOT / "examples" / "newsroom" / "principles.yaml"
SAMPLE = "temperature: 1.0, seed: 0"    # greedy on the random model emits only whitespace


def write_flow(tmp_path, model_dir, out):
    text = f"""\
name: kill
principles: {PRINCIPLES}
principle_ids: [harm, privacy, accuracy]
output_dir: {tmp_path / out}
backends:
  teacher: {{kind: transformers, model: {model_dir}}}
tasks:
  - {{task: topics, samples: 3, batch_size: 1, params: {{max_new_tokens: 4, {SAMPLE}}}}}
  - {{task: questions, kinds_per_topic: 2, batch_size: 1, params: {{max_new_tokens: 6, {SAMPLE}}}}}
  - {{task: answers, batch_size: 1, params: {{max_new_tokens: 4, {SAMPLE}}}}}
  - {{task: critique, batch_size: 1, params: {{max_new_tokens: 4, {SAMPLE}}}}}
  - {{task: revision, batch_size: 1, params: {{max_new_tokens: 4, {SAMPLE}}}}}
  - {{task: judge, batch_size: 1, params: {{max_new_tokens: 2, {SAMPLE}}}}}
select: {{embedding_dedup: false}}
"""
    path = tmp_path / f"{out}.yaml"
    path.write_text(text)
    return path


def rows_by_stage(flow):
    out = []
    for path in stage_paths(flow):
        lines = path.read_text().splitlines() if path.exists() else []
        out.append([json.loads(line) for line in lines])
    return out


def cli(config, *extra):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT / "src")}
    return subprocess.Popen([sys.executable, "-m", "alignstack.cli.main", "synth", "--config",
                             str(config), "--threads", "1", *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow  # three CLI processes (torch import each): ~100 s on the shared CPU
def test_sigkill_mid_run_then_resume_loses_and_repeats_nothing(tmp_path, tiny_model_dir):
    import torch

    torch.set_num_threads(1)
    reference = load_flow(write_flow(tmp_path, tiny_model_dir, "ref"))
    run_flow(reference, executor=LocalExecutor())
    want = rows_by_stage(reference)
    assert len(want[1]) >= 4, "the reference run reaches the questions stage"

    config = write_flow(tmp_path, tiny_model_dir, "killed")
    flow = load_flow(config)
    proc = cli(config)
    questions = stage_paths(flow)[1]
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if questions.exists() and questions.read_text().count("\n") >= 2:
            break
        time.sleep(0.01)
    assert proc.poll() is None, f"finished before it could be killed:\n{proc.stdout.read()}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    cut = rows_by_stage(flow)
    assert 0 < sum(map(len, cut)) < sum(map(len, want))

    again = cli(config)                      # without --resume: refuses, keeps the logs
    assert again.wait() == 2 and "--resume" in again.stdout.read()
    resumed = cli(config, "--resume")
    output = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, output
    got = rows_by_stage(flow)
    for stage_got, stage_want in zip(got, want):
        ids = [r["id"] for r in stage_got]
        assert len(ids) == len(set(ids)), "no row is duplicated"
        assert sorted(ids) == sorted(r["id"] for r in stage_want), "no row is lost"
        assert {r["id"]: r for r in stage_got} == {r["id"]: r for r in stage_want}
    assert read_jsonl(Path(flow.output_dir) / "qac.jsonl", Correction) == \
        read_jsonl(Path(reference.output_dir) / "qac.jsonl", Correction)
    stats = json.loads((Path(flow.output_dir) / "stats.json").read_text())
    assert [s["kept"] for s in stats["stages"]] == [
        sum(r["kept"] for r in stage) for stage in want]
