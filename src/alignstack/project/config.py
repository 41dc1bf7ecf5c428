"""`alignstack build`'s own config: DIR/build.yaml (optional; every field has a default), its keys
the fields of `BuildConfig`, `--set key=value` on top. Paths are relative to the project
directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

BUILD_FILE = "build.yaml"


@dataclass
class BuildConfig:
    # the stage configs, each read by the loader of the command it stands for
    synth_config: str = "synth.yaml"                 # alignstack synth
    corrector_config: str = "corrector.yaml"         # alignstack train corrector
    request_gate_config: str = "request_gate.yaml"   # alignstack train inspector (questions)
    answer_gate_config: str = "inspector.yaml"       # alignstack train inspector (answers)
    eval_config: str = "eval.yaml"                   # alignstack eval
    stack_file: str = "stack.yaml"                   # the one stack: eval measures it, serve runs it
    serve_config: str = "serve.yaml"                 # alignstack serve (build writes runs/serve.yaml)
    # the data stage: the synth run (and seed_files) split into training and held-out files
    data_dir: str = "runs/data"
    # hand-written Q-A-C records of your own (question, answer, correction, kind, principles),
    # used beside the synthetic ones
    seed_files: list[str] = field(default_factory=list)
    # a question is held out (never trained on) when its hash falls below this share
    heldout_fraction: float = 0.15
    # below these, the data stage stops the build with what each stage produced: too little to
    # train on (the training split, synthetic and seed records together)
    min_records: int = 50          # Q-A-C records
    min_rewrites: int = 10         # of them, records whose correction changes the answer
    min_per_label: int = 10        # harmful and other questions; misaligned and aligned answers
    threads: int | None = None     # torch threads (default: ALIGNSTACK_THREADS, else the cores)


def load_build_config(project: str | Path, overrides: Sequence[str] | dict = ()) -> BuildConfig:
    """DIR/build.yaml when it exists (else the defaults), with `overrides` on top; errors name
    the file, line and field."""
    from alignstack.core.config import load_config
    from alignstack.core.errors import ConfigError

    path = Path(project) / BUILD_FILE
    cfg = load_config(BuildConfig, path if path.is_file() else None, overrides)
    where = path if path.is_file() else None
    if not 0 <= cfg.heldout_fraction < 1:
        raise ConfigError("must be at least 0 and below 1", path=where, field="heldout_fraction")
    for name in ("min_records", "min_rewrites", "min_per_label"):
        if getattr(cfg, name) < 1:
            raise ConfigError("must be at least 1", path=where, field=name)
    return cfg
