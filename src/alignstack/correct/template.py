"""Corrector prompt formats behind one registry.

- ``aligner-v1``: the released Aligner checkpoints' format, so public checkpoints work as is.
- ``alignstack``: a chat turn (the base model's own chat template) carrying the principles, the
  question and the answer; the target is the corrected answer.
- ``alignstack-verdict`` (the default): the same chat turn, but the target opens with a verdict.
  ``KEEP`` alone when the answer already follows the principles (a good answer costs two tokens,
  not a copy), else ``REWRITE`` or ``REFUSE`` on its own line followed by the new answer. The
  verdict can be read before any rewrite and, at inference, constrained by a request classifier.

A template turns (question, answer, principles) into a prompt string; the training target is the
completion followed by EOS (TRL appends it), with the prompt masked from the loss. Chat templates
take what formats the chat: an engine (`Generator.format_chat`, so any backend serves a
corrector) or a tokenizer (`apply_chat_template`, at training time).
"""

from __future__ import annotations

import re
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

VERDICT_SYSTEM = (
    "You check another assistant's answer against the principles. Reply KEEP if it already follows "
    "them. Reply REFUSE and a brief refusal with a safe alternative if the request is harmful. "
    "Otherwise reply REWRITE and a correct, helpful answer.")

KEEP, REWRITE, REFUSE = "KEEP", "REWRITE", "REFUSE"
VERDICTS = (KEEP, REWRITE, REFUSE)
# a verdict word (or a mangled one: "REWRITING", "RE WRITE", "REFUSED") in capitals inside a body:
# an undertrained corrector writing its template instead of an answer
_VERDICT_MARKER = re.compile(r"\b(?:KEEP|RE ?WRIT[A-Z]*|REWR[A-Z]*|REFUS[A-Z]*)\b")


def leaks_verdict(body: str) -> bool:
    """The body repeats the template's verdict words: it is no answer and no refusal."""
    return bool(_VERDICT_MARKER.search(body))


class Template(Protocol):
    name: str
    verdicts: bool            # True: completions open with KEEP / REWRITE / REFUSE

    def prompt(self, question: str, answer: str, principles: Sequence[Principle]) -> str: ...

    def completion(self, correction: str) -> str: ...


@TEMPLATES.register("aligner-v1")
class AlignerV1:
    name = "aligner-v1"
    verdicts = False

    def __init__(self, tokenizer=None):
        self.tokenizer = tokenizer

    def prompt(self, question: str, answer: str, principles: Sequence[Principle] = ()) -> str:
        return ALIGNER_V1.format(question=question.strip(), answer=answer.strip())

    def completion(self, correction: str) -> str:
        return " " + correction.strip()


@TEMPLATES.register("alignstack")
class AlignstackChat:
    name = "alignstack"
    verdicts = False
    system = ALIGNSTACK_SYSTEM

    def __init__(self, chat):
        self.format_chat = chat_formatter(chat)

    @staticmethod
    def user_turn(question: str, answer: str, principles: Sequence[Principle]) -> str:
        lines = []
        if principles:
            lines.append("Principles: " + "; ".join(p.title for p in principles) + ".")
        lines += [f"Question: {question.strip()}", f"Answer: {answer.strip()}"]
        return "\n".join(lines)

    def prompt(self, question: str, answer: str, principles: Sequence[Principle] = ()) -> str:
        messages = [{"role": "system", "content": self.system},
                    {"role": "user", "content": self.user_turn(question, answer, principles)}]
        return self.format_chat(messages)

    def completion(self, correction: str) -> str:
        return correction.strip()


@TEMPLATES.register("alignstack-verdict")
class VerdictChat(AlignstackChat):
    name = "alignstack-verdict"
    verdicts = True
    system = VERDICT_SYSTEM

    @staticmethod
    def head(verdict: str) -> str:
        """What the completion starts with for a verdict (the body follows a REWRITE / REFUSE)."""
        return KEEP if verdict == KEEP else f"{verdict}\n"

    def target(self, verdict: str, text: str = "") -> str:
        if verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {verdict!r} (known: {', '.join(VERDICTS)})")
        return KEEP if verdict == KEEP else self.head(verdict) + text.strip()

    @staticmethod
    def parse_verdict(text: str) -> str | None:
        """The verdict a generated completion opens with, or None when it has none."""
        first = text.strip().split(maxsplit=1)[0].strip(".:,").upper() if text.strip() else ""
        return first if first in VERDICTS else None


def chat_formatter(chat):
    """messages -> prompt string, from an engine (`format_chat`) or a tokenizer with a chat
    template."""
    if hasattr(chat, "format_chat"):
        return chat.format_chat
    if getattr(chat, "chat_template", None) is not None:
        return lambda messages: chat.apply_chat_template(messages, tokenize=False,
                                                         add_generation_prompt=True)
    raise ValueError("the 'alignstack' templates need an engine or a tokenizer with a chat "
                     "template; use 'aligner-v1' for base models")


def get_template(name: str, chat=None) -> Template:
    """The template `name`; `chat` is the engine or tokenizer that formats chats."""
    return TEMPLATES.get(name)(chat)
