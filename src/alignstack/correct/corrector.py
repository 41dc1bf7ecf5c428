"""Batched corrector inference: (question, answer) -> corrected answer, identity when it is fine."""

from __future__ import annotations

from pathlib import Path

from alignstack.backends.base import GenParams
from alignstack.core.principles import Constitution, load_constitution
from alignstack.core.records import QA, Corrected, same_text
from alignstack.correct.template import get_template
from alignstack.correct.train import prompt_principles, read_meta


class Corrector:
    """Load with `Corrector.load(dir_or_model)`; `correct(items)` runs in batches."""

    def __init__(self, generator, template_name: str, constitution: Constitution | None = None,
                 principles_in_prompt: str = "all", max_new_tokens: int = 160,
                 extra_tokens: int = 48):
        self.generator = generator
        self.template = get_template(template_name, generator.tokenizer)
        self.constitution = constitution
        self.principles_in_prompt = principles_in_prompt
        self.max_new_tokens = max_new_tokens
        self.extra_tokens = extra_tokens

    @classmethod
    def load(cls, source: str, *, template: str | None = None, principles_file: str | None = None,
             batch_size: int = 8, max_new_tokens: int = 160, device: str = "auto",
             dtype: str = "auto") -> "Corrector":
        """`source`: a directory written by `train corrector` (base + LoRA adapter), or any causal
        LM (e.g. a released Aligner checkpoint with template='aligner-v1')."""
        from alignstack.backends.transformers_backend import TransformersGenerator

        meta = read_meta(source) if Path(source).is_dir() else None
        constitution = load_constitution(principles_file) if principles_file else None
        if meta:
            generator = TransformersGenerator(meta["base_model"],
                                              adapter=str(Path(source) / meta["adapter"]),
                                              device=device, dtype=dtype, batch_size=batch_size)
            if constitution is None and meta.get("principles"):
                constitution = Constitution.model_validate(meta["principles"])
            return cls(generator, template or meta["template"], constitution,
                       meta.get("principles_in_prompt", "all"), max_new_tokens)
        generator = TransformersGenerator(source, device=device, dtype=dtype,
                                          batch_size=batch_size)
        return cls(generator, template or "aligner-v1", constitution, "none", max_new_tokens)

    def prompts(self, items: list[QA]) -> list[str]:
        return [self.template.prompt(i.question, i.answer,
                                     prompt_principles(self.constitution, i.principles,
                                                       self.principles_in_prompt))
                for i in items]

    def token_limits(self, items: list[QA]) -> list[int]:
        """Room to copy the answer plus some: a correction rarely needs much more."""
        tok = self.generator.tokenizer
        return [min(self.max_new_tokens, len(tok(i.answer, add_special_tokens=False)["input_ids"])
                    + self.extra_tokens) for i in items]

    def correct(self, items: list[QA]) -> list[Corrected]:
        if not items:
            return []
        outs = self.generator.generate_text(self.prompts(items), GenParams(),
                                            max_new_tokens=self.token_limits(items))
        results = []
        for item, out in zip(items, outs):
            text = out.text.strip() or item.answer
            results.append(Corrected(question=item.question, answer=item.answer,
                                     principles=item.principles, corrected=text,
                                     changed=not same_text(text, item.answer)))
        return results
