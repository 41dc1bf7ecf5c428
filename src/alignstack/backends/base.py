"""The Generator contract every backend implements, and the registry that builds backends by name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, TypedDict, runtime_checkable

from alignstack.core.registry import Registry


class Message(TypedDict):
    role: str
    content: str


@dataclass
class GenParams:
    max_new_tokens: int = 128
    temperature: float = 0.0          # 0 = greedy
    top_p: float = 1.0
    num_return_sequences: int = 1
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    # loop guards, where the engine supports them (transformers): no word-piece n-gram of this
    # size twice (0 = off), and the classic repetition penalty (1.0 = off)
    no_repeat_ngram_size: int = 0
    repetition_penalty: float = 1.0


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"       # "stop" or "length"


@runtime_checkable
class Generator(Protocol):
    name: str

    def generate(self, prompts: list[list[Message]], params: GenParams) -> list[Completion]:
        """One completion per prompt (num_return_sequences > 1: that many per prompt, in order)."""
        ...


BACKENDS: Registry = Registry("backend")


def load_backend(kind: str, **options: object) -> Generator:
    """Build a backend by registered name, importing its module only now (heavy libraries)."""
    import importlib

    module = {"transformers": "transformers_backend", "openai": "openai_compat"}.get(kind, kind)
    if kind not in BACKENDS:
        try:
            importlib.import_module(f"alignstack.backends.{module}")
        except ModuleNotFoundError:
            pass
    return BACKENDS.get(kind)(**options)


def open_backend(kind: str, model: str, *, base_url: str | None = None,
                 batch_size: int = 8) -> Generator:
    """A backend from the options commands take: a batch size for local models, an endpoint for
    HTTP ones (the API key comes from OPENAI_API_KEY)."""
    if kind == "transformers":
        return load_backend(kind, model=model, batch_size=batch_size)
    return load_backend(kind, model=model, **({"base_url": base_url} if base_url else {}))
