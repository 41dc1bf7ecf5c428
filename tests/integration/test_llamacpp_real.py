"""The real SmolLM2 through the GGUF exporter and llama.cpp: an f16 export of the materialised
model (tokenizer built from tokenizer.json) predicts, on held-out seed prompts, the next token
transformers ranks first, counts tokens as transformers does, and the shipped Q4_1 runs
batched."""

import pytest
import torch

from alignstack.backends.base import GenParams, load_backend
from alignstack.core.records import Correction, read_jsonl

from conftest import EXAMPLES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prompts(smollm2_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    records = read_jsonl(EXAMPLES / "data" / "heldout.jsonl", Correction)[:16]
    return tokenizer, [tokenizer.apply_chat_template([{"role": "user", "content": r.question}],
                                                     tokenize=False, add_generation_prompt=True)
                       + r.answer.split(".")[0] for r in records]


def test_f16_export_of_smollm2_agrees_with_transformers(smollm2_dir, prompts, tmp_path):
    from pathlib import Path

    from transformers import AutoModelForCausalLM

    from alignstack.quantize.gguf_export import write_gguf

    tokenizer, texts = prompts
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir, dtype=torch.float32).eval()
    result = write_gguf(model, Path(smollm2_dir), tmp_path / "smollm2-f16.gguf", "f16")
    assert 250e6 < result.bytes < 290e6 and "tokenizer.json" in result.tokenizer
    engine = load_backend("llamacpp", model=result.path, parallel=4)
    assert engine.count_tokens(texts) == [len(tokenizer(t, add_special_tokens=False)["input_ids"])
                                          for t in texts]
    outs = engine.generate_text(texts, GenParams(max_new_tokens=1))
    agree = 0
    with torch.inference_mode():
        for text, out in zip(texts, outs):
            ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)
            probs = model(**ids).logits[0, -1].softmax(-1)
            top = (probs >= probs.max() - 1e-3).nonzero().flatten().tolist()
            agree += out.text in {tokenizer.decode([t]).strip() for t in top}
    assert agree >= 15            # f16 rounding may flip a near-tie, nothing more


def test_shipped_q4_1_answers_a_batch_with_its_own_limits(prompts):
    _, texts = prompts
    engine = load_backend("llamacpp", model="smollm2", parallel=8)
    limits = [8 + 4 * (i % 4) for i in range(len(texts))]
    outs = engine.generate_text(texts, GenParams(max_new_tokens=64), max_new_tokens=limits)
    assert all(0 < o.completion_tokens <= limit for o, limit in zip(outs, limits))
    assert sum(bool(o.text) for o in outs) >= 14
