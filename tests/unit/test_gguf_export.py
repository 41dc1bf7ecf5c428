"""GGUF export: the tiny Llama written by `write_gguf` reads back through transformers' own GGUF
loader with the same weights (f32 exactly, Q8_0 within its quantisation step), and llama.cpp,
running it, picks a next token that transformers ranks first; a LoRA written by
`write_lora_gguf` moves llama.cpp's prediction the way the merged adapter moves transformers'."""

from pathlib import Path

import pytest
import torch

from alignstack.backends.base import GenParams, load_backend
from alignstack.backends.models import BUILTIN, package_file
from alignstack.quantize.gguf_export import write_gguf
from alignstack.quantize.lora_gguf import write_lora_gguf

PROMPTS = ["<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
           "The capital of France is", "Once upon a time, in a quiet village by the sea,",
           "def fibonacci(n):", "Water boils at", "My favourite colour is"]


def source_gguf() -> Path:
    package, filename, _ = BUILTIN["smollm2"]
    return package_file(package, filename)


def reload(path: str):
    from transformers import AutoModelForCausalLM

    path = Path(path)
    return AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name,
                                                dtype=torch.float32)


def test_f32_export_round_trips_exactly_and_q8_within_its_step(tiny_model_dir, tiny_gguf, tmp_path):
    from transformers import AutoModelForCausalLM

    original = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    want = original.state_dict()
    got = reload(tiny_gguf).state_dict()
    assert set(want) - {"lm_head.weight"} <= set(got)
    for name in want:
        if name in got:
            assert torch.equal(got[name], want[name]), name
    q8 = tmp_path / "tiny-q8.gguf"
    result = write_gguf(original, Path(tiny_model_dir), q8, "q8_0", tokenizer_gguf=source_gguf())
    assert result.bytes < Path(tiny_gguf).stat().st_size / 2     # (the tokenizer is ~1.7 MB)
    quantised = reload(str(q8)).state_dict()
    for name, weight in want.items():
        if name in quantised and weight.ndim == 2:
            step = weight.abs().max() / 127
            assert (quantised[name] - weight).abs().max() <= step + 1e-6, name
    assert not list(tmp_path.glob(".*"))          # no temp file left behind


def hf_top_tokens(model, tokenizer, prompt: str, tolerance: float = 1e-4) -> set[str]:
    """Every token transformers ranks first (within `tolerance` of the top probability)."""
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        probs = model(**ids).logits[0, -1].softmax(-1)
    top = (probs >= probs.max() - tolerance).nonzero().flatten().tolist()
    return {tokenizer.decode([t]).strip() for t in top}


def agreement(engine, model, tokenizer) -> float:
    outs = engine.generate_text(PROMPTS, GenParams(max_new_tokens=1))
    return sum(o.text in hf_top_tokens(model, tokenizer, p)
               for o, p in zip(outs, PROMPTS)) / len(PROMPTS)


def test_llamacpp_predicts_what_transformers_ranks_first(tiny_model_dir, tiny_gguf):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert agreement(load_backend("llamacpp", model=tiny_gguf, parallel=2), model, tokenizer) == 1


def test_lora_gguf_moves_llamacpp_like_the_merged_adapter(tiny_model_dir, tiny_gguf, tiny_lora,
                                                          tmp_path):
    from transformers import AutoTokenizer

    adapter_dir, merged = tiny_lora
    info = write_lora_gguf(adapter_dir, tmp_path / "lora.gguf", base=tiny_model_dir)
    assert info["tensors"] == 2 * 7 * 2        # A and B, 7 linear layers, 2 blocks
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    with_lora = load_backend("llamacpp", model=tiny_gguf, lora=[info["path"]], parallel=2)
    without = load_backend("llamacpp", model=tiny_gguf, lora=[info["path"]], lora_scales=[0.0],
                           parallel=2)
    assert with_lora.engine is without.engine          # one base in memory, two views
    assert agreement(with_lora, merged, tokenizer) == 1
    plain = load_backend("transformers", model=tiny_model_dir, dtype="float32")
    assert agreement(without, plain.model, tokenizer) == 1
    # and the adapter really changes the prediction somewhere
    params = GenParams(max_new_tokens=3)
    assert ([o.text for o in with_lora.generate_text(PROMPTS, params)]
            != [o.text for o in without.generate_text(PROMPTS, params)])


def test_lora_on_tied_embeddings_is_refused(tiny_model_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from alignstack.core.errors import BackendError

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    get_peft_model(base, LoraConfig(r=2, target_modules=["lm_head", "q_proj"])).save_pretrained(
        tmp_path / "a")
    with pytest.raises(BackendError, match="lm_head"):
        write_lora_gguf(tmp_path / "a", tmp_path / "a.gguf", base=tiny_model_dir)
