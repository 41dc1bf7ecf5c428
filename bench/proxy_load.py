"""Load on the alignment proxy: C concurrent clients (the official `openai` client, streaming)
against `alignstack serve` on loopback, with cross-request batching and without it
(max_batch 1), the same questions, on each local engine (upstream and corrector both on it).
Reports requests/s, latency and time-to-first-token percentiles, how many stack runs served them,
and the batched / one-at-a-time throughput ratio.

    python bench/proxy_load.py [--clients 16] [--engines transformers,llamacpp]
                               [--config examples/newsroom/serve.yaml]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(app):
    """`app` on loopback in a thread; returns (url, server, thread) once it is ready."""
    import httpx
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if httpx.get(url + "/readyz").status_code == 200:
                return url, server, thread
        except httpx.TransportError:
            time.sleep(0.1)


def run(cfg, questions: list[str]) -> dict:
    import openai

    from alignstack.serve.app import build_app

    app = build_app(cfg)
    url, server, thread = serve(app)

    def ask(question: str) -> tuple[float, float]:
        client = openai.OpenAI(base_url=url + "/v1", api_key="bench", max_retries=0,
                               timeout=600)
        started = time.perf_counter()
        first = None
        for chunk in client.chat.completions.create(
                model=cfg.model_name, stream=True,
                messages=[{"role": "user", "content": question}]):
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - started
        return time.perf_counter() - started, first or 0.0

    ask(questions[0])                                   # warm-up
    batches_before = app.state.batcher.batches
    started = time.perf_counter()
    with ThreadPoolExecutor(len(questions)) as pool:
        timings = list(pool.map(ask, questions))
    wall = time.perf_counter() - started
    server.should_exit = True
    thread.join(timeout=30)
    latencies, ttfts = [t[0] for t in timings], [t[1] for t in timings]
    return {"clients": len(questions), "wall_s": round(wall, 2),
            "requests_per_s": round(len(questions) / wall, 3),
            "latency_s": {"p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95),
                          "mean": round(statistics.mean(latencies), 3)},
            "ttft_s": {"p50": percentile(ttfts, 0.5), "p95": percentile(ttfts, 0.95)},
            "stack_runs": app.state.batcher.batches - batches_before}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--engines", default="transformers,llamacpp")
    parser.add_argument("--config", default=str(ROOT / "examples" / "newsroom" / "serve.yaml"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "proxy_load.json"))
    args = parser.parse_args()

    from alignstack.core.records import Correction, read_jsonl, write_json
    from alignstack.serve.config import Audit, Batching, load_serve_config

    base = load_serve_config(args.config).model_copy(update={"api_keys": [],
                                                              "audit": Audit(path=None)})
    records = read_jsonl(ROOT / "examples" / "newsroom" / "data" / "heldout.jsonl", Correction)
    questions = [r.question for r in records[:args.clients]]
    results = {}
    for engine in args.engines.split(","):
        stack = base.stack.model_copy(update={"backend": engine, "corrector_engine": engine})
        runs = {}
        for label, batching in (("batched", Batching(window_ms=50, max_batch=args.clients)),
                                ("one_at_a_time", Batching(window_ms=0, max_batch=1))):
            cfg = base.model_copy(update={"batching": batching, "stack": stack})
            runs[label] = run(cfg, questions)
            print(engine, label, runs[label], flush=True)
        runs["throughput_ratio"] = round(runs["batched"]["requests_per_s"]
                                         / runs["one_at_a_time"]["requests_per_s"], 2)
        results[engine] = runs
    write_json(args.out, {"benchmark": "proxy_load", "config": args.config,
                          "stack": base.stack.model_dump(exclude_none=True),
                          "target": "batched >= 4x one-at-a-time requests/s", **results})
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
