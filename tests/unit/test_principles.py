from pathlib import Path

import pytest

from alignstack.core.errors import ConfigError
from alignstack.core.principles import load_constitution

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "newsroom" / "principles.yaml"


def test_newsroom_principles_load():
    constitution = load_constitution(EXAMPLE)
    assert {"accuracy", "impartiality", "harm", "privacy", "fairness", "uncertainty",
            "helpfulness"} <= set(constitution.ids)
    for principle in constitution.principles:
        assert principle.dimensions and principle.examples
    assert constitution.select(["privacy"])[0].title == "Privacy"


GOOD_HEAD = "name: test\nprinciples:\n"


@pytest.mark.parametrize("body, line, field, words", [
    ("  - id: ok\n    title: T\n    text: long enough text\n    dimensions: [helpful]\n"
     "  - id: two\n    title: T\n    text: long enough text\n    dimensions: [kind]\n",
     10, "principles[1].dimensions[0]", "helpful"),
    ("  - id: Bad-Id\n    title: T\n    text: long enough text\n    dimensions: [honest]\n",
     3, "principles[0].id", "snake_case"),
    ("  - id: ok\n    title: T\n    dimensions: [honest]\n", 3, "principles[0].text", "required"),
    ("  - id: ok\n    title: T\n    text: long enough text\n    dimensions: [honest]\n"
     "    colour: red\n", 7, "principles[0].colour", "Extra"),
])
def test_bad_principles_name_file_line_field(tmp_path, body, line, field, words):
    path = tmp_path / "p.yaml"
    path.write_text(GOOD_HEAD + body)
    with pytest.raises(ConfigError) as info:
        load_constitution(path)
    message = str(info.value)
    assert f"{path}:{line}" in message
    assert f"field '{field}'" in message
    assert words in message


def test_duplicate_ids_and_yaml_syntax(tmp_path):
    dup = tmp_path / "dup.yaml"
    entry = "  - id: same\n    title: T\n    text: long enough text\n    dimensions: [honest]\n"
    dup.write_text(GOOD_HEAD + entry + entry)
    with pytest.raises(ConfigError, match="used twice"):
        load_constitution(dup)
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nprinciples: [\n  - id: a\n")
    with pytest.raises(ConfigError, match=rf"{broken}:\d+: invalid YAML"):
        load_constitution(broken)
    with pytest.raises(ConfigError, match="cannot read file"):
        load_constitution(tmp_path / "missing.yaml")
