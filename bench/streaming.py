"""Sentence streaming against final streaming in the alignment proxy: time to first token, total
latency, and what the streamed text does on harmful and benign prompts.

The real default stack (examples/newsroom/serve.yaml -> stack.yaml: SmolLM2 on llama.cpp, the
verdict corrector sharing its base, the two answer gates, the request gate with refuse_flagged)
is built once and served twice on loopback, `streaming: final` and `streaming: sentences`; the
official `openai` client asks each prompt with `stream=True` of both servers, one request at a
time, alternating which mode goes first (llama.cpp caches the prompt, so the second ask of a
prompt starts faster; alternating spreads that over both modes). The two servers share the
stack's models but never run at once. Prompts: the DEV split only (never test) of harmbench +
donotanswer (harmful: expected refuse) and overrefusal + benign_edgy (benign: expected comply),
a stratified sample of `--limit` per group, split over its two suites.

Per mode: TTFT (the first non-empty content chunk) and total latency (the stream's end), p50 /
p90; the final streamed text judged by the project's harm judge ("harmful answered safely": the
harm judge calls the answer harmless) and refusal judge ("benign refused"), Wilson 95 % CIs,
and the paired difference sentences - final on the same prompts; the paths taken; how long the
benign answers served are (`benign_shorter_than_final`). bench/results/streaming_answer_so_far.json
is the same run of an earlier variant in which the exit judged the answer so far at a flag.

    ALIGNSTACK_THREADS=1 python bench/streaming.py [--limit 30] [--max-tokens 256]
                                                   [--out bench/results/streaming.json]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from proxy_load import percentile, serve  # noqa: E402

HARMFUL, BENIGN = ("harmbench", "donotanswer"), ("overrefusal", "benign_edgy")


def prompts(limit: int, seed: int) -> list:
    """`limit` harmful and `limit` benign dev items, each group split over its two suites."""
    from alignstack.evaluate.suites import load_suite
    from alignstack.evaluate.suites.base import stratified_sample

    chosen = []
    for suites, expected in ((HARMFUL, "refuse"), (BENIGN, "comply")):
        for k, name in enumerate(suites):
            items = [i for i in load_suite(name, split="dev") if i.expected == expected]
            assert all(i.split == "dev" for i in items)
            share = limit // 2 + (limit % 2 if k == 0 else 0)
            chosen += stratified_sample(items, share, seed)
    return chosen


def ask(url: str, model: str, prompt: str, max_tokens: int) -> dict:
    """One streamed request: TTFT, total latency, the text and the stack's `alignstack` field."""
    import openai

    client = openai.OpenAI(base_url=url + "/v1", api_key="bench", max_retries=0, timeout=900)
    started = time.perf_counter()
    first, parts, checked = None, [], {}
    for chunk in client.chat.completions.create(
            model=model, stream=True, max_tokens=max_tokens,
            messages=[{"role": "user", "content": prompt}]):
        if not chunk.choices:
            continue
        content = chunk.choices[0].delta.content
        if content:
            first = first if first is not None else time.perf_counter() - started
            parts.append(content)
        if chunk.choices[0].finish_reason:
            checked = (chunk.model_extra or {}).get("alignstack") or {}
    total = time.perf_counter() - started
    return {"ttft_ms": round(1000 * (first if first is not None else total), 1),
            "total_ms": round(1000 * total, 1), "text": "".join(parts),
            "path": checked.get("path"), "released": checked.get("released"),
            "policy": checked.get("policy")}


def relative(path: str) -> str:
    """A path inside the repository as written from its root (no machine's absolute paths)."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else path


def spread(values: list[float]) -> dict:
    return {"p50": percentile(values, 0.5), "p90": percentile(values, 0.9),
            "mean": round(sum(values) / len(values), 1), "n": len(values)}


def judged(items, answers: list[str]) -> tuple[list[bool], list[bool]]:
    """(refused, harmful) per answer: the refusal judge, and the harm judge given its verdicts."""
    from alignstack.core.records import QA
    from alignstack.evaluate.judges.base import load_judge

    qa = [QA(question=i.prompt, answer=a) for i, a in zip(items, answers)]
    refused = [j.label == "refusal" for j in load_judge("refusal").judge(qa)]
    harmful = [j.label == "harmful" for j in load_judge("harm").judge(qa, refused=refused)]
    return refused, harmful


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=40, help="prompts per group (harmful, benign)")
    parser.add_argument("--max-tokens", type=int, default=None,
                        help="per request (default: the serve config's max_new_tokens)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", default=str(ROOT / "examples" / "newsroom" / "serve.yaml"))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "streaming.json"))
    args = parser.parse_args()
    began = time.perf_counter()
    load_at_start = os.getloadavg()

    from alignstack.backends.hardware import torch_threads, usable_cores
    from alignstack.core.records import write_json
    from alignstack.correct.assemble import build_stack
    from alignstack.evaluate.metrics import paired_difference, rate
    from alignstack.serve.app import create_app, request_screen
    from alignstack.serve.audit import AuditLog
    from alignstack.serve.config import Audit, load_serve_config

    items = prompts(args.limit, args.seed)
    base = load_serve_config(args.config).model_copy(update={"api_keys": []})
    max_tokens = args.max_tokens or base.max_new_tokens
    stack = build_stack(base.stack, principles_file=base.principles_file,
                        max_new_tokens=base.max_new_tokens, batch_size=base.batching.max_batch)
    modes = ("final", "sentences")
    rows: dict[str, list[dict]] = {m: [] for m in modes}
    with tempfile.TemporaryDirectory() as tmp:
        servers = {}
        for mode in modes:
            cfg = base.model_copy(update={"streaming": mode, "audit": Audit(
                path=str(Path(tmp) / f"{mode}.sqlite"))})
            app = create_app(stack, cfg, AuditLog(cfg.audit.path), request_screen(cfg))
            servers[mode] = serve(app)
        ask(servers["final"][0], base.model_name, "Hello.", 8)          # warm-up, both
        ask(servers["sentences"][0], base.model_name, "Hello.", 8)
        for k, item in enumerate(items):
            for mode in (modes if k % 2 == 0 else modes[::-1]):
                rows[mode].append(ask(servers[mode][0], base.model_name, item.prompt, max_tokens))
            print(k, item.suite, {m: (rows[m][-1]["ttft_ms"], rows[m][-1]["total_ms"],
                                      rows[m][-1]["path"]) for m in modes}, flush=True)
        for _, server, thread in servers.values():
            server.should_exit = True
            thread.join(timeout=30)
    serving_s = time.perf_counter() - began

    harmful = [i.expected == "refuse" for i in items]
    results: dict = {}
    outcome: dict = {}
    for mode in modes:
        refused, harm = judged(items, [r["text"] for r in rows[mode]])
        outcome[mode] = {"safe": [not h for h, f in zip(harm, harmful) if f],
                         "refused": [r for r, f in zip(refused, harmful) if not f],
                         "harmful_refused": [r for r, f in zip(refused, harmful) if f]}
        results[mode] = {
            "ttft_ms": spread([r["ttft_ms"] for r in rows[mode]]),
            "total_ms": spread([r["total_ms"] for r in rows[mode]]),
            "harmful_answered_safely": rate(outcome[mode]["safe"]),
            "harmful_refused": rate(outcome[mode]["harmful_refused"]),
            "benign_refused": rate(outcome[mode]["refused"]),
            "paths": dict(Counter(r["path"] for r in rows[mode])),
            "policies": dict(Counter(r["policy"] for r in rows[mode]))}
        print(mode, {k: v for k, v in results[mode].items()}, flush=True)
    sentences = rows["sentences"]
    results["paired_sentences_minus_final"] = {
        "harmful_answered_safely": paired_difference(outcome["sentences"]["safe"],
                                                     outcome["final"]["safe"]),
        "benign_refused": paired_difference(outcome["sentences"]["refused"],
                                            outcome["final"]["refused"])}
    results["same_text_share"] = rate([a["text"] == b["text"] for a, b in
                                       zip(rows["final"], sentences)])
    benign_rows = {m: [r for r, f in zip(rows[m], harmful) if not f] for m in modes}
    results["benign_served_chars"] = {m: spread([float(len(r["text"])) for r in benign_rows[m]])
                                      for m in modes}
    results["benign_shorter_than_final"] = rate([
        len(s["text"]) < len(f["text"]) for s, f in zip(benign_rows["sentences"],
                                                        benign_rows["final"])])
    results["sentences_released_before_flag"] = spread(
        [float(r["released"]) for r in sentences if r["path"] not in ("stream-kept", None)
         and r["released"] is not None] or [0.0])
    write_json(args.out, {
        "benchmark": "streaming", "date": datetime.date.today().isoformat(),
        "machine": {"cores": usable_cores(), "threads": torch_threads(),
                    "cpu": platform.processor() or platform.machine(),
                    "load_average_at_start": [round(x, 2) for x in load_at_start],
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "config": relative(args.config), "stack": base.stack.model_dump(exclude_none=True),
        "max_tokens": max_tokens, "limit_per_group": args.limit, "seed": args.seed,
        "split": "dev", "suites": {"harmful": list(HARMFUL), "benign": list(BENIGN)},
        "prompts": {"harmful": sum(harmful), "benign": len(items) - sum(harmful)},
        "duration_s": {"serving": round(serving_s, 1),
                       "total": round(time.perf_counter() - began, 1)},
        **results,
        "items": [{"id": i.id, "suite": i.suite, "category": i.category,
                   **{m: {k: v for k, v in rows[m][n].items() if k != "text"} for m in modes}}
                  for n, i in enumerate(items)]})
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
