"""The synth flow file: schema (pydantic), loading, and cross-checks that name file, line, field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alignstack.core.errors import ConfigError
from alignstack.core.principles import Constitution, load_constitution
from alignstack.core.yamlio import field_path, line_of, load_yaml

Kind = Literal["harmful", "benign", "borderline"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BackendSpec(Strict):
    """`kind` is a registered backend (transformers, openai); the rest goes to its constructor."""

    model_config = ConfigDict(extra="allow")
    kind: str = "transformers"
    model: str = "smollm2"

    def options(self) -> dict[str, Any]:
        return {"model": self.model, **(self.model_extra or {})}


class Params(Strict):
    max_new_tokens: int = Field(default=64, ge=1, le=4096)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int | None = None


class TaskSpec(Strict):
    task: str
    backend: str = "teacher"
    params: Params = Field(default_factory=Params)
    samples: int = Field(default=1, ge=1, le=100, description="outputs per input row")
    batch_size: int = Field(default=8, ge=1)
    kinds: list[Kind] = Field(default_factory=lambda: ["harmful", "benign", "borderline"])
    kinds_per_topic: int | None = Field(default=None, ge=1)
    system_prompt: str | None = None
    revise_fine: bool = False


class Document(Strict):
    id: str = Field(min_length=1)
    title: str = ""
    text: str = Field(min_length=20)


class SelectSpec(Strict):
    embedding_dedup: bool = True
    encoder: str | None = None            # None: the shipped all-MiniLM-L6-v2
    dedup_threshold: float = Field(default=0.92, gt=0.0, le=1.0)
    diversity_threshold: float = Field(default=0.98, gt=0.0, le=1.0)
    max_rows: int | None = Field(default=None, ge=1)


class Flow(Strict):
    name: str = Field(min_length=1)
    principles: str
    principle_ids: list[str] = Field(default_factory=list)
    output_dir: str
    backends: dict[str, BackendSpec] = Field(min_length=1)
    grounding: list[Document] = Field(default_factory=list)
    tasks: list[TaskSpec] = Field(min_length=1)
    select: SelectSpec = Field(default_factory=SelectSpec)

    # filled by load_flow
    path: Path | None = Field(default=None, exclude=True)
    constitution: Constitution | None = Field(default=None, exclude=True)

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if any(c.isspace() or c == ":" for c in value):
            raise ValueError("name must not contain spaces or ':'")
        return value

    def resolve(self, relative: str) -> Path:
        path = Path(relative).expanduser()
        return path if path.is_absolute() or self.path is None else self.path.parent / path


def _error(path: Path, node, loc: list, message: str) -> ConfigError:
    return ConfigError(message, path=path, line=line_of(node, loc), field=field_path(loc))


def load_flow(path: str | Path, *, output_dir: str | None = None) -> Flow:
    """Load and validate a flow; the principles file it names is loaded and checked too."""
    from alignstack.synth.tasks import TASKS

    path = Path(path)
    data, node = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping at the top level", path=path, line=1)
    try:
        flow = Flow.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        raise _error(path, node, loc, err["msg"]) from None
    flow.path = path
    if output_dir is not None:
        flow.output_dir = output_dir
    principles_file = flow.resolve(flow.principles)
    if not principles_file.exists():
        raise _error(path, node, ["principles"], f"principles file not found: {principles_file}")
    flow.constitution = load_constitution(principles_file)
    for i, pid in enumerate(flow.principle_ids):
        if pid not in flow.constitution.ids:
            raise _error(path, node, ["principle_ids", i],
                         f"unknown principle '{pid}' (known: {', '.join(flow.constitution.ids)})")
    available: set[str] = set()
    for i, spec in enumerate(flow.tasks):
        if spec.task not in TASKS:
            raise _error(path, node, ["tasks", i, "task"],
                         f"unknown task '{spec.task}' (known: {', '.join(TASKS.names())})")
        if spec.backend not in flow.backends:
            raise _error(path, node, ["tasks", i, "backend"],
                         f"unknown backend '{spec.backend}' (defined: {', '.join(flow.backends)})")
        task_cls = TASKS.get(spec.task)
        missing = [f for f in task_cls.inputs if f not in available]
        if missing:
            raise _error(path, node, ["tasks", i, "task"],
                         f"task '{spec.task}' needs {', '.join(missing)} from an earlier task")
        available |= set(task_cls.outputs)
    return flow
