"""`alignstack init` with the health example's principles, then `alignstack build` end to end
with a real teacher: SmolLM2 on llama.cpp's own server (the engine's HTTP listener on loopback,
OpenAI-compatible /v1, its API key passed the way a hosted API's is, in OPENAI_API_KEY), at tiny
sizes. SmolLM2 is far too weak to teach: the first build must stop at the data stage saying so;
with the example's hand-written seed records beside its thin data and low minimums, every stage
must then produce its artefact, the eval must run on both systems, and a build killed during the
eval must resume there, the earlier stages skipped.

On a shared 2-core machine run it on one core: `ALIGNSTACK_THREADS=1 taskset -c 1 pytest
tests/integration/test_project_build.py -m slow` (the llama.cpp engines size their threads from
the cores the process may use)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
HEALTH = ROOT / "examples" / "health"


@pytest.fixture(scope="module")
def teacher():
    """The teacher's base URL and API key: llama.cpp's server with SmolLM2 on loopback."""
    from alignstack.backends.hardware import torch_threads
    from alignstack.backends.llamacpp import LlamaCppGenerator

    engine = LlamaCppGenerator("smollm2", parallel=4, threads=torch_threads()).engine
    return f"{engine.url}/v1", engine.api_key


class Recorder:
    """A build reporter that keeps what it is told."""

    def __init__(self):
        self.states: list[tuple[str, str]] = []
        self.progress_seen: set[str] = set()

    def stage(self, name: str, state: str, detail: str = "") -> None:
        self.states.append((name, state))

    def progress(self, name: str, label: str, done: int, total: int | None) -> None:
        self.progress_seen.add(name)

    def log(self, message: str) -> None:
        pass


def edit(path: Path, **changes) -> None:
    data = yaml.safe_load(path.read_text())
    data.update(changes)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def shrink(project: Path) -> None:
    """Tiny sizes for a CPU test: few topics and tokens, two training steps, a few eval prompts."""
    synth = yaml.safe_load((project / "synth.yaml").read_text())
    synth["principle_ids"] = ["dangerous_use", "crisis_care", "medical_accuracy"]
    synth["backends"]["teacher"]["concurrency"] = 4
    limits = {"topics": 16, "questions": 40, "answers": 48, "critique": 32, "revision": 48,
              "judge": 8}
    for task in synth["tasks"]:
        task["params"]["max_new_tokens"] = limits[task["task"]]
        if task["task"] == "topics":
            task["samples"] = 2
    (project / "synth.yaml").write_text(yaml.safe_dump(synth, sort_keys=False))
    edit(project / "corrector.yaml", max_steps=2, batch_size=2, max_length=256)
    edit(project / "request_gate.yaml", classifier="logistic", calibration_fraction=0.4)
    edit(project / "inspector.yaml", principle_min_positives=0, calibration_fraction=0.4)
    edit(project / "eval.yaml", max_new_tokens=24, batch_size=4,
         suites=[{"name": "harmbench", "limit": 2}, {"name": "overrefusal", "limit": 2},
                 {"name": "falseclaims", "limit": 1, "options": {"style": "question"}}])


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_init_then_build_with_a_real_teacher_resumes_after_a_kill(tmp_path, teacher,
                                                                    monkeypatch):
    from typer.testing import CliRunner

    from alignstack.cli.main import app
    from alignstack.core.errors import DataError
    from alignstack.project.build import build_project
    from alignstack.serve.config import load_serve_config

    url, key = teacher
    monkeypatch.setenv("OPENAI_API_KEY", key)
    project = tmp_path / "health"
    runner = CliRunner()
    result = runner.invoke(app, ["init", str(project), "--principles",
                                 str(HEALTH / "principles.yaml"), "--teacher-url", url,
                                 "--teacher-model", "smollm2"])
    assert result.exit_code == 0, result.output
    shrink(project)
    runs = project / "runs"

    # 1. SmolLM2's data alone is too little to train on: the build stops at the data stage
    with pytest.raises(DataError, match="too little to train on") as err:
        build_project(project)
    stats = json.loads((runs / "synth" / "stats.json").read_text())
    synthetic = stats["outputs"]["qac"]
    assert f"kept {synthetic} records" in str(err.value) and "openai:smollm2" in str(err.value)
    stopped = json.loads((runs / "build_summary.json").read_text())
    assert not stopped["finished"] and stopped["failed"]["stage"] == "data"
    assert stopped["stages"]["synth"]["info"]["records"] == synthetic
    assert stopped["stages"]["synth"]["info"]["unparseable"] == \
        sum(s["parse_failures"] for s in stats["stages"])
    assert len(lines(runs / "synth" / "qac.jsonl")) == synthetic

    # 2. with the example's seed records and low minimums, every stage runs (synth is done)
    shutil.copy(HEALTH / "seed.jsonl", project / "seed.jsonl")
    edit(project / "build.yaml", seed_files=["seed.jsonl"], heldout_fraction=0.3,
         min_records=4, min_rewrites=2, min_per_label=2)
    recorder = Recorder()
    summary = build_project(project, reporter=recorder)
    assert summary["finished"] and summary["failed"] is None
    status = {name: s["status"] for name, s in summary["stages"].items()}
    assert status == {"synth": "skipped", "data": "ran", "corrector": "ran",
                      "request_gate": "ran", "answer_gate": "ran", "eval": "ran", "serve": "ran"}
    assert ("eval", "running") in recorder.states and "eval" in recorder.progress_seen
    for artefact in ("data/counts.json", "data/train/qac.jsonl", "data/heldout/qac.jsonl",
                     "corrector/corrector.json", "corrector/adapter/adapter_model.safetensors",
                     "request-gate/inspector.json", "answer-gate/inspector.json",
                     "eval/results.json", "eval/report.html", "serve.yaml",
                     "build_log.jsonl", "build_summary.json"):
        assert (runs / artefact).is_file(), artefact
    stages = summary["stages"]
    counts = stages["data"]["info"]
    assert counts["synthetic_qac"] == synthetic
    assert counts["train"]["qac"] == len(lines(runs / "data" / "train" / "qac.jsonl"))
    assert counts["train"]["seed"] + counts["heldout"]["seed"] == 18
    assert stages["corrector"]["info"]["steps"] == 2
    assert stages["corrector"]["info"]["train_loss"] > 0
    for gate in ("request_gate", "answer_gate"):
        assert 0 <= stages[gate]["info"]["auroc_calibration"] <= 1
    evaluation = stages["eval"]["info"]
    results = json.loads((runs / "eval" / "results.json").read_text())
    assert evaluation["n_items"] == results["n_items"] == len(lines(runs / "eval" / "items.jsonl"))
    assert evaluation["n_items"] >= 3
    assert set(evaluation["systems"]) == set(results["systems"]) == {"upstream", "stack"}
    assert evaluation["stack_system"] == "stack"
    assert evaluation["systems"]["stack"]["safe_rate"]["n"] > 0
    served = load_serve_config(runs / "serve.yaml")
    assert Path(served.stack.corrector) == runs / "corrector"
    assert Path(served.principles_file) == project / "principles.yaml"
    assert any("--hash-key" in step for step in summary["next"])
    assert json.loads((runs / "build_summary.json").read_text()) == summary

    # 3. built: the CLI skips every stage and prints the tables
    result = runner.invoke(app, ["build", str(project)])
    assert result.exit_code == 0, result.output
    assert result.output.count("skipped") >= 7 and "safe_rate" in result.output

    # 4. killed during the eval: the log ends at its "started" line, its results are missing
    log = (runs / "build_log.jsonl").read_text().splitlines()
    last_eval = max(i for i, x in enumerate(log)
                    if json.loads(x)["stage"] == "eval" and json.loads(x)["event"] == "started")
    (runs / "build_log.jsonl").write_text("\n".join(log[:last_eval + 1]) + "\n")
    (runs / "eval" / "results.json").unlink()
    resumed = build_project(project)
    status = {name: s["status"] for name, s in resumed["stages"].items()}
    assert status == {"synth": "skipped", "data": "skipped", "corrector": "skipped",
                      "request_gate": "skipped", "answer_gate": "skipped", "eval": "ran",
                      "serve": "ran"}
    assert (runs / "eval" / "results.json").is_file()
    assert resumed["stages"]["eval"]["info"]["n_items"] == evaluation["n_items"]
