"""A Llama-architecture transformers model (SmolLM2, Llama, a merged corrector) -> one GGUF file,
quantised with the `gguf` package's numpy quantisers, written atomically (temp file, rename).

llama.cpp's layout: tensor names from `gguf.TensorNameMap`, Q and K projections permuted into
its rotary layout, 1-D tensors (norms) kept in f32, and for Q4/Q5 files the token embedding in
Q8_0 (as llama.cpp's own quantiser does: it is also the tied output layer)."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from alignstack.core.errors import BackendError, ConfigError
from alignstack.quantize.gguf_tokenizer import copy_tokenizer_fields, write_hf_bpe_tokenizer

QTYPES = ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1")
SUPPORTED_ARCHITECTURES = ("LlamaForCausalLM",)


def ggml_type(name: str):
    import gguf

    if name not in QTYPES:
        raise ConfigError(f"unknown GGUF type '{name}' (known: {', '.join(QTYPES)})")
    return gguf.GGMLQuantizationType[name.upper()]


def file_type(name: str):
    import gguf

    return {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
            "bf16": gguf.LlamaFileType.MOSTLY_BF16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
            "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0, "q4_1": gguf.LlamaFileType.MOSTLY_Q4_1,
            "q5_0": gguf.LlamaFileType.MOSTLY_Q5_0, "q5_1": gguf.LlamaFileType.MOSTLY_Q5_1}[name]


def rotary_permute(weight, heads: int):
    """HF's rotate-half Q/K rows -> llama.cpp's interleaved pairs (what its converter does)."""
    rows = weight.shape[0]
    return (weight.reshape(heads, 2, rows // heads // 2, *weight.shape[1:])
            .swapaxes(1, 2).reshape(weight.shape))


def tensor_type(name: str, array, qtype: str):
    """The GGML type one tensor is stored in, for a file of type `qtype`."""
    import gguf

    if array.ndim < 2:
        return gguf.GGMLQuantizationType.F32
    if qtype.startswith(("q4", "q5")) and name in ("token_embd.weight", "output.weight"):
        return gguf.GGMLQuantizationType.Q8_0
    wanted = ggml_type(qtype)
    block = gguf.GGML_QUANT_SIZES[wanted][0]
    if array.shape[-1] % block:          # rows not divisible into blocks: llama.cpp's fallback
        return gguf.GGMLQuantizationType.F16
    return wanted


@contextmanager
def gguf_file(out: Path, arch: str = "llama"):
    """A GGUFWriter whose file appears at `out` only when complete: written beside it under a
    temporary name, renamed on success, removed on any failure."""
    import gguf

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    try:
        writer = gguf.GGUFWriter(tmp, arch)
        yield writer
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class ExportResult:
    path: str
    qtype: str
    bytes: int
    tensors: int
    tokenizer: str          # "copied from <gguf>" or "built from tokenizer.json (pre=gpt-2)"


def llama_hparams(writer, config) -> None:
    heads = config.num_attention_heads
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(heads)
    writer.add_head_count_kv(getattr(config, "num_key_value_heads", None) or heads)
    writer.add_rope_freq_base(float(getattr(config, "rope_theta", None) or
                                    (getattr(config, "rope_parameters", None) or {}).get(
                                        "rope_theta", 10000.0)))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    writer.add_rope_dimension_count(getattr(config, "head_dim", None)
                                    or config.hidden_size // heads)


def gguf_tensors(state: dict, config):
    """(gguf name, numpy array) for each weight, in llama.cpp's layout."""
    import gguf

    names = gguf.TensorNameMap(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    tied = getattr(config, "tie_word_embeddings", False)
    for hf_name, tensor in state.items():
        if tied and hf_name == "lm_head.weight":
            continue
        if hf_name.endswith("rotary_emb.inv_freq"):
            continue
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise BackendError(f"tensor '{hf_name}' has no llama.cpp name")
        array = tensor.detach().float().cpu().numpy()
        if hf_name.endswith("q_proj.weight"):
            array = rotary_permute(array, heads)
        elif hf_name.endswith("k_proj.weight"):
            array = rotary_permute(array, kv_heads)
        yield name, array


def write_gguf(model, model_dir: Path, out: Path, qtype: str = "f16",
               tokenizer_gguf: Path | None = None, name: str | None = None) -> ExportResult:
    """`model` (a loaded transformers causal LM) -> `out`. The tokenizer comes from
    `tokenizer_gguf` when given, else from `model_dir`'s tokenizer.json."""
    import gguf
    import numpy as np

    config = model.config
    archs = getattr(config, "architectures", None) or [type(model).__name__]
    if archs[0] not in SUPPORTED_ARCHITECTURES:
        raise BackendError(f"{model_dir}: architecture {archs[0]} is not exported yet "
                           f"(supported: {', '.join(SUPPORTED_ARCHITECTURES)})")
    with gguf_file(out) as writer:
        writer.add_name(name or out.stem)
        writer.add_file_type(file_type(qtype))
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
        llama_hparams(writer, config)
        if tokenizer_gguf is not None:
            copy_tokenizer_fields(writer, tokenizer_gguf)
            tokenizer = f"copied from {tokenizer_gguf.name}"
        else:
            pre = write_hf_bpe_tokenizer(writer, model_dir)
            tokenizer = f"built from tokenizer.json (pre={pre})"
        count = 0
        for tname, array in gguf_tensors(model.state_dict(), config):
            ttype = tensor_type(tname, array, qtype)
            if ttype == gguf.GGMLQuantizationType.F32:
                data = array.astype(np.float32)
            elif ttype == gguf.GGMLQuantizationType.F16:
                data = array.astype(np.float16)
            else:
                data = gguf.quants.quantize(array.astype(np.float32), ttype)
            writer.add_tensor(tname, data, raw_dtype=ttype)
            count += 1
    return ExportResult(str(out), qtype, out.stat().st_size, count, tokenizer)
