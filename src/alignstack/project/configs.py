"""The project's config files, each read by the loader of the command it stands for, with every
relative path made relative to the project directory (the commands themselves read paths from
the directory they run in: `cd DIR` first to run one by hand)."""

from __future__ import annotations

from pathlib import Path

from alignstack.core.config import as_list
from alignstack.project.config import BuildConfig

STACK_PATHS = ("corrector", "corrector_gguf", "squad", "inspector", "request_gate")


class Project:
    """DIR and its build config: where each config file is, and paths resolved against DIR."""

    def __init__(self, root: str | Path, cfg: BuildConfig):
        self.root = Path(root).resolve()
        self.cfg = cfg

    # -- paths -----------------------------------------------------------------------------------
    def path(self, value: str) -> Path:
        """A file or output path: relative ones are relative to the project directory."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.root / path

    def model(self, value: str) -> str:
        """A model or artefact (a built-in name, a hub id, a trained corrector or gate): the
        project's when DIR holds it, else as written (the build checks that what a stack names
        exists before it evaluates or serves it)."""
        if Path(value).expanduser().is_absolute():
            return value
        return str(self.root / value) if (self.root / value).exists() else value

    def relative(self, path: str | Path) -> str:
        """For reports: a path under DIR as DIR-relative, others as they are."""
        try:
            return Path(path).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def config_file(self, name: str) -> Path:
        return self.path(getattr(self.cfg, name))

    # -- loaders ---------------------------------------------------------------------------------
    def synth_flow(self):
        from alignstack.synth.flow import load_flow

        path = self.config_file("synth_config")
        flow = load_flow(path)
        flow.output_dir = str(self.path(flow.output_dir))
        return flow

    def corrector(self, overrides: dict | None = None):
        from alignstack.core.config import load_config
        from alignstack.correct.config import CorrectorTrainConfig

        cfg = load_config(CorrectorTrainConfig, self.config_file("corrector_config"),
                          overrides or {})
        for name in ("train_file", "eval_file", "output_dir", "principles_file"):
            if getattr(cfg, name):
                setattr(cfg, name, str(self.path(getattr(cfg, name))))
        cfg.base_model = self.model(cfg.base_model)
        return cfg

    def gate(self, which: str, overrides: dict | None = None):
        """`which`: request_gate_config or answer_gate_config."""
        from alignstack.core.config import load_config
        from alignstack.inspect.config import InspectorTrainConfig

        cfg = load_config(InspectorTrainConfig, self.config_file(which), overrides or {})
        cfg.train_file = str(self.path(cfg.train_file))
        cfg.extra_train_files = [str(self.path(p)) for p in cfg.extra_train_files]
        cfg.output_dir = str(self.path(cfg.output_dir))
        if cfg.eval_file:
            cfg.eval_file = str(self.path(cfg.eval_file))
        if cfg.encoder:
            cfg.encoder = self.model(cfg.encoder)
        return cfg

    def resolve_stack(self, spec):
        """A StackSpec (or an eval SystemSpec) with its artefacts and local models under DIR."""
        update: dict = {name: self.model(getattr(spec, name))
                        for name in STACK_PATHS if getattr(spec, name)}
        if spec.answer_gate:
            gates = [self.model(g) for g in as_list(spec.answer_gate)]
            update["answer_gate"] = gates[0] if isinstance(spec.answer_gate, str) else gates
        update["upstream"] = self.model(spec.upstream)
        return spec.model_copy(update=update)

    def stack(self):
        from alignstack.correct.assemble import load_stack_spec

        return self.resolve_stack(load_stack_spec(self.config_file("stack_file")))

    def eval(self):
        from alignstack.evaluate.config import load_eval_config

        cfg = load_eval_config(self.config_file("eval_config"))
        update: dict = {
            "output_dir": str(self.path(cfg.output_dir)),
            "principles_file": str(self.path(cfg.principles_file)),
            "ledger": str(self.path(cfg.ledger)),
            "systems": [self.resolve_stack(s) for s in cfg.systems],
            "suites": [s.model_copy(update={"path": str(self.path(s.path))}) if s.path else s
                       for s in cfg.suites],
            "contamination_files": [f if f == "auto" else str(self.path(f))
                                    for f in cfg.contamination_files]}
        if cfg.cache_dir:
            update["cache_dir"] = str(self.path(cfg.cache_dir))
        if cfg.fixed_point:
            update["fixed_point"] = cfg.fixed_point.model_copy(update={
                "file": str(self.path(cfg.fixed_point.file)),
                "also": {k: str(self.path(v)) for k, v in cfg.fixed_point.also.items()}})
        return cfg.model_copy(update=update)

    def serve(self):
        from alignstack.serve.config import load_serve_config

        cfg = load_serve_config(self.config_file("serve_config"))
        update: dict = {"principles_file": str(self.path(cfg.principles_file)),
                        "stack": self.resolve_stack(cfg.stack)}
        if cfg.screen:
            update["screen"] = cfg.screen.model_copy(update={"gate": self.model(cfg.screen.gate)})
        if cfg.audit.path:
            update["audit"] = cfg.audit.model_copy(update={"path": str(self.path(cfg.audit.path))})
        return cfg.model_copy(update=update)

    def validate(self) -> list[str]:
        """Load every config with its own loader (nothing trains); returns the files read."""
        from alignstack.core.principles import load_constitution

        flow = self.synth_flow()
        load_constitution(flow.resolve(flow.principles))
        self.corrector()
        self.gate("request_gate_config")
        self.gate("answer_gate_config")
        self.stack()
        self.eval()
        self.serve()
        names = ("synth_config", "corrector_config", "request_gate_config", "answer_gate_config",
                 "stack_file", "eval_config", "serve_config")
        return [self.relative(self.config_file(n)) for n in names]


def differing_fields(a, b) -> list[str]:
    """The StackSpec fields on which two specs differ (a SystemSpec's `name` ignored)."""
    from alignstack.correct.assemble import StackSpec

    left, right = a.model_dump(), b.model_dump()
    for side in (left, right):
        side["answer_gate"] = as_list(side.get("answer_gate"))
    return [f for f in StackSpec.model_fields if left.get(f) != right.get(f)]
