"""`alignstack train inspector`: bad configs and bad data are one clear line, exit 2."""

from typer.testing import CliRunner

from alignstack.cli.main import app

runner = CliRunner()


def flat(text: str) -> str:
    return " ".join(text.split())


def test_unknown_config_field_names_file_and_line(tmp_path):
    config = tmp_path / "i.yaml"
    config.write_text("train_file: t.jsonl\noutput_dir: out\ncalibraton: isotonic\n")
    result = runner.invoke(app, ["train", "inspector", "--config", str(config)])
    assert result.exit_code == 2
    assert f"{config}:3" in flat(result.output) and "calibraton" in result.output
    assert "Traceback" not in result.output


def test_bad_choice_and_override(tmp_path):
    config = tmp_path / "i.yaml"
    config.write_text("train_file: t.jsonl\noutput_dir: out\nthreshold_rule: best\n")
    result = runner.invoke(app, ["train", "inspector", "--config", str(config)])
    assert result.exit_code == 2 and "max_f1" in flat(result.output)
    result = runner.invoke(app, ["train", "inspector", "--config", str(config),
                                 "--set", "threshold_rule=max_f1",
                                 "--set", "calibration_fraction=2"])
    assert result.exit_code == 2 and "calibration_fraction" in flat(result.output)


def test_missing_label_is_a_clear_data_error(tmp_path):
    data = tmp_path / "l.jsonl"
    data.write_text('{"question": "q1", "answer": "a", "label": 1}\n'
                    '{"question": "q2", "answer": "b"}\n')
    result = runner.invoke(app, ["train", "inspector", "--set", f"train_file={data}",
                                 "--set", f"output_dir={tmp_path / 'out'}"])
    assert result.exit_code == 2
    assert f"{data}:2, field 'label'" in flat(result.output)
    assert not (tmp_path / "out").exists()


def test_missing_file_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["train", "inspector", "--set", "train_file=nope.jsonl",
                                 "--set", f"output_dir={tmp_path / 'out'}"])
    assert result.exit_code == 2 and "nope.jsonl" in flat(result.output)
