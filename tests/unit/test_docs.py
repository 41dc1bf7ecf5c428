"""The user-facing docs and the data's paperwork stay true to the repository.

- README.md is the user's page: at most 200 lines, opening with exactly the two set-up commands
  (`make demo`, `make test`), and no internal issue numbers.
- docs/configuration.md is what scripts/gen_config_docs.py generates from the config classes now
  (and every config class is documented), so it cannot drift from the code.
- No committed benchmark result holds an absolute path of the machine that made it.
- Every data file under the data folders is listed, with an author and a licence, in a provenance
  table (README.md or PROVENANCE.md) in its folder.

Each check is a function that returns its problems; the `*_can_fail` tests feed each one a bad
input and expect it to complain, so none of them passes vacuously.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
BENCH_RESULTS = ROOT / "bench" / "results"
DATA_DIRS = [ROOT / "examples" / "newsroom" / "data",
             ROOT / "src" / "alignstack" / "evaluate" / "data",
             ROOT / "data-provenance" / "newsroom" / "_draft"]
PROVENANCE_FILES = ("README.md", "PROVENANCE.md")
MAX_README_LINES = 200


# ---- README ----------------------------------------------------------------------------------

ISSUE_REFERENCE = re.compile(r"\bissues?\s+#?\d+|(?<![\w&/])#\d+\b", re.IGNORECASE)


def readme_problems(text: str) -> list[str]:
    """At most 200 lines; the first lines are one code block holding exactly `make demo` then
    `make test` (comments allowed); no internal issue numbers."""
    problems = []
    lines = text.splitlines()
    if len(lines) > MAX_README_LINES:
        problems.append(f"README has {len(lines)} lines (at most {MAX_README_LINES})")
    fences = [i for i, line in enumerate(lines) if line.strip().startswith("```")]
    if len(fences) < 2 or fences[0] > 3:
        problems.append("README does not open with a code block of set-up commands")
    else:
        block = lines[fences[0] + 1:fences[1]]
        commands = [line.split("#", 1)[0].strip() for line in block]
        commands = [c for c in commands if c]
        if commands != ["make demo", "make test"]:
            problems.append(f"README's first commands are {commands}, not make demo, make test")
        prose = [line for line in lines[:fences[0]] if line.strip() and not line.startswith("#")]
        if prose:
            problems.append(f"text before the set-up commands: {prose[0]!r}")
    for match in ISSUE_REFERENCE.finditer(text):
        problems.append(f"README names an internal issue: {match.group(0)!r}")
    return problems


def test_readme_is_short_and_opens_with_make_demo_and_make_test():
    assert readme_problems(README.read_text(encoding="utf-8")) == []


def test_readme_check_can_fail():
    good = "# x\n\n```\nmake demo   # a\nmake test   # b\n```\n\ntext\n"
    assert readme_problems(good) == []
    assert readme_problems(good + "line\n" * MAX_README_LINES)          # too long
    assert readme_problems(good.replace("make demo", "make install"))   # wrong command
    assert readme_problems("# x\n\nSome prose first.\n" + good[4:])    # prose before them
    assert readme_problems("# x\n\nno commands at all\n")              # no code block
    assert readme_problems(good + "As issue 9 asked.\n")               # an issue number
    assert readme_problems(good + "See #12.\n")


# ---- the generated configuration page ---------------------------------------------------------

def load_generator():
    spec = importlib.util.spec_from_file_location("gen_config_docs",
                                                  ROOT / "scripts" / "gen_config_docs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module              # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def config_page_problems(generator, committed: str) -> list[str]:
    problems = [f"config class not documented: {name}" for name in generator.undocumented()]
    if committed != generator.render():
        problems.append("docs/configuration.md is stale: run python scripts/gen_config_docs.py")
    return problems


def test_configuration_page_is_generated_from_the_code_and_up_to_date():
    generator = load_generator()
    assert config_page_problems(generator, generator.OUTPUT.read_text(encoding="utf-8")) == []


def test_configuration_page_check_can_fail():
    generator = load_generator()
    page = generator.render()
    assert "### `StackSpec`" in page and "- **`base_url`**" in page
    assert config_page_problems(generator, page) == []
    stale = page.replace("- **`base_url`**", "- **`old_url`**")
    assert config_page_problems(generator, stale)
    generator.SECTIONS = [s for s in generator.SECTIONS if "StackSpec" not in s[-1]]
    assert "config class not documented: alignstack.correct.assemble.StackSpec" in \
        config_page_problems(generator, page)


# ---- benchmark results ------------------------------------------------------------------------

ABSOLUTE_PATH = re.compile(
    r"(?<![\w.~-])/(?:home|root|work|tmp|usr|opt|mnt|var|srv|Users|private|scratch|data|nfs|"
    r"media|etc|workspace)(?![\w.-])|\b[A-Za-z]:\\\\?[\w.-]")


def strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def absolute_paths(path: Path) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [s for s in strings_in(data) if ABSOLUTE_PATH.search(s)]


def test_no_bench_result_holds_an_absolute_path():
    results = sorted(BENCH_RESULTS.glob("*.json"))
    assert results, "no bench results found"
    found = {p.name: absolute_paths(p) for p in results}
    assert {name: hits for name, hits in found.items() if hits} == {}


def test_absolute_path_check_can_fail(tmp_path):
    bad = tmp_path / "bad.json"
    for value in ("/work/main/runs/corrector", "/root/x.yaml", "/home/me/a", "/tmp/x",
                  "C:\\Users\\me\\runs"):
        bad.write_text(json.dumps({"config": {"path": value}}))
        assert absolute_paths(bad) == [value]
    bad.write_text(json.dumps({"runs": ["runs/corrector", "examples/newsroom/data/x.jsonl",
                                        "http://127.0.0.1:8000/v1/chat/completions", "1/2"]}))
    assert absolute_paths(bad) == []


# ---- data provenance --------------------------------------------------------------------------

def data_files(folder: Path) -> list[str]:
    """Every data file under `folder`, relative, excluding the provenance files themselves,
    caches and scratch files."""
    out = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if (path.is_dir() or any(part.startswith(".") or part == "__pycache__"
                                 for part in rel.parts)
                or path.suffix in (".tmp", ".pyc") or str(rel) in PROVENANCE_FILES):
            continue
        out.append(rel.as_posix())
    return out


def provenance_rows(folder: Path) -> list[tuple[set[str], list[str]]]:
    """(names in the first cell, the other cells) of every row of every table that has author
    and licence columns, in the folder's README.md / PROVENANCE.md."""
    rows = []
    for name in PROVENANCE_FILES:
        path = folder / name
        if not path.exists():
            continue
        header = None
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.startswith("|"):
                header = None
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if header is None:
                header = [c.lower() for c in cells]
                continue
            if set(cells) <= {"---", ":---", "---:", ""}:
                continue
            if "author" in header and "licence" in header:
                named = set(re.findall(r"`([^`]+)`", cells[0]))
                rows.append((named, [cells[header.index("author")],
                                     cells[header.index("licence")]]))
    return rows


def provenance_problems(folder: Path) -> list[str]:
    rows = provenance_rows(folder)
    problems = []
    for rel in data_files(folder):
        parents = {p.as_posix() + "/" for p in Path(rel).parents if p.as_posix() != "."}
        covering = [cells for named, cells in rows if rel in named or named & parents]
        if not covering:
            problems.append(f"{folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder}"
                            f"/{rel}: in no provenance table (file, author, licence)")
        elif not all(all(cells) for cells in covering):
            problems.append(f"{rel}: its provenance row lacks an author or a licence")
    return problems


@pytest.mark.parametrize("folder", DATA_DIRS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_data_file_is_listed_in_a_provenance_table(folder):
    assert folder.is_dir(), f"{folder} is missing"
    assert data_files(folder), f"no data files found under {folder}"
    assert provenance_problems(folder) == []


def test_provenance_check_can_fail(tmp_path):
    (tmp_path / "drafts").mkdir()
    (tmp_path / "a.jsonl").write_text("{}\n")
    (tmp_path / "drafts" / "b.jsonl").write_text("{}\n")
    (tmp_path / "c.yaml").write_text("x: 1\n")
    (tmp_path / "README.md").write_text(
        "| file | author | licence |\n| --- | --- | --- |\n"
        "| `a.jsonl` | the project | Apache-2.0 |\n| `drafts/` | the project | Apache-2.0 |\n"
        "| `c.yaml` | the project |  |\n")
    problems = provenance_problems(tmp_path)
    assert len(problems) == 1 and "c.yaml" in problems[0] and "licence" in problems[0]
    (tmp_path / "d.jsonl").write_text("{}\n")
    assert any("d.jsonl" in p and "no provenance table" in p for p in provenance_problems(tmp_path))
