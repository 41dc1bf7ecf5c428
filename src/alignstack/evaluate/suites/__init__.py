"""Prompt suites: one file per prompt set, each registered in `SUITES` (see base.py)."""

from alignstack.evaluate.suites.base import SUITES, EvalItem, Suite, load_suite, suite_names
from alignstack.evaluate.suites import (benign_edgy, donotanswer, falseclaims,  # noqa: F401
                                        harmbench, jailbreak, jsonl_file, overrefusal,
                                        rtp)

__all__ = ["SUITES", "EvalItem", "Suite", "load_suite", "suite_names"]
