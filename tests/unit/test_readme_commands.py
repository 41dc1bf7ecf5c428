"""Every `alignstack …` command in the README's code blocks names a real command and only options
it has (parsed by the CLI's own click command tree), and every config file it names exists."""

from __future__ import annotations

import re
import shlex

import pytest

from conftest import ROOT


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)
    commands = []
    for block in blocks:
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("alignstack "):
                commands.append(line)
    return commands


def test_the_readme_shows_commands():
    assert len(readme_commands()) >= 8


@pytest.mark.parametrize("line", readme_commands())
def test_each_readme_command_parses(line):
    import typer

    from alignstack.cli.main import app

    command = typer.main.get_command(app)
    words = shlex.split(line)[1:]
    while words and hasattr(command, "commands") and words[0] in command.commands:
        command = command.commands[words.pop(0)]
    assert not hasattr(command, "commands"), f"{line}: no such command"
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for word in words:
        if word.startswith("--"):
            assert word.split("=")[0] in known, f"{line}: unknown option {word}"
    for config in re.findall(r"--config (examples/\S+)", line):
        assert (ROOT / config).exists(), f"{line}: {config} does not exist"
