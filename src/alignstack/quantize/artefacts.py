"""`alignstack export` / `alignstack quantize`: a model or a trained corrector -> GGUF files (and
the corrector's adapter as GGUF LoRA), each reported with its size, its generation speed on
llama.cpp, and its quality delta against the unquantised model on the same held-out items.

Quality is measured where it cannot be blurred by decoding: the mean negative log-likelihood of
the reference completions of held-out records (for a corrector, its training targets: verdict +
correction; for a plain model, the reviewed correction as the answer), computed by transformers
on the unquantised model and on each GGUF read back (transformers dequantises it exactly as
stored). Perplexity = exp(NLL)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from alignstack.backends.base import GenParams
from alignstack.core.errors import ConfigError


@dataclass
class Source:
    """What is exported: the merged weights, where their tokenizer lives, and what scores them."""
    spec: str
    model: object
    tokenizer: object
    model_dir: Path
    tokenizer_gguf: Path | None
    meta: dict | None = None
    base: str = ""


@dataclass
class ArtefactReport:
    path: str
    kind: str                       # gguf type, or "lora"
    bytes: int
    tokens_per_second: float | None = None
    nll: float | None = None
    perplexity: float | None = None
    perplexity_delta: float | None = None     # relative to the unquantised model
    notes: list[str] = field(default_factory=list)


def load_source(spec: str) -> Source:
    """A `train corrector` directory (base + adapter merged) or any model spec, in float32."""
    from alignstack.backends.llamacpp import gguf_path
    from alignstack.backends.models import BUILTIN, resolve
    from alignstack.backends.transformers_backend import load_model_and_tokenizer
    from alignstack.correct.train import read_meta

    meta = read_meta(spec) if Path(spec).is_dir() else None
    base = meta["base_model"] if meta else spec
    adapter = str(Path(spec) / meta["adapter"]) if meta else None
    model, tokenizer = load_model_and_tokenizer(base, dtype="float32", device="cpu",
                                                adapter=adapter)
    from_gguf = base in BUILTIN or base.endswith(".gguf")
    return Source(spec, model, tokenizer, Path(resolve(base).path),
                  gguf_path(base) if from_gguf else None, meta, base)


def reference_pairs(source: Source, eval_file: str, limit: int) -> list[tuple[str, str]]:
    """(prompt, completion) pairs from held-out Q-A-C records, as the model is used."""
    import random

    from alignstack.core.principles import Constitution
    from alignstack.core.records import Correction, read_jsonl
    from alignstack.correct.template import get_template
    from alignstack.correct.train import CorrectorTrainConfig, training_phases

    records = read_jsonl(eval_file, Correction)
    random.Random(0).shuffle(records)
    records = records[:limit]
    tokenizer = source.tokenizer
    if source.meta:
        template = get_template(source.meta["template"], tokenizer)
        constitution = (Constitution.model_validate(source.meta["principles"])
                        if source.meta.get("principles") else None)
        cfg = CorrectorTrainConfig(train_file=eval_file, output_dir="-",
                                   template=source.meta["template"],
                                   principles_in_prompt=source.meta.get("principles_in_prompt",
                                                                        "all"))
        rows = [row for _, rows in training_phases(records, template, constitution, cfg)
                for row in rows][:limit]
        return [(r["prompt"], r["completion"]) for r in rows]
    return [(tokenizer.apply_chat_template([{"role": "user", "content": r.question}],
                                           tokenize=False, add_generation_prompt=True),
             r.correction) for r in records]


def mean_nll(model, tokenizer, pairs: list[tuple[str, str]]) -> float:
    """Mean negative log-likelihood per completion token (EOS included), prompt masked."""
    import torch

    total, count = 0.0, 0
    with torch.inference_mode():
        for prompt, completion in pairs:
            p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
            c = tokenizer(completion, add_special_tokens=False)["input_ids"] + [
                tokenizer.eos_token_id]
            ids = torch.tensor([p + c])
            logits = model(input_ids=ids).logits[0, len(p) - 1:-1].float()
            nll = torch.nn.functional.cross_entropy(logits, ids[0, len(p):], reduction="sum")
            total += float(nll)
            count += len(c)
    return total / max(count, 1)


def gguf_nll(path: Path, tokenizer, pairs: list[tuple[str, str]]) -> float:
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name,
                                                 dtype=torch.float32).eval()
    return mean_nll(model, tokenizer, pairs)


def llamacpp_speed(model: str, lora: list[str], prompts: list[str], max_new_tokens: int,
                   parallel: int) -> float:
    """Generated tokens per second on llama.cpp, all prompts in flight together."""
    from alignstack.backends.base import load_backend

    engine = load_backend("llamacpp", model=model, lora=lora, parallel=parallel)
    engine.generate_text(prompts[:1], GenParams(max_new_tokens=4))         # warm-up
    started = time.perf_counter()
    outs = engine.generate_text(prompts, GenParams(max_new_tokens=max_new_tokens))
    return round(sum(o.completion_tokens for o in outs) / (time.perf_counter() - started), 1)


def quantize(spec: str, out_dir: Path, types: list[str], *, eval_file: str, items: int = 48,
             speed_prompts: int = 16, max_new_tokens: int = 64, parallel: int = 8,
             lora: bool = True, measure: bool = True, log=print) -> dict:
    """Export `spec` to each GGUF type (and its adapter as GGUF LoRA), measuring each artefact
    unless `measure` is off (then only the files and their sizes)."""
    from alignstack.quantize.gguf_export import write_gguf
    from alignstack.quantize.lora_gguf import write_lora_gguf

    if not types and not lora:
        raise ConfigError("nothing to export: give --type and/or keep --lora", field="type")
    source = load_source(spec)
    tokenizer = source.tokenizer
    pairs = reference_pairs(source, eval_file, items) if measure else []
    prompts = [p for p, _ in pairs][:speed_prompts]
    if measure:
        log(f"reference: {len(pairs)} held-out completions from {eval_file}")
    reference = mean_nll(source.model, tokenizer, pairs) if measure else None
    reports: list[ArtefactReport] = []
    name = Path(spec.rstrip("/")).name
    for qtype in types:
        path = out_dir / f"{name}-{qtype}.gguf"
        log(f"writing {path}")
        result = write_gguf(source.model, source.model_dir, path, qtype,
                            tokenizer_gguf=source.tokenizer_gguf, name=name)
        report = ArtefactReport(str(path), qtype, result.bytes, notes=[result.tokenizer])
        if measure:
            report.nll = round(gguf_nll(path, tokenizer, pairs), 4)
            report.tokens_per_second = llamacpp_speed(str(path), [], prompts, max_new_tokens,
                                                      parallel)
        reports.append(report)
    if lora and source.meta and source.tokenizer_gguf is not None:
        path = out_dir / f"{name}-lora.gguf"
        log(f"writing {path} (applied at run time on {source.tokenizer_gguf.name})")
        info = write_lora_gguf(Path(spec) / source.meta["adapter"], path, base=source.base)
        report = ArtefactReport(str(path), "lora", info["bytes"],
                                notes=[f"on {source.tokenizer_gguf.name}: the base the adapter "
                                       f"was trained on, so its quality is the reference's"])
        if measure:
            report.tokens_per_second = llamacpp_speed(str(source.tokenizer_gguf), [str(path)],
                                                      prompts, max_new_tokens, parallel)
        reports.append(report)
    for report in reports:
        if report.nll is not None and reference is not None:
            report.perplexity = round(math.exp(report.nll), 4)
            report.perplexity_delta = round(math.exp(report.nll) / math.exp(reference) - 1, 4)
    return {"source": spec, "eval_file": eval_file, "items": len(pairs),
            "reference": None if reference is None else {
                "nll": round(reference, 4), "perplexity": round(math.exp(reference), 4),
                "what": "transformers, float32, unquantised (adapter merged)"},
            "speed": {"prompts": len(prompts), "max_new_tokens": max_new_tokens,
                      "parallel": parallel, "engine": "llama.cpp (xllamacpp)"},
            "artefacts": [report.__dict__ for report in reports]}
