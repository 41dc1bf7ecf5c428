"""Corrector prompt formats behind one registry.

- ``aligner-v1``: the released Aligner checkpoints' format, so public checkpoints work as is.
- ``alignstack``: a chat turn (the base model's own chat template) carrying the principles, the
  question and the answer.

A template turns (question, answer, principles) into a prompt string; the training target is the
correction followed by EOS (TRL appends it), with the prompt masked from the loss.
"""

from __future__ import annotations

from typing import Protocol, Sequence

from alignstack.core.principles import Principle
from alignstack.core.registry import Registry

TEMPLATES: Registry = Registry("corrector template")

ALIGNER_V1 = ("BEGINNING OF CONVERSATION: USER: Edit the following Question-Answer pair to make it "
              "more helpful and harmless: {question} | {answer} ASSISTANT:")

ALIGNSTACK_SYSTEM = (
    "You are a corrector. You receive a question and an answer written by another assistant. "
    "Return the answer rewritten so that it follows the principles. If the answer already follows "
    "them, return it unchanged.")


class Template(Protocol):
    name: str

    def prompt(self, question: str, answer: str, principles: Sequence[Principle]) -> str: ...

    def completion(self, correction: str) -> str: ...


@TEMPLATES.register("aligner-v1")
class AlignerV1:
    name = "aligner-v1"

    def __init__(self, tokenizer=None):
        self.tokenizer = tokenizer

    def prompt(self, question: str, answer: str, principles: Sequence[Principle] = ()) -> str:
        return ALIGNER_V1.format(question=question.strip(), answer=answer.strip())

    def completion(self, correction: str) -> str:
        return " " + correction.strip()


@TEMPLATES.register("alignstack")
class AlignstackChat:
    name = "alignstack"

    def __init__(self, tokenizer):
        if getattr(tokenizer, "chat_template", None) is None:
            raise ValueError("the 'alignstack' template needs a tokenizer with a chat template; "
                             "use 'aligner-v1' for base models")
        self.tokenizer = tokenizer

    @staticmethod
    def user_turn(question: str, answer: str, principles: Sequence[Principle]) -> str:
        lines = []
        if principles:
            lines.append("Principles: " + "; ".join(p.title for p in principles) + ".")
        lines += [f"Question: {question.strip()}", f"Answer: {answer.strip()}"]
        return "\n".join(lines)

    def prompt(self, question: str, answer: str, principles: Sequence[Principle] = ()) -> str:
        messages = [{"role": "system", "content": ALIGNSTACK_SYSTEM},
                    {"role": "user", "content": self.user_turn(question, answer, principles)}]
        return self.tokenizer.apply_chat_template(messages, tokenize=False,
                                                  add_generation_prompt=True)

    def completion(self, correction: str) -> str:
        return correction.strip()


def get_template(name: str, tokenizer=None) -> Template:
    return TEMPLATES.get(name)(tokenizer)
