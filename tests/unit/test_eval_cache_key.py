"""Caches that cannot lie: the eval answer cache key (the system fingerprint) changes with every
option that changes an answer, including the defaults the code fills in, and with the package
version; it stays put for what does not."""

from __future__ import annotations

import pytest

from alignstack.evaluate import systems
from alignstack.evaluate.config import EvalConfig, SystemSpec
from alignstack.evaluate.systems import CachedGenerator, system_fingerprint

from tests.conftest import EXAMPLES


def _cfg(**extra) -> EvalConfig:
    return EvalConfig(suites=[{"name": "overrefusal"}], systems=[{"name": "a"}],
                      principles_file=str(EXAMPLES / "principles.yaml"), **extra)


GATED = dict(name="g", upstream="smollm2", corrector="runs/corrector",
             answer_gate=["runs/inspector", "runs/inspector-ft-pairs"],
             request_gate="runs/request-gate")


def key(cfg=None, **changes) -> str:
    return system_fingerprint(SystemSpec(**{**GATED, **changes}), cfg or _cfg())


@pytest.mark.parametrize("changes", [
    {"refuse_flagged": True},
    {"gate_threshold": 0.7}, {"gate_pass_threshold": 0.3},
    {"refuse_cut_rule": "target_false_flag"},
    {"answer_gate_threshold": 0.5},
    {"answer_gate": ["runs/inspector"]},                          # one gate fewer
    {"answer_gate": ["runs/inspector-ft-pairs", "runs/inspector"]},
    {"corrector_engine": "llamacpp"}, {"system_prompt": "principles"},
    {"uncertain_zone": False},
    {"threshold": 0.4}, {"best_of_n": 2},
])
def test_every_spec_option_changes_the_key(changes):
    assert key(**changes) != key()


def test_the_eval_token_budget_changes_the_key_and_the_batch_size_does_not():
    assert key(_cfg(max_new_tokens=64)) != key()
    assert key(_cfg(batch_size=3)) == key()
    assert key() == key()                                   # deterministic


@pytest.mark.parametrize("param, value", [("no_repeat_ngram_size", 6),
                                          ("repetition_penalty", 1.15),
                                          ("max_new_tokens", 200), ("extra_tokens", 0)])
def test_a_changed_corrector_default_changes_the_key(monkeypatch, param, value):
    """The corrector's own defaults (not in any config) decide its answers too: a new default
    in the code must not be answered from the old default's cache."""
    from alignstack.correct.corrector import Corrector

    before = key()
    init = Corrector.__init__
    names = init.__code__.co_varnames[1:init.__code__.co_argcount]
    defaults = list(init.__defaults__)
    offset = len(names) - len(defaults)
    defaults[names.index(param) - offset] = value
    monkeypatch.setattr(init, "__defaults__", tuple(defaults))
    assert key() != before
    monkeypatch.undo()
    assert key() == before


def test_the_load_default_of_max_new_tokens_is_in_the_key(monkeypatch):
    from alignstack.correct.corrector import Corrector

    before = key()
    load = Corrector.load.__func__
    kw = dict(load.__kwdefaults__)
    kw["max_new_tokens"] = 64
    monkeypatch.setattr(load, "__kwdefaults__", kw)
    assert key() != before


def test_the_package_version_is_in_the_answer_and_the_generation_keys(monkeypatch):
    plain = SystemSpec(name="p", upstream="smollm2")
    answers, generation = system_fingerprint(plain, _cfg()), _generation_key(plain)
    monkeypatch.setattr(systems, "__version__", "99.0.0")
    assert system_fingerprint(plain, _cfg()) != answers
    assert _generation_key(plain) != generation


def _generation_key(spec) -> str:
    from alignstack.backends.base import GenParams

    gen = CachedGenerator(spec, _cfg(), log=None)
    return gen.key([{"role": "user", "content": "hi"}], GenParams(max_new_tokens=8))


def test_a_system_without_a_corrector_is_not_keyed_on_corrector_defaults(monkeypatch):
    from alignstack.correct.corrector import Corrector

    plain = SystemSpec(name="p", upstream="smollm2")
    before, gated = system_fingerprint(plain, _cfg()), key()
    init = Corrector.__init__
    monkeypatch.setattr(init, "__defaults__", tuple(
        7 if d == 4 and not isinstance(d, bool) else d for d in init.__defaults__))
    assert key() != gated                                   # no_repeat_ngram_size 4 -> 7
    assert system_fingerprint(plain, _cfg()) == before
