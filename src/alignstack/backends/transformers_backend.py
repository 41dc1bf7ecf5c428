"""Local generation with transformers: batches formed by token length, left-padded, each sequence
stopped at its own token limit, the model's own chat template; weights from the model cache."""

from __future__ import annotations

import time
from typing import Sequence

from alignstack.backends.base import BACKENDS, Completion, GenParams, Message, item_limits
from alignstack.backends.cache import shared
from alignstack.backends.hardware import best_device, configure_torch, resolve_dtype
from alignstack.backends.models import resolve
from alignstack.core.errors import BackendError


def load_model_and_tokenizer(spec: str, *, device: str = "auto", dtype: str = "auto",
                             adapter: str | None = None, trust_remote_code: bool = False):
    """A causal LM (built-in name, path, .gguf or hub id), optionally with a PEFT adapter merged,
    loaded once per process for the same weights, dtype and device (the model cache)."""
    configure_torch()
    device = best_device() if device == "auto" else device
    torch_dtype = resolve_dtype(dtype, device)
    key = ("transformers", spec, adapter, str(torch_dtype), device, trust_remote_code)
    return shared(key, lambda: _load(spec, device, torch_dtype, adapter, trust_remote_code))


def _load(spec: str, device: str, torch_dtype, adapter: str | None, trust_remote_code: bool):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    resolved = resolve(spec)
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

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        ids = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(row) for row in ids]

    def generate_text(self, prompts: Sequence[str], params: GenParams,
                      max_new_tokens: Sequence[int] | None = None) -> list[Completion]:
        """Generate for raw prompt strings in batches of `batch_size`, formed by token limit then
        prompt length in tokens (little padding, and a batch ends when its longest-limit row
        does); every row stops at its own limit."""
        limits = item_limits(len(prompts), params, max_new_tokens)
        lengths = self.count_tokens(prompts)
        order = sorted(range(len(prompts)), key=lambda i: (limits[i], lengths[i]))
        results: list[list[Completion]] = [[] for _ in prompts]
        n = params.num_return_sequences
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            batch = self._generate_batch([prompts[i] for i in idx], params,
                                         [limits[i] for i in idx])
            for j, i in enumerate(idx):
                results[i] = batch[j * n:(j + 1) * n]
        return [c for group in results for c in group]

    def _generate_batch(self, prompts: list[str], params: GenParams,
                        limits: list[int]) -> list[Completion]:
        import torch

        tok = self.tokenizer
        n = params.num_return_sequences
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        enc = enc.to(self.model.device)
        sample = params.temperature > 0
        if params.seed is not None:
            torch.manual_seed(params.seed)
        width = enc["input_ids"].shape[1]
        row_limits = [limit for limit in limits for _ in range(n)]
        gen_kwargs = dict(max_new_tokens=max(limits), do_sample=sample, num_return_sequences=n,
                          pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
        if len(set(limits)) > 1:
            gen_kwargs["stopping_criteria"] = _row_limit_criteria(width, row_limits)
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
        prompt_lens = enc["attention_mask"].sum(dim=1).tolist()
        completions = []
        for row, seq in enumerate(out):
            new = seq[width:width + row_limits[row]]
            ended = (new == tok.eos_token_id).nonzero()
            n_new = int(ended[0]) + 1 if len(ended) else len(new)
            text = tok.decode(new[:n_new], skip_special_tokens=True)
            text, stopped = _apply_stop(text, params.stop)
            completions.append(Completion(
                text=text.strip(), prompt_tokens=int(prompt_lens[row // n]),
                completion_tokens=n_new,
                finish_reason="stop" if (len(ended) or stopped) else "length"))
            self.stats["completion_tokens"] += n_new
        self.stats["prompt_tokens"] += int(sum(prompt_lens))
        return completions


def _row_limit_criteria(prompt_width: int, row_limits: list[int]):
    """A stopping criterion that ends each row at its own number of new tokens (transformers pads
    a finished row while the others go on, and the batch ends when every row has)."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class RowLimits(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            done = input_ids.shape[1] - prompt_width
            return torch.tensor([done >= limit for limit in row_limits],
                                device=input_ids.device, dtype=torch.bool)

    return StoppingCriteriaList([RowLimits()])


def _apply_stop(text: str, stop: list[str]) -> tuple[str, bool]:
    cut = min((text.find(s) for s in stop if s and s in text), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
