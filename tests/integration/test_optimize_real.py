"""One real DPO round on SmolLM2 from seed corrections, through the CLI: the merged model prefers
the corrections it was trained on over the answers it gave, and still answers a benign question."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alignstack.core.records import Correction, degenerate, read_jsonl, same_text, write_jsonl

from conftest import EXAMPLES, mean_margin

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_dpo_round_on_smollm2_moves_it_towards_the_corrections(tmp_path, smollm2_dir):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from alignstack.optimize.train import optimized_model

    records = [r for r in read_jsonl(EXAMPLES / "data" / "train.jsonl", Correction)
               if not same_text(r.answer, r.correction) and len(r.answer) < 400][:8]
    data = tmp_path / "pairs.jsonl"
    write_jsonl(data, records)
    done = subprocess.run(
        [sys.executable, "-m", "alignstack", "optimize", "--config",
         str(EXAMPLES / "dpo.yaml"), "--set", f"data=[{data}]", "--set", "eval_data=null",
         "--set", f"output_dir={tmp_path / 'dpo'}", "--set", "max_steps=4",
         "--set", "batch_size=2", "--set", "max_length=256", "--set", "learning_rate=5e-4",
         "--set", "logging_steps=1", "--set", "progress=false"],
        cwd=ROOT, capture_output=True, text=True, timeout=1200,
        env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((tmp_path / "dpo" / "train_metrics.json").read_text())
    assert metrics["steps"] == 4 and "rewards/margins" in metrics["logged"]

    rows = [{"question": r.question, "answer": r.answer, "correction": r.correction}
            for r in records]
    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    base = AutoModelForCausalLM.from_pretrained(smollm2_dir, dtype=torch.float32).eval()
    before = mean_margin(base, tokenizer, rows)
    del base
    tuned = AutoModelForCausalLM.from_pretrained(optimized_model(tmp_path / "dpo"),
                                                 dtype=torch.float32).eval()
    assert mean_margin(tuned, tokenizer, rows) > before + 1.0
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Name three primary "
                                             "colours."}], tokenize=False,
                                           add_generation_prompt=True)
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    out = tuned.generate(**ids, max_new_tokens=40, do_sample=False)
    text = tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    assert not degenerate(text)
