"""`alignstack init DIR`: a project for a new organisation, its configs pointing at each other
with paths relative to DIR, each one checked by the loader of the command that reads it.

The files come from the jinja templates beside this module (templates/*.jinja); the stack is
written once here (STACK) and rendered into stack.yaml, serve.yaml and eval.yaml, so the three
agree from the start (the build keeps checking that they do)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from alignstack.core.errors import ConfigError

TEMPLATES = Path(__file__).resolve().parent / "templates"
FILES = ("principles.yaml", "synth.yaml", "build.yaml", "corrector.yaml", "request_gate.yaml",
         "inspector.yaml", "stack.yaml", "serve.yaml", "eval.yaml", "README.md")
STACK = {"upstream": "smollm2", "backend": "llamacpp", "corrector": "runs/corrector",
         "corrector_engine": "llamacpp", "answer_gate": "runs/answer-gate",
         "request_gate": "runs/request-gate", "refuse_flagged": True, "rewrite_failed": "auto",
         "verify_rewrites": "all"}


def slug(text: str) -> str:
    """A name usable as a flow name and a model id: lower case, a-z 0-9 and dashes."""
    out = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return out or "my-org"


def _yaml(value) -> str:
    """A scalar as YAML (strings double-quoted as JSON, which YAML reads)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)


_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9_./-]*$")
_SPECIAL = {"true", "false", "null", "yes", "no", "on", "off", "y", "n"}


def _text(value) -> str:
    plain = isinstance(value, str) and _PLAIN.match(value) and value.lower() not in _SPECIAL
    return value if plain else _yaml(value)


def _flow(mapping: dict, indent: int = 4, width: int = 96, **first) -> str:
    """A mapping as a YAML flow mapping, {key: value, ...}, wrapped before `width` columns with
    continuation lines indented by `indent` (plain words unquoted)."""
    lines, line = [], "{"
    items = [f"{k}: {_text(v)}" for k, v in {**first, **mapping}.items()]
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "}")
        if len(line) + len(piece) + 1 > width - indent and line.strip() != "{":
            lines.append(line.rstrip())
            line = " " * indent
        line += piece + " "
    return "\n".join(lines + [line.rstrip()])


def _block(mapping: dict, indent: int = 2) -> str:
    """A mapping as indented YAML block lines (one key a line), for under a parent key."""
    return "\n".join(f"{' ' * indent}{k}: {_text(v)}" for k, v in mapping.items())


def render(template: str, **values) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)
    env.filters["yaml"] = _yaml
    env.filters["flow"] = _flow
    env.filters["block"] = _block
    return env.get_template(f"{template}.jinja").render(**values)


def check_target(target: Path, force: bool) -> None:
    if target.exists() and not target.is_dir():
        raise ConfigError("exists and is not a directory", path=target)
    if target.is_dir() and any(target.iterdir()) and not force:
        raise ConfigError("directory is not empty: choose a new one, or pass --force to "
                          "overwrite the project files in it", path=target)


def init_project(target: str | Path, *, name: str | None = None,
                 principles: str | Path | None = None, teacher_url: str | None = None,
                 teacher_model: str | None = None, force: bool = False) -> list[Path]:
    """Write a project into `target`; returns the files written. `principles`: an existing
    principles file to start from (validated, copied as principles.yaml) instead of the
    commented starter set. Every config written is loaded back by its own loader."""
    from alignstack.core.principles import load_constitution

    target = Path(target)
    if bool(teacher_url) != bool(teacher_model):
        raise ConfigError("give --teacher-url and --teacher-model together (the server's "
                          "address and the model name it serves)",
                          field="--teacher-url" if not teacher_url else "--teacher-model")
    check_target(target, force)
    constitution = load_constitution(principles) if principles else None
    org = name or (constitution.name if constitution else None) or target.resolve().name
    description = " ".join((constitution.description if constitution else "").split())
    context = (f"You write realistic test data for the AI assistant of {org}"
               + (f": {description}" if description else ".")
               + " Follow the instructions exactly and reply with what is asked only.")
    values = {"name": org, "slug": slug(org), "dirname": target.as_posix(),
              "teacher_url": teacher_url, "teacher_model": teacher_model, "context": context,
              "stack": STACK}
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for file in FILES:
        out = target / file
        if file == "principles.yaml" and principles:
            if Path(principles).resolve() != out.resolve():
                shutil.copyfile(principles, out)
        else:
            out.write_text(render(file, **values), encoding="utf-8")
        written.append(out)
    validate_project(target)
    return written


def validate_project(target: str | Path) -> list[str]:
    """Load every config of the project at `target` with its own loader; returns the files
    checked (a ConfigError names the first bad file, line and field)."""
    from alignstack.project.config import load_build_config
    from alignstack.project.configs import Project

    project = Project(target, load_build_config(target))
    return ["build.yaml", *project.validate()]
