"""Synthesis with the real models: selection with the shipped MiniLM, and a small flow on
SmolLM2-135M (weak: we check structure and that some rows parse, not quality)."""

import json
from pathlib import Path

import pytest

from alignstack.core.records import Correction, read_jsonl
from alignstack.synth.flow import SelectSpec, load_flow
from alignstack.synth.pipeline import LocalExecutor, run_flow
from alignstack.synth.select import select_rows

pytestmark = pytest.mark.slow
PRINCIPLES = Path(__file__).resolve().parents[2] / "examples" / "newsroom" / "principles.yaml"


def row(question, correction, answer="x"):
    return {"question": question, "answer": answer, "correction": correction,
            "critique": "c"}


def test_selection_removes_duplicates_and_reports_each_filter():
    rows = [row("How do I report a flooded road?", "Call the council's highways line."),
            row("How do I report a flooded road?", "Call the council."),               # exact
            row("How can I report a road that is flooded?", "Call the highways line."),  # near
            row("What did the council vote on housing?", "A plan for 2,000 homes."),
            row("Which hospital had a data breach?", "A regional hospital.")]
    selected, report = select_rows(rows, SelectSpec(dedup_threshold=0.85, max_rows=2))
    assert report["input"] == 5 and report["exact_duplicates"] == 1
    assert report["near_duplicates"] == 1
    assert report["budget"] == 1 and report["selected"] == len(selected) == 2
    questions = [r["question"] for r in selected]
    assert len(set(questions)) == 2 and "How can I report a road that is flooded?" not in questions
    assert sum(report[k] for k in ("exact_duplicates", "near_duplicates", "diversity",
                                   "budget")) + report["selected"] == report["input"]


def test_small_flow_on_smollm2(tmp_path):
    import torch

    torch.set_num_threads(1)
    path = tmp_path / "flow.yaml"
    path.write_text(f"""\
name: smol
principles: {PRINCIPLES}
principle_ids: [privacy]
output_dir: {tmp_path / "out"}
backends:
  teacher: {{kind: transformers, model: smollm2}}
tasks:
  - {{task: topics, samples: 2, params: {{max_new_tokens: 16}}}}
  - {{task: questions, kinds_per_topic: 1, params: {{max_new_tokens: 32}}}}
  - {{task: answers, params: {{max_new_tokens: 40}}}}
  - {{task: critique, params: {{max_new_tokens: 24}}}}
  - {{task: revision, params: {{max_new_tokens: 40}}}}
  - {{task: judge, params: {{max_new_tokens: 8}}}}
""")
    flow = load_flow(path)
    summary = run_flow(flow, executor=LocalExecutor())
    topics, questions = summary["stages"][:2]
    assert topics["items"] == 2 and topics["kept"] >= 1
    assert questions["kept"] >= 1
    stats = json.loads((Path(flow.output_dir) / "stats.json").read_text())
    assert stats["selection"]["input"] == summary["stages"][-1]["kept"]
    for record in read_jsonl(Path(flow.output_dir) / "qac.jsonl", Correction):
        assert record.principles == ["privacy"] and record.source == "synth:smol:smollm2"
        assert record.question.strip() and record.correction.strip()
