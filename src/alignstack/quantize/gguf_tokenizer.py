"""The tokenizer part of a GGUF file: copied verbatim from a source GGUF when the model came from
one (the built-in SmolLM2, or any model materialised from a .gguf), else built from a Hugging Face
BPE tokenizer (`tokenizer.json`)."""

from __future__ import annotations

import json
from pathlib import Path

from alignstack.core.errors import BackendError

# llama.cpp's token types
NORMAL, CONTROL, USER_DEFINED = 1, 3, 4


def copy_tokenizer_fields(writer, source: Path) -> None:
    """Every `tokenizer.*` key of `source` into `writer`, with its GGUF type."""
    import gguf

    reader = gguf.GGUFReader(str(source))
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer."):
            continue
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            writer.add_key_value(key, field.contents(), vtype, sub_type=field.types[-1])
        else:
            writer.add_key_value(key, field.contents(), vtype)


def pre_tokenizer_name(spec: dict, path: Path) -> str:
    """llama.cpp's name for the tokenizer's pre-tokenization (it picks its split regexes by it).
    Only what can be read off `tokenizer.json` with certainty: a plain byte-level split (GPT-2's
    regex, as SmolLM and GPT-2 use) is 'gpt-2'; anything else needs a source GGUF."""
    pre = spec.get("pre_tokenizer") or {}
    if pre.get("type") == "ByteLevel" and pre.get("use_regex", True):
        return "gpt-2"
    raise BackendError(f"{path}: field pre_tokenizer ({pre.get('type')}) has no known llama.cpp "
                       f"name; export with a source GGUF of the same tokenizer")


def write_hf_bpe_tokenizer(writer, model_dir: Path) -> str:
    """A byte-level BPE tokenizer from `tokenizer.json`. Returns the pre-tokenizer name."""
    from transformers import AutoTokenizer

    path = model_dir / "tokenizer.json"
    if not path.is_file():
        raise BackendError(f"{model_dir}: no tokenizer.json (a fast BPE tokenizer is needed to "
                           f"write GGUF tokenizer metadata; pass a source GGUF instead)")
    spec = json.loads(path.read_text(encoding="utf-8"))
    if spec.get("model", {}).get("type") != "BPE":
        raise BackendError(f"{path}: field model.type is {spec.get('model', {}).get('type')!r}; "
                           f"only BPE tokenizers are exported (pass a source GGUF otherwise)")
    pre = pre_tokenizer_name(spec, path)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    vocab = tokenizer.get_vocab()
    size = max(vocab.values()) + 1
    tokens = [f"[PAD{i}]" for i in range(size)]
    for text, index in vocab.items():
        tokens[index] = text
    added = {a["id"]: a.get("special", False) for a in spec.get("added_tokens", [])}
    types = [(CONTROL if added[i] else USER_DEFINED) if i in added else NORMAL
             for i in range(size)]
    merges = [" ".join(m) if isinstance(m, list) else m for m in spec["model"].get("merges", [])]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for setter, token in ((writer.add_bos_token_id, tokenizer.bos_token),
                          (writer.add_eos_token_id, tokenizer.eos_token),
                          (writer.add_pad_token_id, tokenizer.pad_token or tokenizer.eos_token)):
        if token is not None:
            setter(vocab[token])
    writer.add_add_bos_token(False)
    if tokenizer.chat_template:
        writer.add_chat_template(tokenizer.chat_template)
    return pre
