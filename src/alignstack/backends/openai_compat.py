"""Any OpenAI-compatible HTTP endpoint (OpenAI, vLLM, llama.cpp's server, Ollama, alignstack serve)
through the official `openai` client. Requests run concurrently on a thread pool, so a server that
batches (vLLM, llama.cpp) sees them together.

Raw-prompt generation uses the completions endpoint. Token counts and the chat template come from
a local tokenizer when one is named (`tokenizer=`), else from the server's own `/tokenize` and
`/apply-template` (llama.cpp's server has both, vLLM has `/tokenize`); a hosted chat-only API has
neither, and asking it for them is a clear error. `stream_chat` streams one chat completion
(`stream=True`); closing it closes the connection, which stops the server's generation."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, Sequence

from alignstack.backends.base import BACKENDS, Completion, GenParams, Message, item_limits
from alignstack.core.errors import BackendError


@BACKENDS.register("openai")
class OpenAICompatGenerator:
    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 concurrency: int = 8, timeout: float = 120.0, max_retries: int = 2,
                 tokenizer: str | None = None, extra_body: dict | None = None):
        import openai

        self.name = model
        self.model = model
        self.concurrency = concurrency
        self.extra_body = extra_body or {}
        self.client = openai.OpenAI(
            base_url=base_url or os.environ.get("OPENAI_BASE_URL"),
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
            timeout=timeout, max_retries=max_retries)
        self._tokenizer_spec = tokenizer
        self._tokenizer = None

    # -- generation ------------------------------------------------------------------------------
    def _request(self, params: GenParams, limit: int) -> dict:
        kwargs = dict(model=self.model, max_tokens=limit, temperature=params.temperature,
                      top_p=params.top_p, n=params.num_return_sequences)
        if params.seed is not None:
            kwargs["seed"] = params.seed
        if params.stop:
            kwargs["stop"] = params.stop
        if params.repetition_penalty != 1.0:
            kwargs["frequency_penalty"] = min(2.0, params.repetition_penalty - 1.0)
        if self.extra_body:
            kwargs["extra_body"] = self.extra_body
        return kwargs

    def _call(self, create, **kwargs):
        import openai

        try:
            return create(**kwargs)
        except openai.OpenAIError as exc:
            raise BackendError(f"{self.client.base_url} model '{self.model}': {exc}") from exc

    def _chat(self, messages: list[Message], params: GenParams, limit: int) -> list[Completion]:
        response = self._call(self.client.chat.completions.create, messages=messages,
                              **self._request(params, limit))
        return _completions(response, [(c.message.content or "", c.finish_reason)
                                       for c in response.choices])

    def _text(self, prompt: str, params: GenParams, limit: int) -> list[Completion]:
        response = self._call(self.client.completions.create, prompt=prompt,
                              **self._request(params, limit))
        return _completions(response, [(c.text or "", c.finish_reason) for c in response.choices])

    def _map(self, one, items: Sequence, limits: list[int]) -> list[Completion]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            groups = list(pool.map(one, items, limits))
        return [c for group in groups for c in group]

    def generate(self, prompts: list[list[Message]], params: GenParams) -> list[Completion]:
        return self._map(lambda m, limit: self._chat(m, params, limit), prompts,
                         item_limits(len(prompts), params, None))

    def generate_text(self, prompts: Sequence[str], params: GenParams,
                      max_new_tokens: Sequence[int] | None = None) -> list[Completion]:
        return self._map(lambda p, limit: self._text(p, params, limit), list(prompts),
                         item_limits(len(prompts), params, max_new_tokens))

    def stream_chat(self, messages: list[Message], params: GenParams) -> Iterator[str]:
        """The chat's completion in pieces as the server sends them (n = 1)."""
        import openai

        request = dict(self._request(params, params.max_new_tokens), n=1)
        stream = self._call(self.client.chat.completions.create, messages=messages,
                            stream=True, **request)
        try:
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except openai.OpenAIError as exc:
            raise BackendError(f"{self.client.base_url} model '{self.model}': {exc}") from exc
        finally:
            stream.close()

    # -- tokenizer -------------------------------------------------------------------------------
    def _local_tokenizer(self):
        if self._tokenizer is None and self._tokenizer_spec:
            from transformers import AutoTokenizer

            from alignstack.backends.models import resolve

            self._tokenizer = AutoTokenizer.from_pretrained(resolve(self._tokenizer_spec).path)
        return self._tokenizer

    def _server_post(self, path: str, body: dict) -> dict:
        import httpx

        root = str(self.client.base_url).rstrip("/").removesuffix("/v1")
        try:
            response = httpx.post(root + path, json=body, timeout=30.0,
                                  headers={"Authorization": f"Bearer {self.client.api_key}"})
        except httpx.HTTPError as exc:
            raise BackendError(f"{root}{path}: {exc}") from exc
        if response.status_code != 200:
            raise BackendError(
                f"{root}{path} answered {response.status_code}: this endpoint has no {path}; "
                f"name a local tokenizer (tokenizer=<model or path>) to count tokens and format "
                f"chats")
        return response.json()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        tokenizer = self._local_tokenizer()
        if tokenizer is not None:
            return [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]
        counts = []
        for text in texts:          # llama.cpp: {"content"}; vLLM: {"model", "prompt"}
            body = self._server_post("/tokenize", {"content": text, "prompt": text,
                                                   "model": self.model,
                                                   "add_special_tokens": False})
            counts.append(int(body["count"]) if "count" in body else len(body["tokens"]))
        return counts

    def format_chat(self, messages: list[Message]) -> str:
        tokenizer = self._local_tokenizer()
        if tokenizer is not None:
            return tokenizer.apply_chat_template(messages, tokenize=False,
                                                 add_generation_prompt=True)
        return self._server_post("/apply-template", {"messages": messages})["prompt"]


def _completions(response, choices: list[tuple[str, str | None]]) -> list[Completion]:
    usage = response.usage
    per_choice = (usage.completion_tokens // max(1, len(choices))) if usage else 0
    return [Completion(text=text.strip(), prompt_tokens=usage.prompt_tokens if usage else 0,
                       completion_tokens=per_choice, finish_reason=reason or "stop")
            for text, reason in choices]
