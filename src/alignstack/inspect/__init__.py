"""Misalignment classifiers (llm-guard-like scanners): `Inspector.score(items) -> P(misaligned)`."""

from alignstack.inspect.inspector import Inspector, load_inspector

__all__ = ["Inspector", "load_inspector"]
