import pytest

from alignstack.core.config import load_config
from alignstack.core.errors import ConfigError
from alignstack.correct.config import CorrectorTrainConfig


def test_yaml_maps_onto_fields_with_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train_file: t.jsonl\noutput_dir: out\nlearning_rate: 1e-4\nepochs: 2\n")
    cfg = load_config(CorrectorTrainConfig, path, ["batch_size=4", "template=aligner-v1"])
    assert cfg.learning_rate == 1e-4 and cfg.epochs == 2.0 and cfg.batch_size == 4
    assert cfg.template == "aligner-v1" and cfg.lora_r == 16


@pytest.mark.parametrize("text, line, field, words", [
    ("train_file: t\noutput_dir: o\nlearning_rat: 1\n", 3, "learning_rat", "unknown field"),
    ("train_file: t\noutput_dir: o\nbatch_size: many\n", 3, "batch_size", "expected int"),
    ("train_file: t\noutput_dir: o\nprinciples_in_prompt: some\n", 3, "principles_in_prompt",
     "expected one of"),
    ("train_file: t\n", 1, "output_dir", "missing required"),
])
def test_bad_config_names_line_and_field(tmp_path, text, line, field, words):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(CorrectorTrainConfig, path)
    assert f"{path}:{line}" in str(info.value)
    assert f"field '{field}'" in str(info.value)
    assert words in str(info.value)


def test_bad_override():
    with pytest.raises(ConfigError, match="key=value"):
        load_config(CorrectorTrainConfig, None, ["train_file"])
