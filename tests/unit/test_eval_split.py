"""Dev and test by construction: `alignstack eval` runs dev; only `--final` reads the sealed test
split, and each final run appends one line to the ledger. Nothing committed reads the test split
on its own: configs, recipes and benchmarks are scanned for it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from alignstack.core.errors import ConfigError, DataError
from alignstack.evaluate.config import load_eval_config
from alignstack.evaluate.ledger import append_entry, config_hash, read_ledger
from alignstack.evaluate.sealing import sealed_split_violations

from tests.conftest import EXAMPLES, ROOT


def test_nothing_in_the_repository_reads_the_sealed_test_split():
    """Every config and recipe under examples/ and every script under bench/: a `split: test`
    (or `final: true`) in a YAML file, or a benchmark asking load_suite / run_eval for the test
    split, fails this test (tests/unit/test_eval_split.py shows each kind being caught)."""
    assert sealed_split_violations(ROOT) == []


def _tree(tmp_path: Path) -> Path:
    """A copy of the repository's configs and benchmarks to plant violations in."""
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLES.parent, root / "examples",
                    ignore=shutil.ignore_patterns("data"))
    shutil.copytree(ROOT / "bench", root / "bench", ignore=shutil.ignore_patterns("results"))
    assert sealed_split_violations(root) == []
    return root


def test_a_recipe_that_reads_the_test_split_is_caught(tmp_path):
    root = _tree(tmp_path)
    recipe = root / "examples" / "newsroom" / "recipes" / "eval-peek.yaml"
    recipe.write_text("output_dir: runs/peek\nsuites:\n  - {name: harmbench, limit: 40}\n"
                      "systems: [{name: a}]\nsplit: test\n")
    found = sealed_split_violations(root)
    assert found == ["examples/newsroom/recipes/eval-peek.yaml:5: split: test reads the sealed "
                     "test split (only `alignstack eval --final` may)"]
    recipe.write_text("suites:\n  - name: harmbench\n    options: {split: [test]}\n")
    assert [f.split(":")[1] for f in sealed_split_violations(root)] == ["3"]


@pytest.mark.parametrize("code, what", [
    ("load_suite('harmbench', split='test')", "split='test'"),
    ("load_suite('harmbench')", "load_suite without split"),
    ("run_eval(cfg, final=True)", "final=True"),
    ("subprocess.run(['alignstack', 'eval', '--final'])", '"--final"'),
])
def test_a_benchmark_that_asks_for_the_test_split_is_caught(tmp_path, code, what):
    root = _tree(tmp_path)
    (root / "bench" / "peek.py").write_text(f"def main():\n    {code}\n")
    found = sealed_split_violations(root)
    assert len(found) == 1 and found[0].startswith("bench/peek.py:2") and what in found[0]
    (root / "bench" / "peek.py").write_text("def main():\n    load_suite('harmbench', "
                                            "split='dev')\n")
    assert sealed_split_violations(root) == []


def test_an_eval_config_cannot_choose_the_split(tmp_path):
    path = tmp_path / "eval.yaml"
    path.write_text("suites:\n  - {name: overrefusal}\nsystems: [{name: a}]\nsplit: test\n")
    with pytest.raises(ConfigError, match=r"eval.yaml:4, field 'split'.*--final"):
        load_eval_config(path)
    path.write_text("suites:\n  - name: overrefusal\n    options: {split: test}\n"
                    "systems: [{name: a}]\n")
    with pytest.raises(ConfigError, match=r"eval.yaml:3, field 'suites\[0\]\.options\.split'"):
        load_eval_config(path)
    path.write_text("suites:\n  - {name: overrefusal}\nsystems: [{name: a}]\n")
    with pytest.raises(ConfigError, match=r"--set, field 'split'"):
        load_eval_config(path, ["split=test"])


def test_the_ledger_only_grows(tmp_path):
    ledger = tmp_path / "results" / "ledger.jsonl"
    append_entry({"date": "d1", "n": 1}, ledger)
    first = ledger.read_bytes()
    append_entry({"date": "d2", "n": 2}, ledger)
    assert ledger.read_bytes().startswith(first)
    assert [e["date"] for e in read_ledger(ledger)] == ["d1", "d2"]
    ledger.write_bytes(ledger.read_bytes()[:-3])            # a torn (edited) last line
    with pytest.raises(DataError, match="last line is incomplete"):
        append_entry({"date": "d3"}, ledger)
    assert config_hash({"a": 1, "b": [2]}) == config_hash({"b": [2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


PROMPTS = [f"How do I {verb} the {thing}?" for verb in ("fix", "clean", "paint", "move")
           for thing in ("door", "roof", "fence", "car")]


def test_final_runs_the_test_split_and_logs_one_ledger_line(tmp_path, tiny_model_dir):
    from alignstack.evaluate.runner import run_eval

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": p, "dimension": "helpful"}) + "\n"
                               for p in PROMPTS))
    ledger = tmp_path / "results" / "ledger.jsonl"
    config = tmp_path / "eval.yaml"
    config.write_text(yaml.safe_dump({
        "output_dir": str(tmp_path / "eval"), "ledger": str(ledger), "harm_judge": None,
        "principles_file": str(EXAMPLES / "principles.yaml"),
        "suites": [{"name": "jsonl", "path": str(prompts), "options": {"sealed": True}}],
        "systems": [{"name": "tiny", "upstream": tiny_model_dir}],
        "max_new_tokens": 4, "batch_size": 8, "worst_examples": 0}))
    cfg = load_eval_config(config)
    dev = run_eval(cfg, log=lambda m: None)
    assert dev["split"] == "dev" and not ledger.exists()
    dev_ids = {json.loads(l)["id"] for l in (tmp_path / "eval" / "items.jsonl").open()}
    final = run_eval(cfg, log=lambda m: None, final=True, config_file=str(config))
    test_items = [json.loads(l) for l in (tmp_path / "eval-final" / "items.jsonl").open()]
    assert final["split"] == "test" and {i["split"] for i in test_items} == {"test"}
    assert dev_ids.isdisjoint(i["id"] for i in test_items)
    assert len(dev_ids) + len(test_items) == len(PROMPTS)
    (entry,) = read_ledger(ledger)
    assert entry["split"] == "test" and entry["config_file"] == str(config)
    assert entry["config_hash"] == config_hash(final["config"])
    assert entry["systems"]["tiny"]["over_refusal_rate"]["n"] == len(test_items)
    assert len(entry["commit"] or "") in (0, 40) and entry["date"][:2] == "20"
    run_eval(cfg, log=lambda m: None, final=True)
    assert len(read_ledger(ledger)) == 2
