"""One TRL trainer per method, each fed the dataset shape TRL documents for it, in conversational
form so the upstream's own chat template frames every example:

- sft:   prompt / completion (the loss covers the completion only)
- dpo:   prompt / chosen / rejected           (trl.DPOTrainer)
- kto:   prompt / completion / label          (trl.KTOTrainer)
- orpo:  prompt / chosen / rejected           (trl.experimental.orpo)
- simpo: prompt / chosen / rejected           (trl.experimental.cpo, loss_type="simpo")

With LoRA and no reference model, DPO and KTO use the base with the adapter disabled as the
reference: no second copy of the model in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from alignstack.core.errors import DataError
from alignstack.core.preferences import PreferenceData
from alignstack.core.registry import Registry
from alignstack.optimize.config import OptimizeConfig


def user_messages(prompt: str | list[dict], system_prompt: str | None) -> list[dict]:
    messages = list(prompt) if isinstance(prompt, list) else [{"role": "user", "content": prompt}]
    if system_prompt and (not messages or messages[0].get("role") != "system"):
        messages.insert(0, {"role": "system", "content": system_prompt})
    return messages


def reply(text: str | list[dict]) -> list[dict]:
    return list(text) if isinstance(text, list) else [{"role": "assistant", "content": text}]


def paired_rows(data: PreferenceData, cfg: OptimizeConfig) -> list[dict]:
    pairs = data.all_pairs()
    if not pairs:
        raise DataError(f"method {cfg.method} needs preference pairs (prompt, chosen, rejected) or "
                        "Q-A-C records whose correction differs from the answer; found none",
                        path=", ".join(data.files) or None)
    return [{"prompt": user_messages(p.prompt, cfg.system_prompt), "chosen": reply(p.chosen),
             "rejected": reply(p.rejected)} for p in pairs]


def unpaired_rows(data: PreferenceData, cfg: OptimizeConfig) -> list[dict]:
    rows = [{"prompt": user_messages(u.prompt, cfg.system_prompt), "completion": reply(u.completion),
             "label": u.label} for u in data.all_unpaired()]
    labels = {r["label"] for r in rows}
    if labels != {True, False}:
        raise DataError("method kto needs both desirable and undesirable completions "
                        f"(found only label={labels.pop() if labels else 'none'})",
                        path=", ".join(data.files) or None)
    return rows


def demonstration_rows(data: PreferenceData, cfg: OptimizeConfig) -> list[dict]:
    rows = [{"prompt": user_messages(p, cfg.system_prompt), "completion": reply(c)}
            for p, c in data.demonstrations()]
    if not rows:
        raise DataError("method sft needs corrections, chosen answers or desirable completions",
                        path=", ".join(data.files) or None)
    return rows


@dataclass
class Method:
    rows: Callable[[PreferenceData, OptimizeConfig], list[dict]]
    trainer: Callable[..., object]      # (model, tokenizer, train, eval, args_kwargs, cfg, peft)


METHODS: Registry[Method] = Registry("optimisation method")


def _sft(model, tokenizer, train, held, common: dict, cfg, peft_config, callbacks):
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(**common, completion_only_loss=True)
    return SFTTrainer(model=model, args=args, train_dataset=train, eval_dataset=held,
                      processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks)


def _dpo(model, tokenizer, train, held, common: dict, cfg, peft_config, callbacks):
    from trl import DPOConfig, DPOTrainer

    args = DPOConfig(**common, beta=cfg.beta, loss_type=list(cfg.loss_type),
                     loss_weights=cfg.loss_weights, label_smoothing=cfg.label_smoothing,
                     precompute_ref_log_probs=cfg.precompute_ref_log_probs)
    return DPOTrainer(model=model, args=args, train_dataset=train, eval_dataset=held,
                      processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks)


def _kto(model, tokenizer, train, held, common: dict, cfg, peft_config, callbacks):
    from trl import KTOConfig, KTOTrainer

    args = KTOConfig(**common, beta=cfg.beta, loss_type=cfg.loss_type,
                     desirable_weight=cfg.desirable_weight,
                     undesirable_weight=cfg.undesirable_weight)
    return KTOTrainer(model=model, args=args, train_dataset=train, eval_dataset=held,
                      processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks)


def _orpo(model, tokenizer, train, held, common: dict, cfg, peft_config, callbacks):
    from trl.experimental.orpo import ORPOConfig, ORPOTrainer

    args = ORPOConfig(**common, beta=cfg.beta)
    return ORPOTrainer(model=model, args=args, train_dataset=train, eval_dataset=held,
                       processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks)


def _simpo(model, tokenizer, train, held, common: dict, cfg, peft_config, callbacks):
    from trl.experimental.cpo import CPOConfig, CPOTrainer

    args = CPOConfig(**common, loss_type="simpo", beta=cfg.beta, simpo_gamma=cfg.simpo_gamma,
                     cpo_alpha=cfg.cpo_alpha)
    return CPOTrainer(model=model, args=args, train_dataset=train, eval_dataset=held,
                      processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks)


METHODS.register("sft")(Method(demonstration_rows, _sft))
METHODS.register("dpo")(Method(paired_rows, _dpo))
METHODS.register("kto")(Method(unpaired_rows, _kto))
METHODS.register("orpo")(Method(paired_rows, _orpo))
METHODS.register("simpo")(Method(paired_rows, _simpo))
