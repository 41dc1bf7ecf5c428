"""Shared fixtures: a tiny randomly initialised Llama (unit tests) with SmolLM2's real tokenizer."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "newsroom"


@pytest.fixture(scope="session")
def smollm2_dir() -> str:
    """The embedded SmolLM2, materialised once into the cache as safetensors."""
    from alignstack.backends.models import resolve

    return resolve("smollm2").path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, smollm2_dir) -> str:
    """A 2-layer random Llama with SmolLM2's tokenizer and chat template, saved to disk."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(smollm2_dir)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=1024, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    model = LlamaForCausalLM(config)
    out = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return str(out)


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory, tiny_model_dir) -> str:
    """The tiny Llama exported to an f32 GGUF (tokenizer copied from the shipped SmolLM2 GGUF)."""
    import torch
    from transformers import AutoModelForCausalLM

    from alignstack.backends.models import BUILTIN, package_file
    from alignstack.quantize.gguf_export import write_gguf

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    out = tmp_path_factory.mktemp("tiny-gguf") / "tiny-f32.gguf"
    package, filename, _ = BUILTIN["smollm2"]
    write_gguf(model, Path(tiny_model_dir), out, "f32",
               tokenizer_gguf=package_file(package, filename))
    return str(out)


@pytest.fixture(scope="session")
def tiny_lora(tiny_model_dir, tmp_path_factory):
    """A LoRA on every linear layer of the tiny model, with random (non-zero) B matrices."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(3)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear",
                                                 init_lora_weights=False))
    for name, param in peft_model.named_parameters():
        if "lora_" in name:
            param.data.normal_(0, 0.5)
    out = tmp_path_factory.mktemp("tiny-lora")
    peft_model.save_pretrained(out)
    return out, peft_model.merge_and_unload().eval()



def free_port() -> int:
    """A TCP port free on loopback now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(app):
    """`app` on a real uvicorn server on a free loopback port, in a thread; yields its URL once
    /healthz answers, stops it afterwards."""
    import threading
    import time

    import httpx
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(url + "/healthz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def corrector_dir(out: Path, base: str, adapter_dir: Path) -> str:
    """A corrector directory as `train corrector` writes it: `adapter_dir` over `base`."""
    import json
    import shutil

    shutil.copytree(adapter_dir, out / "adapter")
    (out / "corrector.json").write_text(json.dumps({
        "base_model": base, "adapter": "adapter", "template": "alignstack-verdict",
        "principles_in_prompt": "none", "principles": None}))
    return str(out)


def completion_logprob(model, tokenizer, prompt: str, completion: str) -> float:
    """Sum of log p(completion tokens | chat-formatted prompt) under `model`."""
    import torch

    context = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                            tokenize=False, add_generation_prompt=True)
    prompt_ids = tokenizer(context, add_special_tokens=False)["input_ids"]
    target_ids = tokenizer(completion + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt_ids + target_ids])
    with torch.no_grad():
        logits = model(ids).logits[0, :-1].float()
    logps = torch.log_softmax(logits, -1)
    positions = range(len(prompt_ids) - 1, ids.shape[1] - 1)
    return float(sum(logps[p, ids[0, p + 1]] for p in positions))


def mean_margin(model, tokenizer, rows: list[dict]) -> float:
    changed = [r for r in rows if r["answer"] != r["correction"]]
    return sum(completion_logprob(model, tokenizer, r["question"], r["correction"])
               - completion_logprob(model, tokenizer, r["question"], r["answer"])
               for r in changed) / len(changed)
