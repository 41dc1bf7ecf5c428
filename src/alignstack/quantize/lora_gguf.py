"""A PEFT LoRA adapter (the corrector's) -> a GGUF LoRA that llama.cpp applies at run time on a
quantised base: tensors `<gguf name>.lora_a` / `.lora_b`, `adapter.lora.alpha` in the metadata,
and the Q/K adapters' B matrices permuted like their base weights (llama.cpp's rotary layout).
An adapter on `lm_head` or the embeddings cannot be converted when the model ties them."""

from __future__ import annotations

import json
from pathlib import Path

from alignstack.core.errors import BackendError
from alignstack.quantize.gguf_export import gguf_file, rotary_permute

LORA_SUFFIXES = {"lora_A": "lora_a", "lora_B": "lora_b"}


def _base_name(peft_name: str) -> tuple[str, str]:
    """'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight' ->
    ('model.layers.0.self_attn.q_proj.weight', 'lora_a')."""
    stem = peft_name.removeprefix("base_model.model.")
    for peft_part, gguf_part in LORA_SUFFIXES.items():
        marker = f".{peft_part}."
        if marker in stem:
            module = stem.split(marker)[0]
            return module + ".weight", gguf_part
    raise BackendError(f"adapter tensor '{peft_name}' is not a LoRA A/B matrix")


def write_lora_gguf(adapter_dir: Path, out: Path, base: str | None = None) -> dict:
    """Convert `adapter_dir` (adapter_config.json + adapter_model.safetensors) to `out`; `base`
    is the base model's spec (default: the adapter config's base_model_name_or_path)."""
    import gguf
    import numpy as np
    from safetensors.numpy import load_file
    from transformers import AutoConfig

    config_path = adapter_dir / "adapter_config.json"
    weights_path = adapter_dir / "adapter_model.safetensors"
    for path in (config_path, weights_path):
        if not path.is_file():
            raise BackendError(f"{adapter_dir}: {path.name} not found (a PEFT LoRA directory)")
    adapter = json.loads(config_path.read_text(encoding="utf-8"))
    if adapter.get("peft_type", "LORA") != "LORA":
        raise BackendError(f"{config_path}: field peft_type is {adapter['peft_type']!r}, not LORA")
    if adapter.get("use_dora") or adapter.get("use_rslora"):
        raise BackendError(f"{config_path}: DoRA / rsLoRA adapters have no GGUF LoRA form")
    from alignstack.backends.models import resolve

    base_spec = base or adapter.get("base_model_name_or_path")
    if not base_spec:
        raise BackendError(f"{config_path}: no base_model_name_or_path; name the base model")
    base = AutoConfig.from_pretrained(resolve(base_spec).path)
    names = gguf.TensorNameMap(gguf.MODEL_ARCH.LLAMA, base.num_hidden_layers)
    heads = base.num_attention_heads
    kv_heads = getattr(base, "num_key_value_heads", None) or heads
    tensors = load_file(str(weights_path))
    with gguf_file(out) as writer:
        writer.add_string(gguf.Keys.General.TYPE, gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(adapter["lora_alpha"]))
        count = 0
        for peft_name in sorted(tensors):
            hf_name, part = _base_name(peft_name)
            if hf_name.startswith(("lm_head", "model.embed_tokens")):
                raise BackendError(f"{weights_path}: an adapter on '{hf_name}' cannot be "
                                   f"converted (llama.cpp ties it to the embeddings)")
            name = names.get_name(hf_name, try_suffixes=(".weight",))
            if name is None:
                raise BackendError(f"{weights_path}: '{hf_name}' has no llama.cpp name")
            array = tensors[peft_name].astype(np.float32)
            if part == "lora_b" and hf_name.endswith("q_proj.weight"):
                array = rotary_permute(array, heads)
            elif part == "lora_b" and hf_name.endswith("k_proj.weight"):
                array = rotary_permute(array, kv_heads)
            writer.add_tensor(f"{name}.{part}", array)
            count += 1
    return {"path": str(out), "bytes": out.stat().st_size, "tensors": count,
            "rank": adapter.get("r"), "alpha": adapter.get("lora_alpha")}


def cached_lora_gguf(adapter_dir: Path, base: str) -> Path:
    """`adapter_dir` as GGUF LoRA, converted once into the cache (keyed by the adapter's bytes)."""
    import hashlib

    from alignstack.backends.models import cache_dir

    weights = adapter_dir / "adapter_model.safetensors"
    if not weights.is_file():
        raise BackendError(f"{adapter_dir}: adapter_model.safetensors not found")
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    out = cache_dir() / "lora-gguf" / f"{digest}.gguf"
    if not out.is_file():
        write_lora_gguf(adapter_dir, out, base=base)
    return out
