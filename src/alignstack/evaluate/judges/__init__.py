"""Judges: each file one judge, registered by name in `JUDGES`; build one with `load_judge`."""

from alignstack.evaluate.judges.base import (JUDGES, Judge, PairwiseJudgeProtocol,  # noqa: F401
                                             load_judge)
