"""`alignstack init`: the files exist, each validates with the loader of the command that reads
it, they point at each other, and a non-empty directory is refused. Also the parts of
`alignstack build` that need no model: the data stage's split and its "too little to train on"
stop, the stage log's skip and resume rule, and the stack checks (eval measures and serve runs
the stack in stack.yaml)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alignstack.cli.main import app
from alignstack.core.errors import ConfigError, DataError
from alignstack.project.scaffold import FILES, init_project

ROOT = Path(__file__).resolve().parents[2]
HEALTH = ROOT / "examples" / "health"
runner = CliRunner()


def load_all(project: Path) -> dict:
    """Every config of the project through the loader its own command uses."""
    from alignstack.core.config import load_config
    from alignstack.core.principles import load_constitution
    from alignstack.correct.assemble import load_stack_spec
    from alignstack.correct.config import CorrectorTrainConfig
    from alignstack.evaluate.config import load_eval_config
    from alignstack.inspect.config import InspectorTrainConfig
    from alignstack.project.config import load_build_config
    from alignstack.serve.config import load_serve_config
    from alignstack.synth.flow import load_flow

    return {"principles": load_constitution(project / "principles.yaml"),
            "synth": load_flow(project / "synth.yaml"),
            "build": load_build_config(project),
            "corrector": load_config(CorrectorTrainConfig, project / "corrector.yaml"),
            "request_gate": load_config(InspectorTrainConfig, project / "request_gate.yaml"),
            "answer_gate": load_config(InspectorTrainConfig, project / "inspector.yaml"),
            "stack": load_stack_spec(project / "stack.yaml"),
            "eval": load_eval_config(project / "eval.yaml"),
            "serve": load_serve_config(project / "serve.yaml")}


def test_init_writes_every_file_and_each_validates(tmp_path):
    project = tmp_path / "acme"
    written = init_project(project, name="Acme Health")
    assert sorted(p.name for p in written) == sorted(FILES)
    assert all((project / f).is_file() and (project / f).stat().st_size for f in FILES)
    configs = load_all(project)
    assert configs["principles"].name == "Acme Health"
    crisis = [p for p in configs["principles"].principles if p.crisis]
    assert crisis and all(p.alternative for p in crisis)
    text = (project / "principles.yaml").read_text()
    for field in ("refusal", "alternative", "crisis", "dimensions", "examples"):
        assert f"#   {field}" in text          # the comments explain every field
    assert configs["serve"].model_name == "acme-health-aligned"
    assert configs["synth"].name == "acme-health-synth"
    assert "acme" in (project / "README.md").read_text().lower()


def test_configs_point_at_each_other(tmp_path):
    from alignstack.core.config import as_list
    from alignstack.project.configs import differing_fields

    project = tmp_path / "p"
    init_project(project, principles=HEALTH / "principles.yaml")
    c = load_all(project)
    data = c["build"].data_dir
    assert c["synth"].principles == "principles.yaml" and not c["synth"].principle_ids
    assert c["corrector"].train_file == f"{data}/train/qac.jsonl"
    assert c["corrector"].eval_file == f"{data}/heldout/qac.jsonl"
    assert c["corrector"].principles_file == "principles.yaml"
    assert c["request_gate"].train_file.startswith(f"{data}/train/")
    assert c["request_gate"].data_format == "request" and c["request_gate"].inputs == "question"
    assert c["answer_gate"].train_file.startswith(f"{data}/train/")
    assert c["stack"].corrector == c["corrector"].output_dir
    assert c["stack"].request_gate == c["request_gate"].output_dir
    assert as_list(c["stack"].answer_gate) == [c["answer_gate"].output_dir]
    assert differing_fields(c["serve"].stack, c["stack"]) == []
    assert [s.name for s in c["eval"].systems if not differing_fields(s, c["stack"])] == ["stack"]
    assert c["eval"].principles_file == c["serve"].principles_file == "principles.yaml"
    assert c["eval"].fixed_point.file == f"{data}/heldout/qac.jsonl"
    assert c["serve"].api_keys == []                      # no key shipped, and how to make one:
    assert "alignstack serve --hash-key" in (project / "serve.yaml").read_text()
    # the principles file is the given one, copied
    assert (project / "principles.yaml").read_text() == (HEALTH / "principles.yaml").read_text()
    assert c["principles"].name == "health-info"


def test_teacher_flags_point_synth_at_an_openai_compatible_server(tmp_path):
    init_project(tmp_path / "p", teacher_url="http://127.0.0.1:9/v1", teacher_model="big-model")
    teacher = load_all(tmp_path / "p")["synth"].backends["teacher"]
    assert teacher.kind == "openai" and teacher.model == "big-model"
    assert teacher.options()["base_url"] == "http://127.0.0.1:9/v1"
    placeholder = init_project(tmp_path / "q")[1]             # no teacher: the offline one, said so
    assert "PLACEHOLDER" in placeholder.read_text()
    with pytest.raises(ConfigError, match="together"):
        init_project(tmp_path / "r", teacher_url="http://127.0.0.1:9/v1")


def test_init_refuses_a_non_empty_directory_unless_forced(tmp_path):
    project = tmp_path / "p"
    project.mkdir()
    (project / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["init", str(project)])
    assert result.exit_code == 2 and "not empty" in result.output and "--force" in result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in project.iterdir()) == ["notes.txt"]
    result = runner.invoke(app, ["init", str(project), "--force", "--name", "Acme"])
    assert result.exit_code == 0, result.output
    assert (project / "notes.txt").read_text() == "mine" and (project / "stack.yaml").is_file()
    (tmp_path / "file").write_text("x")
    assert runner.invoke(app, ["init", str(tmp_path / "file")]).exit_code == 2


def test_init_rejects_a_bad_principles_file_naming_the_line(tmp_path):
    bad = tmp_path / "principles.yaml"
    bad.write_text("name: x\nprinciples:\n  - id: Bad-Id\n    title: t\n    text: long enough text\n"
                   "    dimensions: [harmless]\n")
    result = runner.invoke(app, ["init", str(tmp_path / "p"), "--principles", str(bad)])
    assert result.exit_code == 2 and f"{bad}:3" in result.output and "snake_case" in result.output


# ---- the data stage ---------------------------------------------------------------------------

def fake_synth_run(project: Path, records: list[dict]) -> None:
    """What a synth run leaves behind (qac.jsonl, stats.json, the questions and critique logs),
    written by hand: the data stage reads only these files."""
    out = project / "runs" / "synth"
    (out / "stages").mkdir(parents=True)
    (out / "qac.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (out / "stats.json").write_text(json.dumps({"outputs": {"qac": len(records)}, "stages": [
        {"task": "questions", "items": 40, "parse_failures": 7, "filtered": 0},
        {"task": "judge", "items": 9, "parse_failures": 2, "filtered": 3}]}))
    questions = [{"id": str(i), "question": f"Extra question number {i}?", "ok": True,
                  "kept": True, "kind": "harmful" if i % 2 else "benign", "principles": []}
                 for i in range(6)]
    (out / "stages" / "02-questions.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in questions) + '{"torn": ')
    critiques = [{"id": "c", "question": "Extra question number 1?", "answer": "bad answer",
                  "violates": True, "ok": True, "kept": True}]
    (out / "stages" / "04-critique.jsonl").write_text(json.dumps(critiques[0]) + "\n")


def test_data_stage_splits_by_question_and_stops_when_too_little(tmp_path):
    from alignstack.project.build import data_stage
    from alignstack.project.config import load_build_config
    from alignstack.project.configs import Project
    from alignstack.project.data import held_out

    project = tmp_path / "p"
    init_project(project, principles=HEALTH / "principles.yaml")
    seed = [json.loads(line) for line in (HEALTH / "seed.jsonl").read_text().splitlines()]
    fake_synth_run(project, seed[:4])
    (project / "seed.jsonl").write_text("".join(json.dumps(r) + "\n" for r in seed[4:]))
    low = {"seed_files": ["seed.jsonl"], "heldout_fraction": 0.3, "min_records": 2,
           "min_rewrites": 2, "min_per_label": 2}
    counts = data_stage(Project(project, load_build_config(project, low)))
    data = project / "runs" / "data"
    assert counts["synthetic_qac"] == 4
    assert counts["train"]["qac"] + counts["heldout"]["qac"] == len(seed)
    assert counts["train"]["seed"] + counts["heldout"]["seed"] == len(seed) - 4
    # every question synth kept is a request example (the torn last log line is dropped)
    assert counts["train"]["requests"] + counts["heldout"]["requests"] == len(seed) + 6
    assert counts["heldout"]["qac"] > 0
    rows = {s: {f: [json.loads(x) for x in (data / s / f).read_text().splitlines()]
                for f in ("qac.jsonl", "requests.jsonl", "answers.jsonl")}
            for s in ("train", "heldout")}
    for split, files in rows.items():
        for name, records in files.items():
            assert len(records) == counts[split][name.split(".")[0]]
            assert all(held_out(r["question"], 0.3) == (split == "heldout") for r in records)
    critiqued = [a for a in rows["train"]["answers.jsonl"] + rows["heldout"]["answers.jsonl"]
                 if a["answer"] == "bad answer"]
    assert [a["label"] for a in critiqued] == [1]
    assert json.loads((data / "counts.json").read_text()) == counts

    strict = Project(project, load_build_config(project, {**low, "min_records": 500}))
    with pytest.raises(DataError) as err:
        data_stage(strict)
    message = str(err.value)
    assert f"{counts['train']['qac']} Q-A-C records (need 500: min_records)" in message
    assert "kept 4 records from 40 question slots: 9 outputs were unparseable and 3 rejected" \
        in message
    assert "llamacpp:smollm2" in message and "docs/project.md" in message


# ---- the stage log ----------------------------------------------------------------------------

def test_stages_skip_when_done_and_rerun_what_changed_or_went_missing(tmp_path):
    from alignstack.project.stages import QuietReporter, Stage, StageLog, run_stages

    source = tmp_path / "config.txt"
    source.write_text("v1")
    ran: list[str] = []

    def make(name: str, reads: list[Path], after: list[str], fail: bool = False) -> Stage:
        out = tmp_path / f"{name}.out"

        def run() -> dict:
            ran.append(name)
            if fail:
                raise DataError("too little")
            out.write_text(name)
            return {"made": name}
        return Stage(name, run, reads=reads, outputs=lambda: [out], after=after)

    def build(fail_at: str | None = None) -> dict:
        stages = [make("a", [source], []), make("b", [], ["a"]), make("c", [], ["b"],
                                                                     fail=fail_at == "c")]
        return run_stages(stages, StageLog(tmp_path / "log.jsonl"), QuietReporter())

    assert {k: v["status"] for k, v in build().items()} == dict.fromkeys("abc", "ran")
    ran.clear()
    assert {k: v["status"] for k, v in build().items()} == dict.fromkeys("abc", "skipped")
    assert ran == [] and build()["b"]["info"] == {"made": "b"}
    (tmp_path / "b.out").unlink()                    # an output went missing: b alone reruns
    build()
    assert ran == ["b"]
    ran.clear()
    source.write_text("v2")                          # a config a reads changed: a and after it
    build()
    assert ran == ["a", "b", "c"]
    ran.clear()
    source.write_text("v3")
    with pytest.raises(DataError):
        build(fail_at="c")
    events = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [(e["stage"], e["event"]) for e in events[-2:]] == [("c", "started"), ("c", "failed")]
    assert "too little" in events[-1]["error"]
    with (tmp_path / "log.jsonl").open("a") as log:   # killed mid-write: a torn last line
        log.write('{"stage": "c", "ev')
    ran.clear()
    assert build()["c"]["status"] == "ran" and ran == ["c"]     # a and b stay done


# ---- eval measures, and serve runs, the stack in stack.yaml -----------------------------------

def test_eval_and_serve_must_use_the_stack_file(tmp_path):
    from alignstack.project.build import build_project, measured_stack, serve_stage
    from alignstack.project.config import load_build_config
    from alignstack.project.configs import Project

    project = tmp_path / "p"
    init_project(project)
    p = Project(project, load_build_config(project))
    assert measured_stack(p.eval().systems, p.stack(), project / "eval.yaml").name == "stack"
    text = (project / "stack.yaml").read_text()
    (project / "stack.yaml").write_text(text.replace("refuse_flagged: true",
                                                     "refuse_flagged: false"))
    with pytest.raises(ConfigError, match="'stack', differs in refuse_flagged"):
        measured_stack(p.eval().systems, p.stack(), project / "eval.yaml")
    with pytest.raises(ConfigError, match="serve.yaml's stack differs from stack.yaml in "
                                          "refuse_flagged"):
        serve_stage(p)
    with pytest.raises(ConfigError, match="what is measured must be what is served"):
        build_project(project)                       # before any stage: nothing ran, nothing logged
    assert not (project / "runs").exists()
    (project / "stack.yaml").write_text(text)
    with pytest.raises(ConfigError, match="runs/corrector not found"):
        serve_stage(p)                               # nothing trained yet: nothing to serve


def test_build_stops_at_an_unreachable_teacher_with_one_clear_line(tmp_path):
    """A real refused connection (nothing listens on the port): synth fails, the CLI prints the
    error naming the teacher's address and the summary of where the build stopped."""
    from conftest import free_port

    project = tmp_path / "p"
    url = f"http://127.0.0.1:{free_port()}/v1"
    init_project(project, teacher_url=url, teacher_model="big-model")
    text = (project / "synth.yaml").read_text()
    (project / "synth.yaml").write_text(text.replace("concurrency: 8", "concurrency: 1, "
                                                     "max_retries: 0, timeout: 5"))
    result = runner.invoke(app, ["build", str(project)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and url in result.output
    summary = json.loads((project / "runs" / "build_summary.json").read_text())
    assert not summary["finished"] and summary["failed"]["stage"] == "synth"
    events = [json.loads(x) for x in (project / "runs" / "build_log.jsonl").read_text().splitlines()]
    assert [(e["stage"], e["event"]) for e in events] == [("synth", "started"), ("synth", "failed")]
    result = runner.invoke(app, ["build", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "not a project directory" in result.output
