"""Synth tasks, registered by name; each module defines one task and has a jinja template."""

from alignstack.core.registry import Registry

TASKS: Registry = Registry("synth task")

from alignstack.synth.tasks import (  # noqa: E402,F401  (registration side effects)
    answers, critique, judge, questions, revision, topics)
