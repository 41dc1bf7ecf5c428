"""Local generation with transformers: batched, left-padded, the model's own chat template."""

from __future__ import annotations

import time
from typing import Sequence

from alignstack.backends.base import BACKENDS, Completion, GenParams, Message
from alignstack.backends.hardware import best_device, configure_torch, resolve_dtype
from alignstack.backends.models import resolve
from alignstack.core.errors import BackendError


def load_model_and_tokenizer(spec: str, *, device: str = "auto", dtype: str = "auto",
                             adapter: str | None = None, trust_remote_code: bool = False):
    """Load a causal LM (built-in name, path, .gguf or hub id), optionally with a PEFT adapter."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    configure_torch()
    resolved = resolve(spec)
    device = best_device() if device == "auto" else device
    torch_dtype = resolve_dtype(dtype, device)
    kwargs = {"trust_remote_code": trust_remote_code}
    if resolved.gguf_file:
        kwargs["gguf_file"] = resolved.gguf_file
    try:
        tokenizer = AutoTokenizer.from_pretrained(resolved.path, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(resolved.path, dtype=torch_dtype, **kwargs)
    except (OSError, ValueError) as exc:
        raise BackendError(f"cannot load model '{spec}': {exc}") from exc
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    model.to(device).eval()
    return model, tokenizer


@BACKENDS.register("transformers")
class TransformersGenerator:
    """`Generator` over a local transformers model.

    `generate` applies the chat template; `generate_text` takes already-formatted prompts (the
    corrector's templates use it).
    """

    def __init__(self, model: str = "smollm2", *, adapter: str | None = None, device: str = "auto",
                 dtype: str = "auto", batch_size: int = 8, trust_remote_code: bool = False,
                 model_obj=None, tokenizer_obj=None):
        self.name = model if adapter is None else f"{model}+{adapter}"
        self.batch_size = batch_size
        if model_obj is not None:
            self.model, self.tokenizer = model_obj, tokenizer_obj
            self.tokenizer.padding_side = "left"
            if self.tokenizer.pad_token is None:
                self.tokenizer.pad_token = self.tokenizer.eos_token
        else:
            self.model, self.tokenizer = load_model_and_tokenizer(
                model, device=device, dtype=dtype, adapter=adapter,
                trust_remote_code=trust_remote_code)
        self.stats = {"prompt_tokens": 0, "completion_tokens": 0, "seconds": 0.0}

    def format_chat(self, messages: list[Message]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False,
                                                  add_generation_prompt=True)

    def generate(self, prompts: list[list[Message]], params: GenParams) -> list[Completion]:
        return self.generate_text([self.format_chat(m) for m in prompts], params)

    def generate_text(self, prompts: Sequence[str], params: GenParams,
                      max_new_tokens: Sequence[int] | None = None) -> list[Completion]:
        """Generate for raw prompt strings, in batches of `batch_size` (sorted by length)."""
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        results: list[list[Completion]] = [[] for _ in prompts]
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            limit = params.max_new_tokens
            if max_new_tokens is not None:
                limit = max(max_new_tokens[i] for i in idx)
            batch = self._generate_batch([prompts[i] for i in idx], params, limit)
            n = params.num_return_sequences
            for j, i in enumerate(idx):
                results[i] = batch[j * n:(j + 1) * n]
        return [c for group in results for c in group]

    def _generate_batch(self, prompts: list[str], params: GenParams,
                        max_new_tokens: int) -> list[Completion]:
        import torch

        tok = self.tokenizer
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        enc = enc.to(self.model.device)
        sample = params.temperature > 0
        if params.seed is not None:
            torch.manual_seed(params.seed)
        gen_kwargs = dict(max_new_tokens=max_new_tokens, do_sample=sample,
                          num_return_sequences=params.num_return_sequences,
                          pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
        if params.no_repeat_ngram_size > 0:
            gen_kwargs["no_repeat_ngram_size"] = params.no_repeat_ngram_size
        if params.repetition_penalty != 1.0:
            gen_kwargs["repetition_penalty"] = params.repetition_penalty
        if sample:
            gen_kwargs.update(temperature=params.temperature, top_p=params.top_p)
        else:
            gen_kwargs.update(temperature=None, top_p=None, top_k=None)
        started = time.perf_counter()
        with torch.inference_mode():
            out = self.model.generate(**enc, **gen_kwargs)
        self.stats["seconds"] += time.perf_counter() - started
        width = enc["input_ids"].shape[1]
        prompt_lens = enc["attention_mask"].sum(dim=1).tolist()
        completions = []
        for row, seq in enumerate(out):
            new = seq[width:]
            ended = (new == tok.eos_token_id).nonzero()
            n_new = int(ended[0]) + 1 if len(ended) else len(new)
            text = tok.decode(new[:n_new], skip_special_tokens=True)
            text, stopped = _apply_stop(text, params.stop)
            completions.append(Completion(
                text=text.strip(), prompt_tokens=int(prompt_lens[row // params.num_return_sequences]),
                completion_tokens=n_new,
                finish_reason="stop" if (len(ended) or stopped) else "length"))
            self.stats["completion_tokens"] += n_new
        self.stats["prompt_tokens"] += int(sum(prompt_lens))
        return completions


def _apply_stop(text: str, stop: list[str]) -> tuple[str, bool]:
    cut = min((text.find(s) for s in stop if s and s in text), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
