"""The CLI prints clear one-line errors (no traceback) and exits 2 on bad input."""

from typer.testing import CliRunner

from alignstack.cli.main import app

runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("train", "correct", "generate", "demo", "serve"):
        assert command in result.output


def test_bad_config_is_one_clear_line(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("train_file: t.jsonl\noutput_dir: out\nlearnin_rate: 3\n")
    result = runner.invoke(app, ["train", "corrector", "--config", str(config)])
    assert result.exit_code == 2
    assert f"{config}:3" in result.output and "learnin_rate" in result.output
    assert "Traceback" not in result.output


def test_bad_input_file_for_correct(tmp_path):
    bad = tmp_path / "in.jsonl"
    bad.write_text('{"question": "q"}\n')
    result = runner.invoke(app, ["correct", "-i", str(bad), "-o", str(tmp_path / "o.jsonl"),
                                 "--corrector", str(tmp_path)])
    assert result.exit_code == 2
    assert f"{bad}:1" in result.output and "answer" in result.output
    assert not (tmp_path / "o.jsonl").exists()
