"""What the alignment proxy adds on pass-through, and how it holds 200 concurrent clients.

The upstream is fast on purpose, so the proxy's own cost shows: llama.cpp's server (the engine
the llamacpp backend embeds) on loopback, running a 2-layer random model exported to GGUF with
SmolLM2's tokenizer. The proxy is `alignstack serve` in its own process, backend `openai` -> that
server, with the trained answer inspector scoring every answer at a threshold above 1, so every
answer passes (the corrector is never reached). Batching window 0: a batch is whatever has
queued while the worker was busy (under load that still forms batches; `mean_batch` shows it),
so a lone request waits for nobody. A window of W ms adds up to W ms to a lone request.

1. overhead: the same questions sent one at a time straight to the upstream and through the
   proxy, interleaved; the proxy reports the guard's time inside each request; added = proxy -
   direct - guard, p50 / p99 over the requests (see `overhead`).
2. load: 200 concurrent clients (AsyncOpenAI, closed loop) for 60 s: requests, errors by status,
   latency p50 / p99, requests/s, mean batch size.

    python bench/proxy_overhead.py [--inspector runs/inspector] [--clients 200] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from proxy_load import free_port, percentile  # noqa: E402

MAX_TOKENS = 16


def tiny_gguf(directory: Path) -> Path:
    """A 2-layer random Llama with SmolLM2's tokenizer, exported to f32 GGUF."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from alignstack.backends.models import BUILTIN, package_file, resolve
    from alignstack.quantize.gguf_export import write_gguf

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(resolve("smollm2").path)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                         max_position_embeddings=2048, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    model = LlamaForCausalLM(config)
    model.save_pretrained(directory / "hf")
    tokenizer.save_pretrained(directory / "hf")
    package, filename, _ = BUILTIN["smollm2"]
    out = directory / "fast-upstream-f32.gguf"
    write_gguf(model, directory / "hf", out, "f32", tokenizer_gguf=package_file(package, filename))
    return out


def start_proxy(directory: Path, upstream_url: str, key: str, inspector: str, port: int,
                clients: int) -> subprocess.Popen:
    config = directory / "serve.yaml"
    config.write_text(f"""\
model_name: aligned
principles_file: {ROOT / 'examples' / 'newsroom' / 'principles.yaml'}
stack: {{upstream: fast, backend: openai, base_url: "{upstream_url}/v1", inspector: {inspector},
        threshold: 1.01}}
max_new_tokens: {MAX_TOKENS}
limits: {{queue: {clients + 64}, timeout_s: 120}}
batching: {{window_ms: 0, max_batch: 32}}
audit: {{path: {directory / 'audit.sqlite'}}}
""")
    env = {**os.environ, "OPENAI_API_KEY": key, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "alignstack", "serve", "--config", str(config),
                             "--port", str(port), "--no-auth"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    import httpx

    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the proxy never became ready")


def overhead(direct, proxied, inspector, questions: list[str]) -> dict:
    """Interleaved: the upstream called directly, then through the proxy, per question.

    The proxy reports its own stage times (`alignstack.timing_ms`): the upstream call and the
    guard (inspector) as run inside that request. Two measures of what the proxy adds:
    - added: proxy - direct - the guard's time in that request (the issue's measure; it carries
      the upstream's own run-to-run jitter, as two separate upstream calls are compared);
    - own: proxy - the upstream call and the guard inside the same request (HTTP in and out,
      queueing, batching window, audit write, serialisation; no upstream jitter).
    The inspector timed again in this process is kept for reference."""
    from alignstack.core.records import QA

    def timed(client, model: str, question: str):
        started = time.perf_counter()
        reply = client.chat.completions.create(
            model=model, max_tokens=MAX_TOKENS, temperature=0.0,
            messages=[{"role": "user", "content": question}])
        return 1000 * (time.perf_counter() - started), reply

    for question in questions[:5]:                       # warm-up
        timed(direct, "fast", question)
        timed(proxied, "aligned", question)
    series: dict[str, list[float]] = {name: [] for name in (
        "direct_ms", "proxy_ms", "guard_in_proxy_ms", "upstream_in_proxy_ms", "inspector_here_ms",
        "added_ms", "own_ms")}
    for question in questions:
        direct_ms, reply = timed(direct, "fast", question)
        proxy_ms, proxied_reply = timed(proxied, "aligned", question)
        timing = (proxied_reply.model_extra or {})["alignstack"]["timing_ms"]
        started = time.perf_counter()
        inspector.score([QA(question=question, answer=reply.choices[0].message.content or "")])
        for name, value in (("direct_ms", direct_ms), ("proxy_ms", proxy_ms),
                            ("guard_in_proxy_ms", timing["guard"]),
                            ("upstream_in_proxy_ms", timing["upstream"]),
                            ("inspector_here_ms", 1000 * (time.perf_counter() - started)),
                            ("added_ms", proxy_ms - direct_ms - timing["guard"]),
                            ("own_ms", proxy_ms - timing["upstream"] - timing["guard"])):
            series[name].append(value)
    stats = {name: {"p50": percentile(v, 0.5), "p99": percentile(v, 0.99),
                    "mean": round(statistics.mean(v), 2)} for name, v in series.items()}
    stats["requests"] = len(questions)
    stats["target"] = "added p50 <= 5 ms, p99 <= 20 ms"
    stats["met"] = stats["added_ms"]["p50"] <= 5 and stats["added_ms"]["p99"] <= 20
    stats["met_by_own"] = stats["own_ms"]["p50"] <= 5 and stats["own_ms"]["p99"] <= 20
    return stats


async def load(url: str, questions: list[str], clients: int, seconds: float) -> dict:
    import openai

    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="bench", max_retries=0,
                                timeout=120,
                                http_client=None)
    latencies: list[float] = []
    batch_sizes: list[int] = []
    outcomes: Counter = Counter()
    deadline = time.perf_counter() + seconds

    async def user(k: int) -> None:
        i = k
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                reply = await client.chat.completions.create(
                    model="aligned", max_tokens=MAX_TOKENS,
                    messages=[{"role": "user", "content": questions[i % len(questions)]}])
                latencies.append(1000 * (time.perf_counter() - started))
                batch_sizes.append(reply.model_extra["alignstack"]["batch_size"])
                outcomes["200"] += 1
            except openai.APIStatusError as exc:
                outcomes[str(exc.status_code)] += 1
            except openai.APIConnectionError:
                outcomes["connection"] += 1
            i += clients

    started = time.perf_counter()
    await asyncio.gather(*(user(k) for k in range(clients)))
    wall = time.perf_counter() - started
    await client.close()
    total = sum(outcomes.values())
    return {"clients": clients, "seconds": round(wall, 1), "requests": total,
            "ok": outcomes["200"], "errors": {k: v for k, v in outcomes.items() if k != "200"},
            "requests_per_s": round(total / wall, 1),
            "mean_batch": round(statistics.mean(batch_sizes), 1) if batch_sizes else 0,
            "latency_ms": {"p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99)}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--inspector", default=str(ROOT / "runs" / "inspector"))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "proxy_overhead.json"))
    args = parser.parse_args()
    if not (Path(args.inspector) / "inspector.json").exists():
        raise SystemExit(f"{args.inspector}: no trained inspector (make runs/inspector/inspector.json)")

    import openai

    from alignstack.backends.hardware import cpu_has_native_bf16, usable_cores
    from alignstack.backends.llamacpp import LlamaCppGenerator
    from alignstack.core.records import Correction, read_jsonl, write_json
    from alignstack.inspect import load_inspector

    records = read_jsonl(ROOT / "examples" / "newsroom" / "data" / "heldout.jsonl", Correction)
    questions = [r.question for r in records]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        upstream = LlamaCppGenerator(str(tiny_gguf(directory)), parallel=8)
        engine = upstream.engine
        port = free_port()
        proxy = start_proxy(directory, engine.url, engine.api_key, args.inspector, port,
                            args.clients)
        try:
            direct = openai.OpenAI(base_url=engine.url + "/v1", api_key=engine.api_key,
                                   max_retries=0)
            proxied = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="bench",
                                    max_retries=0)
            inspector = load_inspector(args.inspector)
            cycle = (questions * (args.requests // len(questions) + 1))[:args.requests]
            results = {"overhead": overhead(direct, proxied, inspector, cycle)}
            print("overhead", results["overhead"], flush=True)
            results["load"] = asyncio.run(load(f"http://127.0.0.1:{port}", questions,
                                               args.clients, args.seconds))
            print("load", results["load"], flush=True)
        finally:
            proxy.terminate()
            proxy.wait(timeout=60)
    write_json(args.out, {"benchmark": "proxy_overhead", "upstream": "llama.cpp server, 2-layer "
                          f"random model, {MAX_TOKENS} tokens", "inspector": args.inspector,
                          "machine": {"cores": usable_cores(),
                                      "native_bf16": cpu_has_native_bf16()}, **results})
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
