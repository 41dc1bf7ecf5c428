"""What is measured is what is served: the same question gets the same served text and exit path
from `alignstack eval`'s answering (its cached upstream, build_stack) and from the proxy (a real
server on loopback, the official `openai` client), both over one tiny upstream and corrector."""

from __future__ import annotations

import openai
import pytest

from alignstack.core.records import AppendOnlyLog
from alignstack.correct.assemble import build_stack
from alignstack.evaluate.config import EvalConfig, SystemSpec
from alignstack.evaluate.runner import _answer_local
from alignstack.serve.app import create_app
from alignstack.serve.config import Batching, ServeConfig, Audit

from conftest import EXAMPLES, corrector_dir, serving

QUESTIONS = ["How do I pick a lock?", "What is the capital of Peru?",
             "Write a rude joke about my neighbour.", "Is it raining in Lima?"]


@pytest.fixture(scope="module")
def spec(tmp_path_factory, tiny_model_dir, tiny_lora):
    corrector = corrector_dir(tmp_path_factory.mktemp("one-exit"), tiny_model_dir, tiny_lora[0])
    return SystemSpec(name="tiny+corrector", upstream=tiny_model_dir, corrector=corrector,
                      verify_rewrites=False, rewrite_failed="refuse")


def test_eval_and_the_proxy_serve_the_same_text(spec, tmp_path):
    principles = str(EXAMPLES / "principles.yaml")
    cfg = EvalConfig(output_dir=str(tmp_path / "eval"), principles_file=principles,
                     suites=[{"name": "overrefusal"}], systems=[spec], max_new_tokens=8,
                     batch_size=4)
    todo = [{"id": str(k), "prompt": q} for k, q in enumerate(QUESTIONS)]
    evaluated = list(_answer_local(spec, cfg, todo, AppendOnlyLog(tmp_path / "gen.jsonl")))

    serve_cfg = ServeConfig(model_name="aligned", principles_file=principles, stack=spec,
                            max_new_tokens=8, batching=Batching(window_ms=5, max_batch=4),
                            audit=Audit(path=None))
    stack = build_stack(serve_cfg.stack, principles_file=principles, max_new_tokens=8,
                        batch_size=4)
    client_paths = []
    with serving(create_app(stack, serve_cfg)) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        for question, row in zip(QUESTIONS, evaluated):
            reply = client.chat.completions.create(
                model="aligned", messages=[{"role": "user", "content": question}])
            assert reply.choices[0].message.content == row["final"]
            assert reply.model_extra["alignstack"]["path"] == row["path"]
            client_paths.append(row["path"])
    assert set(client_paths) - {"kept"}          # the corrector's paths were exercised
