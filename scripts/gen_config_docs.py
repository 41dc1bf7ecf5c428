"""Generate docs/configuration.md from the config dataclasses and pydantic models themselves.

Every YAML file alignstack reads maps 1:1 onto one of these classes (TRL style), so the page is
written from them: each field's name, its type as written in the source, its real default, its
constraints (pydantic `Field(ge=...)` and the like) and the comment beside it in the source. A
field added, removed or re-commented in the code changes the page; `tests/unit/test_docs.py`
regenerates it and fails when the committed page differs, and fails when a config module defines
a class this script does not document.

    python scripts/gen_config_docs.py            # rewrite docs/configuration.md
    python scripts/gen_config_docs.py --check    # exit 1 when the committed page is stale
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import inspect
import io
import json
import sys
import textwrap
import tokenize
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "configuration.md"

# (title, what reads it, example files in the repository, module, classes in the order shown)
SECTIONS: list[tuple[str, str, list[str], str, list[str]]] = [
    ("Principles file", "every command that takes `principles_file` (the corrector's prompt, "
     "synth, eval's in-context baseline, serve); validated by "
     "`alignstack.core.principles.load_constitution`. A file holds one `Constitution` whose "
     "`principles` are `Principle` records",
     ["examples/newsroom/principles.yaml"],
     "alignstack.core.principles", ["Constitution", "Principle"]),
    ("Stack", "one system: `stack:` in `serve.yaml`, each entry of `systems:` in an eval config "
     "(with a `name`), `stack:` in a bootstrap config; `alignstack stack` builds the same spec "
     "from its flags. One builder (`alignstack.correct.assemble.build_stack`) for all of them",
     ["examples/newsroom/serve.yaml", "examples/newsroom/eval.yaml"],
     "alignstack.correct.assemble", ["StackSpec"]),
    ("Training a corrector", "`alignstack train corrector --config FILE [--set key=value]`",
     ["examples/newsroom/corrector.yaml", "examples/newsroom/recipes/corrector-v1.yaml"],
     "alignstack.correct.config", ["CorrectorTrainConfig"]),
    ("Training an inspector or a gate", "`alignstack train inspector --config FILE "
     "[--set key=value]`: an answer inspector (`inputs: pair`) or a request gate "
     "(`inputs: question`)",
     ["examples/newsroom/inspector.yaml", "examples/newsroom/inspector_finetuned.yaml",
      "examples/newsroom/request_gate.yaml"],
     "alignstack.inspect.config", ["InspectorTrainConfig"]),
    ("Squad", "the file named by a stack's `squad:` (or `alignstack stack --squad FILE`)",
     ["examples/newsroom/squad.yaml"],
     "alignstack.correct.squad", ["SquadConfig", "MemberConfig"]),
    ("Synthetic data flow", "`alignstack synth --config FILE`",
     ["examples/newsroom/synth.yaml"],
     "alignstack.synth.flow", ["Flow", "BackendSpec", "TaskSpec", "Params", "Document",
                               "SelectSpec"]),
    ("Evaluation", "`alignstack eval --config FILE [--set key=value]`; also a bootstrap's "
     "`eval_config`",
     ["examples/newsroom/eval.yaml", "examples/newsroom/eval_bootstrap.yaml",
      "examples/newsroom/eval_gating.yaml", "examples/newsroom/eval_engines.yaml"],
     "alignstack.evaluate.config", ["EvalConfig", "SuiteSpec", "SystemSpec", "JudgeSpec",
                                    "PairwiseSpec", "FixedPointSpec"]),
    ("Preference optimisation", "`alignstack optimize --config FILE [--set key=value]`; "
     "`method:` picks the dataclass (default `dpo`)",
     ["examples/newsroom/dpo.yaml"],
     "alignstack.optimize.config", ["OptimizeConfig", "SFTMethodConfig", "DPOMethodConfig",
                                    "KTOMethodConfig", "ORPOMethodConfig", "SimPOMethodConfig"]),
    ("Bootstrap", "`alignstack bootstrap --config FILE [--set key=value]`",
     ["examples/newsroom/bootstrap.yaml", "examples/newsroom/recipes/bootstrap-boundary.yaml"],
     "alignstack.optimize.config", ["BootstrapConfig"]),
    ("Serving (the proxy)", "`alignstack serve --config FILE`",
     ["examples/newsroom/serve.yaml"],
     "alignstack.serve.config", ["ServeConfig", "FailPolicy", "Screen", "Limits", "Batching",
                                 "Audit"]),
    ("Demo", "`alignstack demo --config FILE [--set key=value]` (`make demo`)",
     ["examples/newsroom/demo.yaml"],
     "alignstack.demo", ["DemoConfig"]),
    ("Your own project", "`alignstack build DIR [--set key=value]` reads `DIR/build.yaml` when "
     "it exists (`alignstack init DIR` writes it); paths are relative to DIR",
     [], "alignstack.project.config", ["BuildConfig"]),
]

# Modules whose every config class must be documented above (the drift check), and classes that
# are deliberately left out, with the reason printed on the page.
CONFIG_MODULES = ["alignstack.core.principles", "alignstack.correct.assemble",
                  "alignstack.correct.config", "alignstack.inspect.config",
                  "alignstack.synth.flow", "alignstack.evaluate.config",
                  "alignstack.optimize.config", "alignstack.serve.config", "alignstack.demo",
                  "alignstack.project.config"]
LEFT_OUT = {
    "alignstack.correct.config.CorrectorRunConfig":
        "defined, but no command reads it: `alignstack correct` takes its settings as flags",
}
BASES = {"Strict"}          # shared `extra="forbid"` bases, no fields of their own


def is_config_class(obj) -> bool:
    from pydantic import BaseModel

    return inspect.isclass(obj) and (dataclasses.is_dataclass(obj)
                                     or (issubclass(obj, BaseModel) and obj is not BaseModel))


def undocumented() -> list[str]:
    """Config classes defined in CONFIG_MODULES that neither SECTIONS nor LEFT_OUT names."""
    named = {f"{module}.{cls}" for *_, module, classes in SECTIONS for cls in classes}
    missing = []
    for module_name in CONFIG_MODULES:
        module = importlib.import_module(module_name)
        for name, obj in vars(module).items():
            if (is_config_class(obj) and obj.__module__ == module_name and name not in BASES
                    and f"{module_name}.{name}" not in named | set(LEFT_OUT)):
                missing.append(f"{module_name}.{name}")
    return sorted(missing)


# ---- reading the source: annotations, defaults as written, comments --------------------------

@dataclasses.dataclass
class SourceField:
    annotation: str
    comment: str


def source_fields(cls) -> dict[str, SourceField]:
    """Per field defined in the class body: its annotation as written and its comments (the
    block of comment lines right above it, then the comment at the end of its line with any
    comment-only lines indented further that continue it)."""
    source = textwrap.dedent(inspect.getsource(cls))
    lines = source.splitlines()
    comments: dict[int, tuple[int, str, bool]] = {}     # line -> (column, text, whole line)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            row, col = tok.start
            whole = not lines[row - 1][:col].strip()
            comments[row] = (col, tok.string.lstrip("#").strip(), whole)
    body = ast.parse(source).body[0].body
    out: dict[str, SourceField] = {}
    previous_end = 0
    for node in body:
        start = node.lineno - (len(node.decorator_list) if hasattr(node, "decorator_list") else 0)
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            indent = node.col_offset
            above = []
            row = start - 1
            while row > previous_end and row in comments and comments[row][2] \
                    and comments[row][0] == indent:
                above.insert(0, comments[row][1])
                row -= 1
            after = []
            end = node.end_lineno
            if end in comments and not comments[end][2]:
                after.append(comments[end][1])
                row = end + 1
                while row in comments and comments[row][2] and comments[row][0] > indent:
                    after.append(comments[row][1])
                    row += 1
                end = row - 1
            text = " ".join(part for part in above + after if part)
            out[node.target.id] = SourceField(ast.get_source_segment(source, node.annotation),
                                              text)
            previous_end = end
        else:
            previous_end = node.end_lineno
    return out


def defining_class(cls, name: str):
    """The class in the MRO whose own body defines field `name` last (closest to `cls`)."""
    for klass in cls.__mro__:
        if name in vars(klass).get("__annotations__", {}):
            return klass
    return cls


# ---- rendering -------------------------------------------------------------------------------

def scalar(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def anchor(name: str) -> str:
    return name.lower()


def default_text(value) -> str:
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        name = type(value).__name__
        return f"every default of [`{name}`](#{anchor(name)})"
    return f"`{scalar(value)}`"


def constraints(field_info, annotation: str) -> list[str]:
    """Pydantic constraints as words: ≥ 1, > 0, at least 1 item, at least 10 characters ..."""
    unit = "character(s)" if annotation.startswith("str") else "item(s)"
    out = []
    for meta in getattr(field_info, "metadata", []):
        for attr, word in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if getattr(meta, attr, None) is not None:
                out.append(f"{word} {getattr(meta, attr)}")
        if getattr(meta, "min_length", None) is not None:
            out.append(f"at least {meta.min_length} {unit}")
        if getattr(meta, "max_length", None) is not None:
            out.append(f"at most {meta.max_length} {unit}")
        if getattr(meta, "pattern", None) is not None:
            out.append(f"matches `{meta.pattern}`")
    return out


def fields_of(cls) -> list[tuple[str, object, object]]:
    """(name, default or REQUIRED, pydantic FieldInfo or None) in declaration order."""
    if dataclasses.is_dataclass(cls):
        rows = []
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                default = REQUIRED
            rows.append((f.name, default, None))
        return rows
    rows = []
    for name, info in cls.model_fields.items():
        if info.exclude:
            continue
        default = REQUIRED if info.is_required() else info.get_default(call_default_factory=True)
        rows.append((name, default, info))
    return rows


REQUIRED = object()


def render_class(cls) -> list[str]:
    name = cls.__name__
    lines = [f"### `{name}`", ""]
    own_doc = cls.__doc__ if "__doc__" in vars(cls) else None
    if own_doc and not own_doc.startswith(f"{name}("):       # not a dataclass's generated one
        lines += [" ".join(inspect.cleandoc(own_doc).split()), ""]
    bases = [b for b in cls.__bases__ if is_config_class(b) and b.__name__ not in BASES]
    inherited = {}
    for base in bases:
        lines += [f"Every field of [`{base.__name__}`](#{anchor(base.__name__)}), and:", ""]
        inherited.update({n: d for n, d, _ in fields_of(base)})
    extra = getattr(cls, "model_config", {}).get("extra") if hasattr(cls, "model_config") else None
    if extra == "allow":
        lines += ["Keys not listed here are accepted and passed on (see above).", ""]
    elif extra == "forbid" or dataclasses.is_dataclass(cls):
        pass
    sources: dict[type, dict[str, SourceField]] = {}
    for field_name, default, info in fields_of(cls):
        owner = defining_class(cls, field_name)
        if bases and owner is not cls and field_name in inherited \
                and _same(inherited[field_name], default):
            continue                                          # inherited unchanged
        if owner not in sources:
            sources[owner] = source_fields(owner)
        src = sources[owner].get(field_name, SourceField("?", ""))
        parts = [f"`{src.annotation}`"]
        parts.append("**required**" if default is REQUIRED else f"default {default_text(default)}")
        if info is not None:
            parts += constraints(info, src.annotation)
            if info.description:
                parts.append(info.description)
        line = f"- **`{field_name}`** ({', '.join(parts)})"
        if src.comment:
            line += f": {src.comment}"
        lines.append(line)
    lines.append("")
    module = sys.modules[cls.__module__]
    aliases = [(alias, value) for alias, value in vars(module).items()
               if typing.get_origin(value) is typing.Literal]
    for alias, value in aliases:
        if any(alias in part for part in _annotations(cls)):
            lines += [f"`{alias}` is one of: "
                      + ", ".join(f"`{v}`" for v in typing.get_args(value)) + ".", ""]
    return lines


def _annotations(cls) -> list[str]:
    return [src.annotation for klass in cls.__mro__ if is_config_class(klass)
            for src in source_fields(klass).values()]


def _same(a, b) -> bool:
    try:
        return a == b
    except Exception:       # noqa: BLE001 - exotic defaults compare as different
        return False


HEADER = """\
# Configuration

<!-- GENERATED by scripts/gen_config_docs.py from the config classes: do not edit by hand.
     Regenerate with `python scripts/gen_config_docs.py`; tests/unit/test_docs.py fails when
     this page and the code disagree. -->

Every command that takes `--config FILE` reads a YAML file whose keys are the fields of one class
below, one to one (TRL style): an unknown key, a wrong type or a missing required field is an
error naming the file, the line and the field. `--set key=value` (repeatable) overrides a field
from the command line; the value is read as YAML (`--set lr=1e-4`, `--set 'kind_limits={harmful:
250}'`). Types are shown as written in the source (`X | None`: the key may be `null` or left
out). Each field's note is the comment beside it in the source.

"""


def render() -> str:
    for *_, examples, _module, _classes in SECTIONS:
        for example in examples:
            if not (ROOT / example).exists():
                raise SystemExit(f"gen_config_docs: example file {example} does not exist")
    out = [HEADER.rstrip("\n"), ""]
    out += ["| config | example files |", "| --- | --- |"]
    for title, _reads, examples, _module, _classes in SECTIONS:
        slug = "-".join(title.lower().replace("(", "").replace(")", "").split())
        out.append(f"| [{title}](#{slug}) | {', '.join(f'`{e}`' for e in examples)} |")
    out.append("")
    for title, reads, examples, module_name, classes in SECTIONS:
        module = importlib.import_module(module_name)
        out += [f"## {title}", "", f"Read by: {reads}.", "",
                "Examples: " + ", ".join(f"`{e}`" for e in examples) + ".", ""]
        for cls_name in classes:
            out += render_class(getattr(module, cls_name))
    if LEFT_OUT:
        out += ["## Not documented here", ""]
        out += [f"- `{path}`: {why}." for path, why in sorted(LEFT_OUT.items())]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when docs/configuration.md is not what the code generates")
    args = parser.parse_args(argv)
    missing = undocumented()
    if missing:
        print("config classes not documented (add them to SECTIONS or LEFT_OUT): "
              + ", ".join(missing), file=sys.stderr)
        return 1
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run python scripts/gen_config_docs.py",
                  file=sys.stderr)
            return 1
        return 0
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
