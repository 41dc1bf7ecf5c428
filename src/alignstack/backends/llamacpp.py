"""llama.cpp through `xllamacpp` (a prebuilt CPU wheel on PyPI, no compiler): llama.cpp's own
server engine embedded in this process, with continuous batching over `parallel` slots.

A GGUF base loads once per process (the model cache) with its LoRA adapters (GGUF LoRA, see
`alignstack export`); each generator chooses the adapters' scales per request, so an upstream
(scales 0) and a corrector (scale 1) share one base in memory. Concurrent requests from a thread
pool are what llama.cpp batches. Token counts and the chat template come from llama.cpp itself
(`/tokenize`, `/apply-template` on its loopback listener, which this module binds to 127.0.0.1 on
a free port with a random API key, so nothing else on the machine can use it). `stream_chat`
streams one completion as llama.cpp generates it (its callback stops the slot when the reader
closes the stream)."""

from __future__ import annotations

import queue
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from alignstack.backends.base import BACKENDS, Completion, GenParams, Message, item_limits
from alignstack.backends.cache import shared
from alignstack.backends.hardware import torch_threads
from alignstack.backends.models import BUILTIN, package_file
from alignstack.core.errors import BackendError


def gguf_path(spec: str) -> Path:
    """A built-in name (its shipped GGUF, used as is: no dequantising) or a .gguf file."""
    if spec in BUILTIN:
        package, filename, _ = BUILTIN[spec]
        return package_file(package, filename)
    path = Path(spec).expanduser()
    if path.suffix != ".gguf" or not path.is_file():
        raise BackendError(f"llama.cpp needs a GGUF file or a built-in model name "
                           f"({', '.join(BUILTIN)}), got '{spec}' (make one with "
                           f"`alignstack export`)")
    return path.resolve()


@dataclass
class LlamaEngine:
    """One embedded llama.cpp server: the model, its adapters, and its loopback listener."""
    server: object
    url: str
    api_key: str
    parallel: int
    adapters: tuple[str, ...]

    def post(self, path: str, body: dict) -> dict:
        import httpx

        response = httpx.post(self.url + path, json=body, timeout=60.0,
                              headers={"Authorization": f"Bearer {self.api_key}"})
        if response.status_code != 200:
            raise BackendError(f"llama.cpp {path} answered {response.status_code}: "
                               f"{response.text[:200]}")
        return response.json()


def start_engine(model: Path, adapters: tuple[str, ...], parallel: int, context: int,
                 threads: int) -> LlamaEngine:
    try:
        import xllamacpp
    except ImportError as exc:
        raise BackendError("the llama.cpp backend needs xllamacpp (pip install "
                           "'alignstack[llamacpp]')") from exc
    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.n_parallel = parallel
    params.n_ctx = context * parallel          # each slot gets `context` tokens
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    # no busy-polling between graphs: several engines share this process's cores (an upstream,
    # correctors, a transformers model), and a polling idle pool steals them from the busy one
    params.cpuparams.poll = 0
    params.cpuparams_batch.poll = 0
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    api_key = secrets.token_urlsafe(24)
    params.api_keys = [api_key]
    params.verbosity = -1
    params.lora_init_without_apply = True      # scales are chosen per request
    params.lora_adapters = [xllamacpp.CommonAdapterLoraInfo(str(a), 0.0) for a in adapters]
    for adapter in adapters:
        if not Path(adapter).is_file():
            raise BackendError(f"LoRA adapter not found: {adapter}")
    try:
        server = xllamacpp.Server(params)
    except Exception as exc:  # noqa: BLE001 - the binding raises plain RuntimeError/ValueError
        raise BackendError(f"llama.cpp could not load {model}: {exc}") from exc
    return LlamaEngine(server, server.listening_address, api_key, parallel, adapters)


@BACKENDS.register("llamacpp")
class LlamaCppGenerator:
    def __init__(self, model: str = "smollm2", *, lora: Sequence[str] = (),
                 lora_scales: Sequence[float] | None = None, parallel: int = 8,
                 context: int = 2048, threads: int | None = None):
        path = gguf_path(model)
        adapters = tuple(str(Path(a).resolve()) for a in lora)
        scales = list(lora_scales) if lora_scales is not None else [1.0] * len(adapters)
        if len(scales) != len(adapters):
            raise BackendError(f"{len(adapters)} LoRA adapters but {len(scales)} scales")
        # the usable cores, or ALIGNSTACK_THREADS where set (a contended CPU: a 2-thread graph
        # whose second thread is descheduled waits for it at every token)
        threads = threads or torch_threads()
        self.engine: LlamaEngine = shared(
            ("llamacpp", str(path), adapters, parallel, context, threads),
            lambda: start_engine(path, adapters, parallel, context, threads))
        self.lora = [{"id": i, "scale": float(s)} for i, s in enumerate(scales)]
        self.context_length = context              # tokens a slot holds: prompt + completion
        active = [Path(a).stem for a, s in zip(adapters, scales) if s]
        self.name = model + "".join(f"+{a}" for a in active)
        self.stats = {"prompt_tokens": 0, "completion_tokens": 0}

    def _request(self, prompt: str, params: GenParams, limit: int, seed: int | None) -> dict:
        body = {"prompt": prompt, "max_tokens": limit, "temperature": params.temperature,
                "top_p": params.top_p, "cache_prompt": True, "lora": self.lora}
        if seed is not None:
            body["seed"] = seed
        if params.stop:
            body["stop"] = params.stop
        if params.repetition_penalty != 1.0:
            body["repeat_penalty"] = params.repetition_penalty
        if params.no_repeat_ngram_size > 0:
            # llama.cpp has no hard n-gram ban; DRY penalises extending any repeat longer than
            # `allowed_length` tokens, steeply: the nearest loop guard it offers
            body.update(dry_multiplier=0.8, dry_base=1.75,
                        dry_allowed_length=params.no_repeat_ngram_size)
        return body

    def _one(self, job: tuple[str, GenParams, int, int | None]) -> Completion:
        prompt, params, limit, seed = job
        result = self.engine.server.handle_completions(self._request(prompt, params, limit, seed))
        if "error" in result or "choices" not in result:
            raise BackendError(f"llama.cpp: {result.get('error', result)}")
        choice, usage = result["choices"][0], result.get("usage", {})
        text, stopped = choice.get("text", ""), choice.get("finish_reason") or "stop"
        self.stats["prompt_tokens"] += usage.get("prompt_tokens", 0)
        self.stats["completion_tokens"] += usage.get("completion_tokens", 0)
        return Completion(text=text.strip(), prompt_tokens=usage.get("prompt_tokens", 0),
                          completion_tokens=usage.get("completion_tokens", 0),
                          finish_reason="length" if stopped == "length" else "stop")

    def generate_text(self, prompts: Sequence[str], params: GenParams,
                      max_new_tokens: Sequence[int] | None = None) -> list[Completion]:
        limits = item_limits(len(prompts), params, max_new_tokens)
        n = params.num_return_sequences
        jobs = []
        for prompt, limit in zip(prompts, limits):
            for k in range(n):      # n samples: n requests, each with its own seed
                seed = None if params.seed is None else params.seed + k
                if seed is None and n > 1 and params.temperature > 0:
                    seed = secrets.randbelow(2**31)
                jobs.append((prompt, params, limit, seed))
        if not jobs:
            return []
        # more requests in flight than slots keeps every slot busy (continuous batching)
        with ThreadPoolExecutor(max_workers=min(len(jobs), 2 * self.engine.parallel)) as pool:
            return list(pool.map(self._one, jobs))

    def generate(self, prompts: list[list[Message]], params: GenParams) -> list[Completion]:
        return self.generate_text([self.format_chat(m) for m in prompts], params)

    def stream_chat(self, messages: list[Message], params: GenParams) -> Iterator[str]:
        """The chat's completion in pieces as llama.cpp generates them; closing the iterator
        stops the generation (at its next token)."""
        body = self._request(self.format_chat(messages), params, params.max_new_tokens,
                             params.seed)
        body["stream"] = True
        pieces: queue.Queue = queue.Queue()
        closed = threading.Event()

        def on_chunk(chunk: dict) -> bool:             # True: stop generating
            if closed.is_set():
                return True
            if "error" in chunk or "choices" not in chunk:
                pieces.put(BackendError(f"llama.cpp: {chunk.get('error', chunk)}"))
                return True
            text = chunk["choices"][0].get("text") or ""
            if text:
                pieces.put(text)
            return False

        def generate() -> None:
            try:
                self.engine.server.handle_completions(body, on_chunk)
            except Exception as exc:  # noqa: BLE001 - handed to the reader
                pieces.put(BackendError(f"llama.cpp: {exc}"))
            finally:
                pieces.put(None)

        threading.Thread(target=generate, name="llamacpp-stream", daemon=True).start()
        try:
            while (piece := pieces.get()) is not None:
                if isinstance(piece, Exception):
                    raise piece
                yield piece
        finally:
            closed.set()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(self.engine.post("/tokenize", {"content": text, "add_special": False,
                                                   "parse_special": True})["tokens"])
                for text in texts]

    def format_chat(self, messages: list[Message]) -> str:
        return self.engine.post("/apply-template", {"messages": messages})["prompt"]
