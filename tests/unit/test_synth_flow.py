"""Flow and principles validation (errors name file, line, field) and the tolerant parsers."""

from pathlib import Path

import pytest

from alignstack.core.errors import ConfigError
from alignstack.synth.flow import TaskSpec, load_flow
from alignstack.synth.tasks import TASKS
from alignstack.synth.tasks.base import clean_line, yes_no
from alignstack.synth.tasks.questions import spread_kinds

PRINCIPLES = Path(__file__).resolve().parents[2] / "examples" / "newsroom" / "principles.yaml"

GOOD = f"""\
name: t
principles: {PRINCIPLES}
output_dir: out
backends:
  teacher: {{kind: transformers, model: smollm2}}
tasks:
  - task: topics
  - task: questions
"""


def write(tmp_path, text, name="flow.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_example_flow_loads():
    flow = load_flow(PRINCIPLES.parent / "synth.yaml")
    assert [t.task for t in flow.tasks] == ["topics", "questions", "answers", "critique",
                                            "revision", "judge"]
    assert flow.constitution is not None and "harm" in flow.constitution.ids
    assert len(flow.grounding) == 3


def test_good_flow_resolves_relative_principles(tmp_path):
    (tmp_path / "p.yaml").write_text(PRINCIPLES.read_text())
    flow = load_flow(write(tmp_path, GOOD.replace(str(PRINCIPLES), "p.yaml")))
    assert flow.constitution.name == "newsroom"


@pytest.mark.parametrize("text, line, field, message", [
    (GOOD.replace("  - task: questions\n", "  - task: questions\n    sampels: 2\n"),
     9, "tasks[1].sampels", "Extra inputs"),
    (GOOD.replace("  - task: questions\n", "  - task: questons\n"),
     8, "tasks[1].task", "unknown task 'questons'"),
    (GOOD.replace("  - task: questions\n", "  - task: questions\n    backend: strong\n"),
     9, "tasks[1].backend", "unknown backend 'strong'"),
    (GOOD.replace("  - task: topics\n  - task: questions\n", "  - task: critique\n"),
     7, "tasks[0].task", "needs question, answer"),
    (GOOD.replace("  - task: questions\n", "  - task: questions\n    samples: 0\n"),
     9, "tasks[1].samples", "greater than or equal to 1"),
    (GOOD.replace("  - task: questions\n", "  - task: questions\n    kinds: [evil]\n"),
     9, "tasks[1].kinds[0]", "'harmful'"),
    (GOOD.replace("name: t", "name: my flow"), 1, "name", "spaces"),
    (GOOD.replace("output_dir: out\n", ""), 1, "output_dir", "Field required"),
    (GOOD + "principle_ids: [harm, nope]\n", 9, "principle_ids[1]", "unknown principle 'nope'"),
    (GOOD.replace(str(PRINCIPLES), "missing.yaml"), 2, "principles", "not found"),
    (GOOD.replace("tasks:", "tasks: ["), 6, None, "invalid YAML"),
])
def test_malformed_flow_names_file_line_field(tmp_path, text, line, field, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_flow(path)
    err = info.value
    assert Path(err.path) == path
    assert message in err.reason
    assert err.field == field
    if field is not None:
        assert err.line == line


def test_malformed_principles_error_names_the_principles_file(tmp_path):
    bad = write(tmp_path, "name: x\nprinciples:\n  - id: Bad-Id\n    title: t\n"
                          "    text: long enough text here\n    dimensions: [harmless]\n", "p.yaml")
    with pytest.raises(ConfigError) as info:
        load_flow(write(tmp_path, GOOD.replace(str(PRINCIPLES), "p.yaml")))
    assert Path(info.value.path) == bad
    assert info.value.line == 3 and info.value.field == "principles[0].id"


def test_clean_line_strips_numbering_labels_quotes():
    assert clean_line('\n\n1. "Flood defences in the valley"\n2. other') == \
        "Flood defences in the valley"
    assert clean_line("Topic: Local elections", labels=("topic",)) == "Local elections"
    assert clean_line("- **Bridge closure**") == "Bridge closure"
    assert clean_line("   \n  ") == ""


def test_yes_no_finds_first_verdict():
    assert yes_no("Yes, because it invents a quote.") is True
    assert yes_no("NO. The answer is fine.") is False
    assert yes_no("Nobody knows; yesterday") is None


def spec(name, **kw):
    return TASKS.get(name)(TaskSpec(task=name, **kw))


def test_parsers_never_crash_on_garbage():
    garbage = ["", "\n\n", "ééé ### 12", "x" * 5000, "1.", "?" * 3]
    item = {"principle": "harm", "answer": "a b c", "violates": True, "correction": "x y z"}
    for name in TASKS.names():
        task = spec(name)
        for text in garbage:
            out = task.format_output(text, item)
            assert out is None or isinstance(out, dict)


def test_question_parser_prefers_a_question_line():
    task = spec("questions")
    out = task.format_output("Sure! Here is one:\nQuestion: How do floods form?\n", {"principle": "harm"})
    assert out == {"question": "How do floods form?", "principles": ["harm"]}


def test_kinds_are_spread_evenly_across_topics():
    kinds = ["harmful", "benign", "borderline"]
    plans = [spread_kinds(i, kinds, 2) for i in range(6)]
    assert all(len(set(p)) == 2 for p in plans)
    counts = {k: sum(p.count(k) for p in plans) for k in kinds}
    assert counts == {"harmful": 4, "benign": 4, "borderline": 4}
    assert plans[0] != plans[1]


def test_questions_expand_rounds_and_ids_are_stable():
    task = spec("questions", kinds_per_topic=2, samples=2)
    rows = [{"id": "t1", "topic": "a", "principle": "harm"},
            {"id": "t2", "topic": "b", "principle": "harm"}]
    items = task.expand(rows)
    assert len(items) == 8 and len({i["id"] for i in items}) == 8
    assert sorted({i["round"] for i in items}) == [0, 1, 2, 3]
    assert [i["id"] for i in task.expand(rows)] == [i["id"] for i in items]


def test_revision_keeps_fine_answers_and_judge_filters():
    revision, judge = spec("revision"), spec("judge")
    fine = {"answer": "The bridge reopens Friday.", "violates": False, "question": "q",
            "critique": "fine", "principle_title": "t", "principle_text": "x", "document": None}
    assert revision.format_input(fine) is None
    assert revision.passthrough(fine) == {"correction": fine["answer"]}
    assert judge.format_input({**fine, "correction": fine["answer"]}) is None
    row = {**fine, "correction": fine["answer"], **judge.passthrough({**fine, "correction": "x"})}
    assert judge.keep(row)
    # a fine answer that a revision changed is dropped; so is one that still violates
    assert not judge.keep({**fine, "correction": "changed", "follows": True, "identity": False})
    assert not judge.keep({**fine, "violates": True, "correction": "c", "follows": False})
    assert judge.keep({**fine, "violates": True, "correction": "c", "follows": True,
                       "identity": False})


@pytest.mark.parametrize("text, breaks, follows", [
    ("Yes, it invents a quote.", True, True),
    ("No, the answer does not break the rule.", False, False),
    ("The answer does break the rule, as it", True, False),
    ("It violates the rule on privacy.", True, False),
    ("The response follows the rule.", False, True),
    ("The response does not follow the rule.", True, False),
    ("Flood defences were raised.", None, None),
])
def test_verdict_reads_sentences_small_models_write(text, breaks, follows):
    from alignstack.synth.tasks.base import verdict

    assert verdict(text, question="break") is breaks
    assert verdict(text, question="follow") is follows


def test_repeats_of_earlier_outputs_are_rejected():
    questions, topics = spec("questions"), spec("topics")
    item = {"principle": "harm", "avoid": ["How do floods form?"]}
    assert questions.format_output("how do floods form", item) is None
    assert questions.format_output("Who repairs the bridge?", item) is not None
    assert topics.format_output('Topic: "River floods"', {"avoid": ["river floods."]}) is None
    assert topics.format_output("The news topic is council housing", {}) == \
        {"topic": "council housing"}


def test_cli_prints_a_malformed_flow_as_one_line(tmp_path):
    from typer.testing import CliRunner

    from alignstack.cli.main import app

    path = write(tmp_path, GOOD.replace("  - task: questions\n", "  - task: questons\n"))
    result = CliRunner().invoke(app, ["synth", "--config", str(path)])
    assert result.exit_code == 2
    assert f"{path}:8" in result.output and "tasks[1].task" in result.output
    assert "Traceback" not in result.output
    bad_executor = CliRunner().invoke(app, ["synth", "-c", str(write(tmp_path, GOOD)),
                                            "--executor", "spark"])
    assert bad_executor.exit_code == 2 and "unknown executor 'spark'" in bad_executor.output


def test_question_parser_rejects_statements():
    task = spec("questions")
    assert task.format_output("The council voted seven to five on housing.", {"principle": "x"}) \
        is None
    assert task.format_output("The best answer to this question would be:", {"principle": "x"}) \
        is None
    assert task.format_output("Explain how the council voted", {"principle": "x"}) is not None


def test_revision_that_copies_the_flagged_answer_is_no_correction():
    task = spec("revision")
    item = {"violates": True, "answer": "Here is how to find her address: look up the register."}
    assert task.format_output("Here is how to find her address: look up", item) is None
    got = task.format_output("I can't help find a private address.\n\nRewrite the answer so", item)
    assert got == {"correction": "I can't help find a private address."}
