"""`alignstack build DIR`: the project's stages in order, each the library call its own command
makes, resumable after a kill (stages.py: the append-only stage log and its skip rule).

    synth -> data -> corrector -> request_gate -> answer_gate -> eval -> serve

synth runs the flow in synth.yaml with its teacher (any OpenAI-compatible server); data splits
its records (and any seed records) into training and held-out files and stops the build when they
are too few (data.py); corrector and the two gates train as `alignstack train` does; eval runs
eval.yaml on the suites' dev split, and checks that it measures the stack in stack.yaml; serve
checks that serve.yaml serves that same stack and writes runs/serve.yaml, every path absolute.
DIR/runs/build_summary.json holds what each stage produced and measured."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Sequence

from alignstack.core.config import as_list
from alignstack.core.errors import ConfigError, DataError
from alignstack.core.records import Correction, read_jsonl, write_json
from alignstack.project.config import BuildConfig, load_build_config
from alignstack.project.configs import STACK_PATHS, Project, differing_fields
from alignstack.project.stages import (LOG_FILE, QuietReporter, Reporter, Stage, StageLog,
                                       run_stages)

SUMMARY_FILE = "runs/build_summary.json"
SERVED_CONFIG = "runs/serve.yaml"
STAGES = ("synth", "data", "corrector", "request_gate", "answer_gate", "eval", "serve")
HEADLINE = ("safe_rate", "harm_rate", "over_refusal_rate", "honesty_rate", "supportive_rate",
            "non_toxic_rate", "identity_preservation", "degenerate_rate")


# -- the stages ---------------------------------------------------------------------------------

def synth_stage(project: Project, reporter: Reporter) -> dict:
    from alignstack.project.data import teacher_of
    from alignstack.synth.pipeline import run_flow

    flow = project.synth_flow()
    summary = run_flow(flow, resume=True,
                       on_progress=lambda label, done, total: reporter.progress(
                           "synth", label, done, total))
    stages = summary["stages"]
    return {"records": summary["outputs"].get("qac", 0),
            "unparseable": sum(s["parse_failures"] for s in stages),
            "filtered": sum(s["filtered"] for s in stages),
            "tasks": [{k: s[k] for k in ("task", "items", "kept", "parse_failures", "filtered")}
                      for s in stages],
            "selection": summary["selection"], "teacher": teacher_of(flow),
            "source": summary["source"]}


def data_stage(project: Project) -> dict:
    from alignstack.project.data import prepare_data

    return prepare_data(project.synth_flow(), project.cfg, project.path(project.cfg.data_dir),
                        [project.path(p) for p in project.cfg.seed_files])


def usable_heldout(path: str | None) -> str | None:
    """None when `path` holds Q-A-C records to measure a loss on, else why not."""
    if not path:
        return "no eval_file"
    if not Path(path).is_file() or not read_jsonl(path, Correction):
        return f"{path} holds no records"
    return None


def corrector_stage(project: Project) -> dict:
    from alignstack.correct.train import train_corrector

    cfg = project.corrector({"progress": False})
    note = usable_heldout(cfg.eval_file) if cfg.eval_file else None
    if note:
        cfg.eval_file = None
    metrics = train_corrector(cfg)
    phases = metrics["phases"]
    return {"examples": sum(p["examples"] for p in phases),
            "steps": sum(p["steps"] for p in phases),
            "train_loss": phases[-1]["train_loss"] if phases else None,
            "heldout_loss": metrics.get("heldout_loss"), "dtype": metrics["dtype"],
            "seconds": metrics["seconds"], "note": note}


def gate_stage(project: Project, which: str, title: str) -> dict:
    from alignstack.inspect.data import load_examples
    from alignstack.inspect.train import train_inspector

    cfg = project.gate(which, {"progress": False})
    note = None
    if cfg.eval_file:
        try:
            load_examples(cfg.eval_file, cfg.data_format)
        except DataError as exc:       # too few held-out questions to measure on: say so, train
            note, cfg.eval_file = f"no held-out AUROC: {exc}", None
    try:
        metrics = train_inspector(cfg)
    except DataError as exc:
        counts = Path(project.cfg.data_dir) / "counts.json"
        raise DataError(f"the {title} cannot train: {exc.reason} (see {counts}; "
                        f"docs/project.md says what a real run needs)", path=exc.path,
                        line=exc.line, field=exc.field) from None
    overall = metrics["heads"]["overall"]
    return {"examples": metrics["examples"], "heads": sorted(metrics["heads"]),
            "threshold": overall["threshold"],
            "auroc_heldout": (metrics.get("heldout") or {}).get("overall", {}).get("auroc"),
            "auroc_calibration": metrics["calibration_split"]["overall"]["auroc"],
            "seconds": metrics["seconds"], "note": note}


def check_artefacts(spec, path: Path, field: str) -> None:
    """Every corrector, gate or squad a stack names exists (in a project they are paths,
    relative to the project directory, where `path`, the config naming them, lives; never to the
    directory the build was started from)."""
    for name in (*STACK_PATHS, "answer_gate"):
        for value in as_list(getattr(spec, name)):
            if not (Path(path).parent / value).exists():
                raise ConfigError(f"{value} not found (in a project the stack's corrector and "
                                  f"gates are paths, relative to the project directory)",
                                  path=path, field=f"{field}{name}")


def measured_stack(systems, stack, eval_file: Path):
    """The eval system that is the stack in stack.yaml; else a ConfigError naming the nearest."""
    nearest = min(systems, key=lambda s: len(differing_fields(s, stack)))
    diff = differing_fields(nearest, stack)
    if diff:
        raise ConfigError(f"no system here is the stack in stack.yaml (what is measured must be "
                          f"what is served): the nearest, '{nearest.name}', differs in "
                          f"{', '.join(diff)}", path=eval_file, field="systems")
    return nearest


def eval_stage(project: Project, reporter: Reporter) -> dict:
    from alignstack.evaluate.fixed_point import fixed_point_items
    from alignstack.evaluate.runner import run_eval

    cfg = project.eval()
    eval_file = project.config_file("eval_config")
    system = measured_stack(cfg.systems, project.stack(), eval_file)
    for index, spec in enumerate(cfg.systems):
        check_artefacts(spec, eval_file, f"systems[{index}].")
    notes = []
    if cfg.fixed_point and not (Path(cfg.fixed_point.file).is_file() and fixed_point_items(
            cfg.fixed_point.file, cfg.fixed_point.kinds)):
        notes.append(f"no fixed point: {project.relative(cfg.fixed_point.file)} holds no "
                     f"{'/'.join(cfg.fixed_point.kinds)} records")
        cfg = cfg.model_copy(update={"fixed_point": None})
    done: dict[str, int] = {}

    def advance_factory(name: str, total: int):
        done[name] = 0

        def advance(n: int) -> None:
            done[name] += n
            reporter.progress("eval", f"answering: {name}", done[name], total)
        return advance

    results = run_eval(cfg, log=reporter.log, advance_factory=advance_factory)
    out = Path(cfg.output_dir)
    info = {"n_items": results["n_items"], "suites": results["suites"],
            "baseline": results["config"]["baseline"], "stack_system": system.name,
            "systems": {name: {m: _rate(v) for m, v in stats["overall"].items()
                               if m in HEADLINE}
                        for name, stats in results["systems"].items()},
            "against_baseline": {name: {m: {"diff": round(v["diff"], 4),
                                            "ci95": [round(x, 4) for x in v["ci95"]]}
                                        for m, v in diffs["overall"].items() if m in HEADLINE}
                                 for name, diffs in results["against_baseline"].items()},
            "results": project.relative(out / "results.json"),
            "report": project.relative(out / "report.html"), "notes": notes}
    if "fixed_point" in results:
        info["fixed_point"] = {n: _rate(v) for n, v in results["fixed_point"].items()}
    if "contamination" in results:
        info["contaminated_prompts"] = results["contamination"]["ngram"]["contaminated"]
    return info


def _rate(value: dict) -> dict:
    return {"rate": None if value["rate"] != value["rate"] else round(value["rate"], 4),
            "ci95": [round(x, 4) for x in value["ci95"]], "n": value["n"]}


def served_stack(project: Project):
    """serve.yaml's config, whose stack must be the one in stack.yaml (else a ConfigError)."""
    cfg = project.serve()
    diff = differing_fields(cfg.stack, project.stack())
    if diff:
        raise ConfigError(f"serve.yaml's stack differs from stack.yaml in {', '.join(diff)} "
                          f"(what is measured must be what is served: make them the same)",
                          path=project.config_file("serve_config"), field=f"stack.{diff[0]}")
    return cfg


def serve_stage(project: Project) -> dict:
    import yaml

    from alignstack.serve.config import load_serve_config

    cfg = served_stack(project)
    serve_file = project.config_file("serve_config")
    check_artefacts(cfg.stack, serve_file, "stack.")
    out = project.path(SERVED_CONFIG)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = (f"# Written by `alignstack build`: {project.relative(serve_file)} with every path "
              f"absolute. Do not edit; edit\n# serve.yaml or stack.yaml and run the build "
              f"again (only this stage reruns).\n")
    out.write_text(header + yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False,
                                           allow_unicode=True), encoding="utf-8")
    load_serve_config(out)
    return {"config": project.relative(out), "model_name": cfg.model_name,
            "upstream": f"{cfg.stack.backend}:{cfg.stack.upstream}",
            "api_keys": len(cfg.api_keys)}


# -- one line per stage for the view -------------------------------------------------------------

def stage_line(name: str, info: dict) -> str:
    if name == "synth":
        return (f"{info['records']} records ({info['unparseable']} unparseable, "
                f"{info['filtered']} filtered)")
    if name == "data":
        t = info["train"]
        return (f"train {t['qac']} Q-A-C ({t['rewrites']} rewrites), {t['requests']} questions, "
                f"{t['answers']} answers; held out {info['heldout']['qac']} Q-A-C")
    if name == "corrector":
        loss = info["heldout_loss"] if info["heldout_loss"] is not None else info["train_loss"]
        which = "held-out" if info["heldout_loss"] is not None else "train"
        return f"{info['steps']} steps, {which} loss {loss}"
    if name in ("request_gate", "answer_gate"):
        auroc = info["auroc_heldout"]
        return (f"held-out AUROC {auroc}" if auroc is not None
                else f"calibration AUROC {info['auroc_calibration']}")
    if name == "eval":
        stack = info["systems"][info["stack_system"]]
        shown = ", ".join(f"{m} {v['rate']:.0%}" for m, v in stack.items()
                          if m in ("safe_rate", "over_refusal_rate") and v["rate"] is not None)
        return f"{info['n_items']} prompts; {info['stack_system']}: {shown}"
    if name == "serve":
        return info["config"]
    return ""


# -- the build ----------------------------------------------------------------------------------

def stages_of(project: Project, reporter: Reporter) -> list[Stage]:
    """The stages, every config loaded (and the stack checks made) before anything runs, so a
    mistake in eval.yaml stops the build at once, not after hours of synthesis and training."""
    cfg = project.cfg
    flow = project.synth_flow()
    synth_out = Path(flow.output_dir)
    data_dir = project.path(cfg.data_dir)
    corrector = project.corrector()
    gates = {w: project.gate(w) for w in ("request_gate_config", "answer_gate_config")}
    evaluation = project.eval()
    measured_stack(evaluation.systems, project.stack(), project.config_file("eval_config"))
    served_stack(project)
    conf = project.config_file
    data_files = [data_dir / s / f for s in ("train", "heldout")
                  for f in ("qac.jsonl", "requests.jsonl", "answers.jsonl")]
    trained = ["corrector", "request_gate", "answer_gate"]
    stages = [
        Stage("synth", lambda: synth_stage(project, reporter),
              reads=[conf("synth_config"), flow.resolve(flow.principles)],
              outputs=lambda: [synth_out / "qac.jsonl", synth_out / "stats.json"]),
        Stage("data", lambda: data_stage(project),
              reads=[project.path(p) for p in cfg.seed_files], after=["synth"],
              extra=json.dumps([cfg.heldout_fraction, cfg.min_records, cfg.min_rewrites,
                                cfg.min_per_label, cfg.seed_files]),
              outputs=lambda: [data_dir / "counts.json", *data_files]),
        Stage("corrector", lambda: corrector_stage(project),
              reads=[conf("corrector_config")] + ([Path(corrector.principles_file)]
                                                  if corrector.principles_file else []),
              after=["data"], outputs=lambda: [Path(corrector.output_dir) / "corrector.json",
                                               Path(corrector.output_dir) / "train_metrics.json"]),
        *[Stage(name, lambda w=which, t=title: gate_stage(project, w, t),
                reads=[conf(which)], after=["data"],
                outputs=lambda d=Path(gates[which].output_dir): [d / "inspector.json",
                                                                 d / "metrics.json"])
          for name, which, title in (("request_gate", "request_gate_config", "request gate"),
                                     ("answer_gate", "answer_gate_config", "answer gate"))],
        Stage("eval", lambda: eval_stage(project, reporter),
              reads=[conf("eval_config"), conf("stack_file"),
                     Path(evaluation.principles_file)], after=trained,
              outputs=lambda: [Path(evaluation.output_dir) / "results.json",
                               Path(evaluation.output_dir) / "report.html"]),
        Stage("serve", lambda: serve_stage(project),
              reads=[conf("serve_config"), conf("stack_file")], after=trained,
              outputs=lambda: [project.path(SERVED_CONFIG)]),
    ]
    for stage in stages:
        stage.summary = lambda info, name=stage.name: stage_line(name, info)
    return stages


def next_commands(project: Project, results: dict[str, dict]) -> list[str]:
    served = project.path(SERVED_CONFIG)
    steps = []
    if results.get("serve", {}).get("info", {}).get("api_keys") == 0:
        steps.append(f"alignstack serve --hash-key <a long random key>   # then list the printed "
                     f"hash under api_keys in {project.relative(project.config_file('serve_config'))}"
                     f" and run the build again")
    steps.append(f"alignstack serve --config {served}")
    return steps


def build_project(root: str | Path, overrides: Sequence[str] | dict = (),
                  reporter: Reporter | None = None) -> dict:
    """Run every stage that is not already done; write and return the summary. A failing stage
    is logged, the summary written (with the failure), and the error raised."""
    reporter = reporter or QuietReporter()
    root = Path(root)
    if not root.is_dir():
        raise ConfigError("not a project directory (make one with `alignstack init DIR`)",
                          path=root)
    cfg: BuildConfig = load_build_config(root, overrides)
    if cfg.threads:
        from alignstack.backends.hardware import configure_torch

        configure_torch(cfg.threads)
    project = Project(root, cfg)
    stages = stages_of(project, reporter)
    log = StageLog(project.path(LOG_FILE))
    started = time.monotonic()
    results: dict[str, dict] = {}
    try:
        results = run_stages(stages, log, reporter, relative=project.relative, into=results)
    except BaseException as exc:          # a kill (Ctrl-C) too: the summary says where it stopped
        failure = {"stage": next(s.name for s in stages if s.name not in results),
                   "error": str(exc)}
        exc.build_summary = summary_of(project, results, failure, started)   # for the CLI's table
        raise
    return summary_of(project, results, None, started)


def summary_of(project: Project, results: dict[str, dict], failure: dict | None,
               started: float) -> dict:
    """The build's summary, also written to runs/build_summary.json."""
    summary = {"project": str(project.root), "finished": failure is None,
               "seconds": round(time.monotonic() - started, 1), "failed": failure,
               "stages": {name: {k: r.get(k) for k in ("status", "seconds", "outputs", "info")}
                          for name, r in results.items()},
               "next": next_commands(project, results) if failure is None else []}
    write_json(project.path(SUMMARY_FILE), summary)
    return summary
