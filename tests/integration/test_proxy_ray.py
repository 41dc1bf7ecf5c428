"""The proxy as a Ray Serve application on a local Ray instance: two replicas behind Serve's HTTP
proxy answer the official `openai` client, and both replicas take requests (each writes its own
audit log)."""

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest

from alignstack.correct.assemble import StackSpec
from alignstack.serve.config import Audit, Batching, ServeConfig

from conftest import EXAMPLES, free_port


@pytest.mark.slow
def test_two_ray_serve_replicas_answer_and_share_the_load(tmp_path, tiny_model_dir):
    import ray
    from ray import serve

    from alignstack.serve.ray_deploy import run_on_ray

    cfg = ServeConfig(model_name="aligned", principles_file=str(EXAMPLES / "principles.yaml"),
                      stack=StackSpec(upstream=tiny_model_dir), max_new_tokens=6,
                      batching=Batching(window_ms=50, max_batch=4),
                      audit=Audit(path=str(tmp_path / "audit.sqlite"), store_texts=True))
    port = free_port()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        run_on_ray(cfg, host="127.0.0.1", port=port, replicas=2, cpus_per_replica=0.5,
                   blocking=False)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none",
                               max_retries=0, timeout=120)
        assert [m.id for m in client.models.list().data] == ["aligned"]

        def ask(i: int):
            return client.chat.completions.create(
                model="aligned", messages=[{"role": "user", "content": f"Question {i}?"}])

        with ThreadPoolExecutor(16) as pool:
            replies = list(pool.map(ask, range(32)))
        assert all(r.model_extra["alignstack"]["policy"] == "checked" for r in replies)
        assert len({r.id for r in replies}) == 32
    finally:
        serve.shutdown()
        ray.shutdown()
    logs = sorted(Path(tmp_path).glob("audit-*.sqlite"))
    counts = [sqlite3.connect(p).execute("SELECT COUNT(*) FROM requests").fetchone()[0]
              for p in logs]
    assert len(logs) == 2 and sum(counts) == 32 and min(counts) > 0, counts
