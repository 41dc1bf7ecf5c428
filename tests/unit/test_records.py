import json

import pytest

from alignstack.core.errors import DataError
from alignstack.core.records import (AppendOnlyLog, Correction, content_id, read_jsonl,
                                     write_jsonl)


def test_read_write_roundtrip(tmp_path):
    rows = [Correction(question=f"q{i}", answer="a", correction="c", principles=["harm"])
            for i in range(3)]
    path = tmp_path / "x.jsonl"
    assert write_jsonl(path, rows) == 3
    back = read_jsonl(path, Correction)
    assert [r.question for r in back] == ["q0", "q1", "q2"]
    assert back[0].principles == ["harm"]


@pytest.mark.parametrize("line, field, words", [
    ('{"question": "q", "answer": "a"}', "correction", "required"),
    ('{"question": "q", "answer": "a", "correction": 3}', "correction", "string"),
    ('{"question": "q", "answer": "a", "correction": "c", "principles": "harm"}', "principles",
     "list"),
])
def test_bad_record_names_line_and_field(tmp_path, line, field, words):
    path = tmp_path / "bad.jsonl"
    good = '{"question": "q", "answer": "a", "correction": "c"}'
    path.write_text(good + "\n\n" + line + "\n")
    with pytest.raises(DataError) as info:
        read_jsonl(path, Correction)
    assert f"{path}:3" in str(info.value)
    assert f"field '{field}'" in str(info.value)
    assert words in str(info.value)


def test_invalid_json_names_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "q", "answer": "a", "correction": "c"}\n{"question": \n')
    with pytest.raises(DataError, match=rf"{path}:2: invalid JSON"):
        read_jsonl(path, Correction)


def test_write_is_atomic_when_the_producer_fails(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text('{"question": "old", "answer": "a", "correction": "c"}\n')

    def rows():
        yield {"question": "new"}
        raise RuntimeError("producer died")

    with pytest.raises(RuntimeError):
        write_jsonl(path, rows())
    assert read_jsonl(path, Correction)[0].question == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]


def test_append_only_log_resumes_and_drops_torn_line(tmp_path):
    path = tmp_path / "log.jsonl"
    with AppendOnlyLog(path) as log:
        for i in range(3):
            log.append({"id": content_id(str(i)), "value": i})
        log.append({"id": content_id("0"), "value": 99})   # duplicate id: ignored
    with path.open("a") as handle:
        handle.write('{"id": "torn", "val')                 # a kill mid-write
    with AppendOnlyLog(path) as log:
        assert len(log.rows) == 3 and "torn" not in log
        log.append({"id": "next", "value": 3})
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [row["value"] for row in lines] == [0, 1, 2, 3]


def test_degenerate_means_empty_or_looping():
    from alignstack.core.records import degenerate, repeated_ngram

    assert degenerate("") and degenerate("   \n ")
    loop = "I won't help with that request. " * 4
    assert repeated_ngram(loop) and degenerate(loop)
    prose = ("Water boils at 100 degrees Celsius at sea level. At higher altitude the boiling "
             "point is lower, because the air pressure is lower. Cooks at altitude add time.")
    assert not degenerate(prose)
    assert not repeated_ngram("a b c d e a b c d e")          # twice is not a loop
    assert repeated_ngram("a b c d e a b c d e a b c d e")    # three times is
