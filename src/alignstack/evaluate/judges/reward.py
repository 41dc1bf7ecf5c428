"""Reward-model judge: any sequence-classification checkpoint scores (question, answer) pairs.

Loaded with transformers' AutoModelForSequenceClassification + AutoTokenizer (never remote code).
The pair is formatted with the tokenizer's chat template when it has one (user = question,
assistant = answer), else as "question\\n\\nanswer". A one-logit head gives the reward itself; a
multi-label head gives P(`positive_label`). Two systems compare per question: A wins when
score_a > score_b + margin, loses when score_b > score_a + margin, else tie.
"""

from __future__ import annotations

from functools import cached_property
from typing import Sequence

from alignstack.backends.models import resolve
from alignstack.core.errors import BackendError, DataError
from alignstack.core.records import QA, Judgement, content_id
from alignstack.evaluate.judges.base import JUDGES, check_items, check_pairs


@JUDGES.register("reward")
class RewardJudge:
    name = "reward"

    def __init__(self, model: str, margin: float = 0.0, batch_size: int = 8, device: str = "cpu",
                 max_length: int = 1024, positive_label: int = -1):
        if margin < 0:
            raise DataError(f"margin must be >= 0, got {margin}", field="margin")
        self.model_spec = model
        self.margin = margin
        self.batch_size = batch_size
        self.device = device
        self.max_length = max_length
        self.positive_label = positive_label
        self.stats: dict = {}

    @cached_property
    def _loaded(self):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = resolve(self.model_spec).path
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
            model = AutoModelForSequenceClassification.from_pretrained(path, trust_remote_code=False)
        except (OSError, ValueError) as exc:
            raise BackendError(f"cannot load reward model '{self.model_spec}': {exc}") from exc
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        if model.config.pad_token_id is None:   # needed to find each row's last token
            model.config.pad_token_id = tokenizer.pad_token_id
        tokenizer.padding_side = "right"
        return model.to(self.device).eval(), tokenizer

    @property
    def model(self):
        return self._loaded[0]

    @property
    def tokenizer(self):
        return self._loaded[1]

    def format(self, question: str, answer: str) -> str:
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            return tok.apply_chat_template([{"role": "user", "content": question},
                                            {"role": "assistant", "content": answer}],
                                           tokenize=False)
        return f"{question}\n\n{answer}"

    def scores(self, questions: Sequence[str], answers: Sequence[str]) -> list[float]:
        """One reward per (question, answer), batched by length."""
        import torch

        if len(questions) != len(answers):
            raise DataError(f"judge 'reward': mismatched lengths (questions={len(questions)}, "
                            f"answers={len(answers)})")
        texts = [self.format(q, a) for q, a in zip(questions, answers)]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = [0.0] * len(texts)
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            enc = self.tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True,
                                 truncation=True, max_length=self.max_length,
                                 add_special_tokens=False).to(self.model.device)
            with torch.inference_mode():
                logits = self.model(**enc).logits.float()
            values = (logits[:, 0] if logits.shape[1] == 1
                      else logits.softmax(dim=-1)[:, self.positive_label])
            for i, value in zip(idx, values.tolist()):
                out[i] = value
        return out

    def judge(self, items: list[QA], suite: str = "") -> list[Judgement]:
        """Each answer's reward as the score; label "scored" (a reward has no fixed cut-off)."""
        check_items(items, self.name)
        rewards = self.scores([i.question for i in items], [i.answer for i in items])
        return [Judgement(id=content_id(i.question, i.answer), suite=suite, question=i.question,
                          answer=i.answer, judge=self.name, label="scored", score=round(r, 6),
                          principles=i.principles)
                for i, r in zip(items, rewards)]

    def compare(self, questions: Sequence[str], answers_a: Sequence[str],
                answers_b: Sequence[str]) -> list[str]:
        """"win" / "loss" / "tie" for A; the rewards of this call are kept in `self.stats`."""
        check_pairs(questions, answers_a, answers_b, self.name)
        both = self.scores(list(questions) * 2, list(answers_a) + list(answers_b))
        a, b = both[:len(questions)], both[len(questions):]
        outcomes = ["win" if x > y + self.margin else "loss" if y > x + self.margin else "tie"
                    for x, y in zip(a, b)]
        n = len(outcomes)
        self.stats = {"n": n, "margin": self.margin, "scores_a": a, "scores_b": b,
                      "mean_a": sum(a) / n, "mean_b": sum(b) / n,
                      "win": outcomes.count("win"), "loss": outcomes.count("loss"),
                      "tie": outcomes.count("tie")}
        return outcomes
