"""Principles and the constitution that holds them: load and validate a principles YAML file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alignstack.core.yamlio import validate_yaml

Dimension = Literal["helpful", "harmless", "honest"]
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class Principle(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str
    text: str = Field(min_length=10)
    dimensions: list[Dimension] = Field(min_length=1)
    examples: list[str] = Field(default_factory=list)
    # what the stack serves when it declines a request under this principle (instead of a
    # corrector's refusal that failed the check): a short refusal, then a safe alternative
    refusal: str | None = Field(default=None, min_length=10)
    alternative: str | None = Field(default=None, min_length=10)
    # crisis principles (self-harm): a refusal under them always carries `alternative` (where to
    # find help), whatever the corrector wrote
    crisis: bool = False

    @field_validator("id")
    @classmethod
    def _snake_case(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"id '{value}' must be snake_case (a-z, 0-9, _)")
        return value

    @model_validator(mode="after")
    def _crisis_needs_help(self) -> "Principle":
        if self.crisis and not self.alternative:
            raise ValueError(f"principle '{self.id}' is a crisis principle: give `alternative`, "
                             "where a person in crisis can find help")
        return self


class Constitution(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: int | str = 1
    description: str = ""
    principles: list[Principle] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> "Constitution":
        seen: set[str] = set()
        for principle in self.principles:
            if principle.id in seen:
                raise ValueError(f"principle id '{principle.id}' is used twice")
            seen.add(principle.id)
        return self

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.principles]

    def get(self, principle_id: str) -> Principle:
        for principle in self.principles:
            if principle.id == principle_id:
                return principle
        raise KeyError(principle_id)

    def select(self, ids: list[str] | None) -> list[Principle]:
        """The principles named by `ids` (all of them when ids is empty or None)."""
        return [self.get(i) for i in ids] if ids else list(self.principles)


def load_constitution(path: str | Path) -> Constitution:
    return validate_yaml(path, Constitution)  # type: ignore[return-value]
