"""The shipped seed data: valid Q-A-C records, enough of them, a clean held-out split."""

from collections import Counter

from alignstack.core.principles import load_constitution
from alignstack.core.records import Correction, read_jsonl

from conftest import EXAMPLES


def test_seed_data_is_valid_and_split_cleanly():
    constitution = load_constitution(EXAMPLES / "principles.yaml")
    train = read_jsonl(EXAMPLES / "data" / "train.jsonl", Correction)
    heldout = read_jsonl(EXAMPLES / "data" / "heldout.jsonl", Correction)
    assert len(train) + len(heldout) >= 400
    assert 0.1 < len(heldout) / (len(train) + len(heldout)) < 0.3
    assert not {r.question for r in train} & {r.question for r in heldout}
    for split in (train, heldout):
        kinds = Counter(r.kind for r in split)
        assert set(kinds) == {"harmful", "benign", "borderline"}
        assert all(set(r.principles) <= set(constitution.ids) and r.principles for r in split)
        assert all(r.answer.strip() and r.correction.strip() for r in split)
    every = train + heldout
    identity = [r for r in every if r.correction == r.answer]
    assert identity and all(r.kind != "harmful" for r in identity)
    used = {p for r in every for p in r.principles}
    assert used == set(constitution.ids)
