"""The sealed test split, checked statically: nothing committed may read it except
`alignstack eval --final` typed by a person (each such run lands in results/ledger.jsonl).

`sealed_split_violations(root)` scans what a repository runs without a person deciding to:
- every YAML file under examples/ and bench/ (configs, recipes): a `split` or `final` key whose
  value asks for the test side (`split: test`, `split: all`, `final: true`), at any depth;
- every Python file under bench/ (benchmarks measure things, so they must measure on dev): a call
  with `split="test"` / `split="all"` or `final=True`, the string "--final", or a `load_suite`
  call without a `split` (its default reads both halves: fine for a contamination check on
  prompts, not for a measurement);
- every Python file under examples/: `split="test"`, `final=True` or "--final" (scripts there
  read all prompts only to keep them out of training data).
Each violation names the file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

SEALED_VALUES = {"test", "all"}


def _yaml_violations(path: Path, root: Path) -> list[str]:
    try:
        nodes = list(yaml.compose_all(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, UnicodeDecodeError):
        return []
    found: list[str] = []

    def walk(node) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = getattr(key, "value", None)
                scalars = ([value] if isinstance(value, yaml.ScalarNode) else
                           [v for v in getattr(value, "value", []) if isinstance(v, yaml.ScalarNode)]
                           if isinstance(value, yaml.SequenceNode) else [])
                words = {str(v.value).strip().lower() for v in scalars}
                if (name == "split" and words & SEALED_VALUES) or (
                        name == "final" and words & {"true", "yes", "on", "1"}):
                    found.append(f"{path.relative_to(root)}:{key.start_mark.line + 1}: "
                                 f"{name}: {', '.join(sorted(words))} reads the sealed test "
                                 "split (only `alignstack eval --final` may)")
                walk(value)
        elif isinstance(node, yaml.SequenceNode):
            for value in node.value:
                walk(value)

    for node in nodes:
        walk(node)
    return found


def _constant(node) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def _python_violations(path: Path, root: Path, *, measures: bool) -> list[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError):
        return []
    where = lambda node: f"{path.relative_to(root)}:{node.lineno}"
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            keywords = {k.arg: _constant(k.value) for k in node.keywords if k.arg}
            if keywords.get("split") in SEALED_VALUES:
                found.append(f"{where(node)}: split={keywords['split']!r} reads the sealed test "
                             "split")
            if keywords.get("final") is True:
                found.append(f"{where(node)}: final=True runs on the sealed test split")
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if measures and name == "load_suite" and "split" not in keywords:
                found.append(f"{where(node)}: load_suite without split=\"dev\" reads the sealed "
                             "test half too")
        elif isinstance(node, ast.Constant) and node.value == "--final":
            found.append(f"{where(node)}: \"--final\" runs on the sealed test split")
    return found


def sealed_split_violations(root: str | Path) -> list[str]:
    """Every place under `root` (a repository) that reads the sealed test split on its own."""
    root = Path(root)
    found: list[str] = []
    for folder in ("examples", "bench"):
        base = root / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.suffix in (".yaml", ".yml"):
                found += _yaml_violations(path, root)
            elif path.suffix == ".py":
                found += _python_violations(path, root, measures=folder == "bench")
    return found
