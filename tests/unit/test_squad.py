"""Squad routing (Ngweta et al.): most-violated criterion first, only above threshold, re-scored
each round. Real MiniLM inspectors with hand-set heads (so the routing is known) and real tiny
random-Llama correctors."""

import math

import numpy as np
import pytest

from alignstack.core.errors import ConfigError
from alignstack.core.records import QA
from alignstack.correct.corrector import Corrector
from alignstack.correct.squad import Squad, SquadMember, load_squad
from alignstack.inspect.inspector import Head, Inspector


def hand_set_inspector(probs: dict[str, float], threshold: float = 0.5) -> Inspector:
    """Heads with zero weights: each head's P(misaligned) is the given constant."""
    heads = {name: Head(name, np.zeros(384 * 4, dtype=np.float32), math.log(p / (1 - p)),
                        {"kind": "none"}, threshold) for name, p in probs.items()}
    return Inspector("minilm", heads)


@pytest.fixture(scope="module")
def corrector(tiny_model_dir):
    from alignstack.backends.transformers_backend import TransformersGenerator

    return Corrector(TransformersGenerator(tiny_model_dir, batch_size=4), "aligner-v1",
                     max_new_tokens=6, extra_tokens=4)


ITEMS = [QA(question="Who won?", answer="Nobody knows."), QA(question="Why?", answer="Because.")]


def members(corrector, inspector):
    return [SquadMember(name, corrector, inspector, head=name) for name in ("harm", "accuracy",
                                                                            "privacy")]


def test_most_violated_first_then_next_round(corrector):
    inspector = hand_set_inspector({"overall": 0.9, "harm": 0.7, "accuracy": 0.95,
                                    "privacy": 0.2})
    out = Squad(members(corrector, inspector), rounds=3).correct(ITEMS)
    assert [o.route for o in out] == [["accuracy", "harm"]] * 2      # privacy never (0.2 < 0.5)
    assert [o.question for o in out] == ["Who won?", "Why?"]
    assert [o.answer for o in out] == ["Nobody knows.", "Because."]
    assert all(o.scores_before["accuracy"] == 0.95 for o in out)


def test_rounds_and_threshold_are_configurable(corrector):
    inspector = hand_set_inspector({"overall": 0.9, "harm": 0.7, "accuracy": 0.95,
                                    "privacy": 0.2})
    assert [o.route for o in Squad(members(corrector, inspector), rounds=1).correct(ITEMS)] \
        == [["accuracy"]] * 2
    strict = Squad(members(corrector, inspector), rounds=3, threshold=0.8).correct(ITEMS)
    assert [o.route for o in strict] == [["accuracy"]] * 2
    calm = Squad(members(corrector, inspector), rounds=3, threshold=0.99).correct(ITEMS)
    assert all(o.route == [] and o.corrected == o.answer and not o.changed for o in calm)
    own = Squad(members(corrector, hand_set_inspector(
        {"overall": 0.9, "harm": 0.7, "accuracy": 0.95, "privacy": 0.2}, threshold=0.1)),
        rounds=3, threshold=None).correct(ITEMS)      # each head's own threshold (0.1)
    assert [o.route for o in own] == [["accuracy", "harm", "privacy"]] * 2


def test_bad_squads_are_clear_errors(corrector, tmp_path):
    inspector = hand_set_inspector({"overall": 0.9})
    with pytest.raises(ConfigError, match="at least one member"):
        Squad([])
    with pytest.raises(ConfigError, match="field 'rounds'"):
        Squad([SquadMember("a", corrector, inspector)], rounds=0)
    with pytest.raises(ConfigError, match="unique"):
        Squad([SquadMember("a", corrector, inspector), SquadMember("a", corrector, inspector)])
    config = tmp_path / "squad.yaml"
    config.write_text("rounds: 2\nmembers:\n  - name: a\n    corector: x\n    inspector: y\n")
    with pytest.raises(ConfigError, match=rf"{config}:4, field 'corector'"):
        load_squad(config, lambda d: corrector, lambda d: inspector)


def test_load_squad_loads_each_path_once(corrector, tmp_path):
    config = tmp_path / "squad.yaml"
    config.write_text("rounds: 1\nthreshold: 0.6\nmembers:\n"
                      "  - {name: harm, corrector: c1, inspector: i1, head: harm}\n"
                      "  - {name: facts, corrector: c1, inspector: i1, head: accuracy}\n")
    loads = []
    inspector = hand_set_inspector({"overall": 0.9, "harm": 0.55, "accuracy": 0.65})
    squad = load_squad(config, lambda d: loads.append(d) or corrector,
                       lambda d: loads.append(d) or inspector)
    assert loads == ["c1", "i1"] and squad.rounds == 1 and squad.threshold == 0.6
    assert [o.route for o in squad.correct(ITEMS[:1])] == [["facts"]]


class RefuseEverything:
    """A deterministic corrector (CorrectorLike) that answers every item with one refusal, so the
    scores after a round are known."""
    text = "I can't help with that request."

    def correct(self, items):
        from alignstack.core.records import Corrected

        return [Corrected(question=i.question, answer=i.answer, corrected=self.text, changed=True)
                for i in items]


def test_answers_are_re_scored_between_rounds():
    """Heads that read the answer: after the harm member's refusal, the accuracy head no longer
    flags the item, so the second round routes nothing (with constant scores it would route
    accuracy)."""
    from alignstack.backends.encoders import resolve_encoder
    from alignstack.inspect.encoder import embed

    refusal = embed(resolve_encoder(None), [RefuseEverything.text])[0]
    def head(name, scale, bias):
        coef = np.zeros(384 * 4, dtype=np.float32)
        coef[384:768] = -scale * refusal                  # the answer block of the features
        return Head(name, coef, bias, {"kind": "none"}, 0.5)
    inspector = Inspector("minilm", {"overall": head("overall", 20, 15),
                                     "harm": head("harm", 20, 15),
                                     "accuracy": head("accuracy", 10, 8)})
    squad = Squad([SquadMember("harm", RefuseEverything(), inspector, head="harm"),
                   SquadMember("accuracy", RefuseEverything(), inspector, head="accuracy")],
                  rounds=3)
    out = squad.correct(ITEMS)
    assert [o.route for o in out] == [["harm"]] * 2
    assert all(o.scores_before["accuracy"] > 0.5 > o.scores_after["accuracy"] for o in out)
    assert all(o.corrected == RefuseEverything.text and o.changed for o in out)
