"""Any OpenAI-compatible HTTP endpoint (OpenAI, vLLM, llama.cpp server, alignstack serve) through
the official `openai` client. Requests in a batch run concurrently on a small thread pool."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from alignstack.backends.base import BACKENDS, Completion, GenParams, Message
from alignstack.core.errors import BackendError


@BACKENDS.register("openai")
class OpenAICompatGenerator:
    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 concurrency: int = 4, timeout: float = 120.0, max_retries: int = 2):
        import openai

        self.name = model
        self.model = model
        self.concurrency = concurrency
        self.client = openai.OpenAI(
            base_url=base_url or os.environ.get("OPENAI_BASE_URL"),
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
            timeout=timeout, max_retries=max_retries)

    def _one(self, messages: list[Message], params: GenParams) -> list[Completion]:
        import openai

        kwargs = dict(model=self.model, messages=messages, max_tokens=params.max_new_tokens,
                      temperature=params.temperature, top_p=params.top_p,
                      n=params.num_return_sequences)
        if params.seed is not None:
            kwargs["seed"] = params.seed
        if params.stop:
            kwargs["stop"] = params.stop
        try:
            response = self.client.chat.completions.create(**kwargs)
        except openai.OpenAIError as exc:
            raise BackendError(f"{self.client.base_url} model '{self.model}': {exc}") from exc
        usage = response.usage
        return [Completion(text=(choice.message.content or "").strip(),
                           prompt_tokens=usage.prompt_tokens if usage else 0,
                           completion_tokens=(usage.completion_tokens // len(response.choices))
                           if usage else 0,
                           finish_reason=choice.finish_reason or "stop")
                for choice in response.choices]

    def generate(self, prompts: list[list[Message]], params: GenParams) -> list[Completion]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            groups = list(pool.map(lambda m: self._one(m, params), prompts))
        return [c for group in groups for c in group]
