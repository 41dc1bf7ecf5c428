"""vLLM's offline engine, for machines with a GPU (`pip install 'alignstack[vllm]'`): continuous
batching and paged attention in-process, a PEFT LoRA adapter applied per request (so an upstream
and its corrector share one base), the model's own tokenizer and chat template."""

from __future__ import annotations

from typing import Sequence

from alignstack.backends.base import BACKENDS, Completion, GenParams, Message, item_limits
from alignstack.backends.cache import shared
from alignstack.backends.models import resolve
from alignstack.core.errors import BackendError


def start_llm(path: str, max_lora_rank: int, gpu_memory_utilization: float, max_model_len: int):
    try:
        from vllm import LLM
    except ImportError as exc:
        raise BackendError("the vLLM backend needs vllm and a GPU (pip install "
                           "'alignstack[vllm]')") from exc
    return LLM(model=path, enable_lora=True, max_lora_rank=max_lora_rank, dtype="auto",
               gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len,
               trust_remote_code=False)


@BACKENDS.register("vllm")
class VLLMGenerator:
    def __init__(self, model: str = "smollm2", *, adapter: str | None = None,
                 parallel: int = 256, max_lora_rank: int = 64,
                 gpu_memory_utilization: float = 0.5, max_model_len: int = 4096):
        path = resolve(model).path
        self.llm = shared(("vllm", path, max_lora_rank, gpu_memory_utilization, max_model_len),
                          lambda: start_llm(path, max_lora_rank, gpu_memory_utilization,
                                            max_model_len))
        self.tokenizer = self.llm.get_tokenizer()
        self.lora = None
        if adapter:
            from vllm.lora.request import LoRARequest

            self.lora = LoRARequest(adapter, abs(hash(adapter)) % 2**31 + 1, adapter)
        self.name = model if adapter is None else f"{model}+{adapter}"
        self.stats = {"prompt_tokens": 0, "completion_tokens": 0}

    def _sampling(self, params: GenParams, limit: int):
        from vllm import SamplingParams

        return SamplingParams(n=params.num_return_sequences, temperature=params.temperature,
                              top_p=params.top_p, max_tokens=limit, seed=params.seed,
                              stop=params.stop or None,
                              repetition_penalty=params.repetition_penalty)

    def generate_text(self, prompts: Sequence[str], params: GenParams,
                      max_new_tokens: Sequence[int] | None = None) -> list[Completion]:
        if not prompts:
            return []
        limits = item_limits(len(prompts), params, max_new_tokens)
        outputs = self.llm.generate(list(prompts), [self._sampling(params, n) for n in limits],
                                    lora_request=self.lora, use_tqdm=False)
        completions = []
        for out in outputs:
            for choice in out.outputs:
                completions.append(Completion(
                    text=choice.text.strip(), prompt_tokens=len(out.prompt_token_ids),
                    completion_tokens=len(choice.token_ids),
                    finish_reason="length" if choice.finish_reason == "length" else "stop"))
                self.stats["completion_tokens"] += len(choice.token_ids)
            self.stats["prompt_tokens"] += len(out.prompt_token_ids)
        return completions

    def generate(self, prompts: list[list[Message]], params: GenParams) -> list[Completion]:
        return self.generate_text([self.format_chat(m) for m in prompts], params)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(self.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]

    def format_chat(self, messages: list[Message]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False,
                                                  add_generation_prompt=True)
