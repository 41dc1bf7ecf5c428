"""The Generator contract every backend implements, and the registry that builds backends by name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Protocol, Sequence, TypedDict, runtime_checkable

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
    """The engine contract: everything that generates (corrector, best-of-N, squad, synth, eval,
    serve) takes one of these, never a concrete backend."""
    name: str

    def generate(self, prompts: list[list[Message]], params: GenParams) -> list[Completion]:
        """One completion per chat (num_return_sequences > 1: that many per chat, in order)."""
        ...

    def generate_text(self, prompts: Sequence[str], params: GenParams,
                      max_new_tokens: Sequence[int] | None = None) -> list[Completion]:
        """Completions of already-formatted prompts; `max_new_tokens` gives each item its own
        limit (else `params.max_new_tokens`), and no item runs past its own."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text in this engine's tokenizer (no special tokens added)."""
        ...

    def format_chat(self, messages: list[Message]) -> str:
        """The model's chat template applied to `messages`, with the assistant turn opened."""
        ...


@runtime_checkable
class StreamingGenerator(Protocol):
    """What an engine that streams adds (llama.cpp, OpenAI-compatible HTTP): `stream_chat` yields
    one chat's completion in pieces as they are generated (n = 1). Closing the iterator stops
    the generation. The model runs in the engine's own server, so a stream may be read from any
    thread while the engine's other calls run; an engine without it (transformers, vLLM) is
    streamed as one piece by its caller."""

    def stream_chat(self, messages: list[Message], params: GenParams) -> Iterator[str]: ...


def item_limits(n: int, params: GenParams, max_new_tokens: Sequence[int] | None) -> list[int]:
    """Each item's token limit: its own when given, else the params' one."""
    if max_new_tokens is None:
        return [params.max_new_tokens] * n
    if len(max_new_tokens) != n:
        raise ValueError(f"max_new_tokens has {len(max_new_tokens)} limits for {n} prompts")
    return [int(limit) for limit in max_new_tokens]


BACKENDS: Registry = Registry("backend")


BACKEND_MODULES = {"transformers": "transformers_backend", "openai": "openai_compat",
                   "llamacpp": "llamacpp", "vllm": "vllm_backend"}


def load_backend(kind: str, **options: object) -> Generator:
    """Build a backend by registered name, importing its module only now (heavy libraries)."""
    import importlib

    if kind not in BACKENDS and kind in BACKEND_MODULES:
        importlib.import_module(f"alignstack.backends.{BACKEND_MODULES[kind]}")
    return BACKENDS.get(kind)(**options)


def open_backend(kind: str, model: str, *, base_url: str | None = None,
                 batch_size: int = 8, **options: object) -> Generator:
    """A backend from the options commands take: a batch size (transformers) or a number of
    parallel sequences (llama.cpp, vLLM) for local models, an endpoint for HTTP ones (the API key
    comes from OPENAI_API_KEY). Local weights come from the process's model cache."""
    if kind == "openai":
        return load_backend(kind, model=model, **({"base_url": base_url} if base_url else {}),
                            **options)
    if kind == "transformers":
        return load_backend(kind, model=model, batch_size=batch_size, **options)
    return load_backend(kind, model=model, parallel=batch_size, **options)
