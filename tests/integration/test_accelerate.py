"""`alignstack optimize` and `alignstack train corrector` run unchanged under `accelerate launch`:
two CPU processes (gloo), each with half the batch, follow the one-process loss curve."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "newsroom" / "data" / "heldout.jsonl"
# accelerate's multi-process launcher (torchrun underneath) is `--multi_gpu`; on a machine without
# GPUs the trainers' use_cpu makes each process a CPU worker joined over gloo (`--cpu` alone would
# start one process, or need mpirun)
LAUNCH = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_machines", "1",
          "--mixed_precision", "no", "--dynamo_backend", "no"]


def run(command: list[str]) -> None:
    import os

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("ALIGNSTACK_THREADS", None)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_two_process_optimize_follows_the_one_process_loss_curve(tmp_path, tiny_model_dir):
    common = ["optimize", "--set", "method=sft", "--set", f"data=[{DATA}]",
              "--set", f"base_model={tiny_model_dir}", "--set", "max_steps=6",
              "--set", "learning_rate=0.005", "--set", "lora_dropout=0.0",
              "--set", "logging_steps=1", "--set", "max_length=128", "--set", "progress=false",
              "--set", "dtype=float32"]
    run([sys.executable, "-m", "alignstack", *common, "--set", "batch_size=4",
         "--set", f"output_dir={tmp_path / 'one'}"])
    run([*LAUNCH, "--num_processes", "2", "--main_process_port", str(free_port()),
         "-m", "alignstack", *common, "--set", "batch_size=2",
         "--set", f"output_dir={tmp_path / 'two'}"])
    one = json.loads((tmp_path / "one" / "train_metrics.json").read_text())
    two = json.loads((tmp_path / "two" / "train_metrics.json").read_text())
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert two["threads"] == 1 or two["threads"] * 2 <= max(2, one["threads"])
    curve_one = [v for _, v in one["logged"]["loss"]]
    curve_two = [v for _, v in two["logged"]["loss"]]
    assert len(curve_one) == len(curve_two) == 6
    assert curve_one[-1] < curve_one[0] - 0.05          # the curve moves: the match means something
    for a, b in zip(curve_one, curve_two):
        assert abs(a - b) <= 0.02 * abs(a), (curve_one, curve_two)
    assert (tmp_path / "two" / "model" / "model.safetensors").exists()
