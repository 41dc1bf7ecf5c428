"""The alignment proxy: an OpenAI-compatible API whose every answer went through the stack
(upstream -> inspector -> corrector or squad), built by the same `build_stack` as eval.

Routes: POST /v1/chat/completions (plain and `stream: true`), GET /v1/models, /healthz (the
process is up), /readyz (the stack is loaded and its worker alive), /metrics (Prometheus).
Streaming never sends text the check has not passed (`serve.streaming`): by default the stack
answers in full first, then the final text streams as OpenAI chunks ending in `data: [DONE]`;
with `streaming: sentences` the upstream streams and each sentence is sent once the answer gate
passes it. Time to first token is measured.
Each response carries an `alignstack` field (corrected, outcome, score, policy), which the
official client keeps as an extra attribute.

Errors say what happened and the request id, never the internals: what an upstream or a guard
raised (its address, an engine's own error JSON) goes to the server log and the audit row's
`error` column only. A conversation longer than the upstream's context is a 400 naming the limit,
when the engine says its context (`context_length`). An answer is served only once its audit row
is committed (off the event loop); a stream the client drops is logged as `disconnected`, with how
much of the text it was sent."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from contextlib import asynccontextmanager

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from alignstack.backends.base import GenParams
from alignstack.serve.batcher import StackBatcher, UpstreamError
from alignstack.serve.body_limit import BodyLimit
from alignstack.serve.config import ServeConfig
from alignstack.serve.keys import KeyRing
from alignstack.serve.metrics import ProxyMetrics
from alignstack.serve.request import (MAX_HEADER_BYTES, MAX_HEADERS, ChatRequest, HeaderLimit,
                                      error_body, invalid_request)
from alignstack.serve.live import LiveStream
from alignstack.serve.streaming import WatchedStream, pieces_of, sentence_gate

log = logging.getLogger("alignstack.serve")


def context_length(engine) -> int | None:
    """The upstream's context in tokens, where its engine says (`context_length`); None: not
    known (an HTTP upstream), no check."""
    size = getattr(engine, "context_length", None)
    return size if isinstance(size, int) and size > 0 else None


def prompt_tokens(stack, messages: list[dict], room: int) -> int | None:
    """The upstream's prompt tokens for this conversation (its chat template and the stack's
    system prompt included), or None when it surely leaves `room` tokens free: a token covers at
    least one byte, so a prompt of fewer bytes needs no count."""
    engine = stack.upstream
    prompt = engine.format_chat(stack.messages(messages[-1]["content"], messages[:-1]))
    if len(prompt.encode("utf-8")) + 1 <= room:
        return None
    return engine.count_tokens([prompt])[0]


def create_app(stack, cfg: ServeConfig, audit=None, screen=None):
    """The FastAPI app serving `stack` as `cfg.model_name`; `screen` (questions -> flags) is
    the optional input stage."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, PlainTextResponse

    context = context_length(stack.upstream)
    gate = sentence_gate(stack, cfg.streaming)     # sentence streaming's answer gate, or None
    counting = threading.Lock()          # one count at a time beside the batcher's worker
    batcher = StackBatcher(stack, window_ms=cfg.batching.window_ms,
                           max_batch=cfg.batching.max_batch, guard_fails=cfg.fail.guard,
                           refusal=cfg.fail.refusal, screen=screen,
                           screen_message=cfg.screen.message if cfg.screen else "")

    @asynccontextmanager
    async def lifespan(_app):
        yield
        batcher.close()
        if audit is not None:
            audit.close()

    app = FastAPI(title="alignstack proxy", version="0.2.0", lifespan=lifespan)
    keys = KeyRing(cfg.api_keys)
    metrics = ProxyMetrics()
    admitted = {"n": 0}
    capacity = cfg.batching.max_batch + cfg.limits.queue
    app.state.batcher, app.state.metrics, app.state.audit = batcher, metrics, audit

    def fail(status: int, message: str, kind: str, code: str | None = None,
             detail: str | None = None, **row) -> JSONResponse:
        """An error response; `detail` (what failed, in full) goes to the audit row only."""
        metrics.count(status, row.get("policy", "rejected"))
        if audit is not None and row:
            try:
                audit.record(status=status, error=detail or message, **row)
            except Exception as exc:  # noqa: BLE001 - a closed log must not hide the error
                log.error("request %s: not in the audit log: %s", row.get("id"), exc)
        return JSONResponse(error_body(status, message, kind, code), status_code=status)

    async def logged(**row) -> None:
        """Queue the row and wait, off the event loop, until it is committed: an answer the
        client gets is in the log even if the process is killed next. A log that cannot write
        is reported, and does not withhold the answer."""
        if audit is None:
            return
        try:
            await asyncio.wrap_future(audit.record(**row))
        except Exception as exc:  # noqa: BLE001 - AuditError or a database error
            log.error("request %s: not in the audit log: %s", row.get("id"), exc)

    async def over_context(messages: list[dict], limit: int) -> str | None:
        """The 400 message when the conversation plus `limit` new tokens is over the
        upstream's context; None when it fits or the context is unknown."""
        if context is None:
            return None

        def count() -> int | None:
            with counting:
                return prompt_tokens(stack, messages, context - limit)

        try:
            used = await asyncio.to_thread(count)
        except Exception as exc:  # noqa: BLE001 - the upstream will say so itself
            log.warning("could not count the prompt's tokens: %s", exc)
            return None
        if used is None or used + limit <= context:
            return None
        return (f"this model's context is {context} tokens; the conversation is {used} tokens "
                f"and asks for up to {limit} more ({used + limit}): shorten the messages or "
                f"max_tokens")

    app.add_middleware(BodyLimit, max_bytes=cfg.limits.max_body_bytes, reject=lambda: fail(
        413, f"request body over {cfg.limits.max_body_bytes} bytes", "invalid_request_error"))
    app.add_middleware(HeaderLimit, reject=lambda: fail(
        431, f"request headers over {MAX_HEADERS} lines or {MAX_HEADER_BYTES} bytes",
        "invalid_request_error"))

    @app.exception_handler(RequestValidationError)
    async def invalid(raw: Request, exc: RequestValidationError):
        """A body that is not a valid request: an OpenAI-style 400 naming the fields (a client
        without a valid key learns only that: 401)."""
        if keys.required and keys.identify(raw.headers.get("authorization")) is None:
            return fail(401, "invalid or missing API key", "authentication_error")
        return fail(400, invalid_request(exc.errors()), "invalid_request_error")

    @app.exception_handler(HTTPException)
    async def http_error(raw: Request, exc: HTTPException):
        """Starlette's own errors (a body that is not UTF-8, an unknown route), OpenAI-style."""
        response = fail(exc.status_code, str(exc.detail), "invalid_request_error")
        response.headers.update(exc.headers or {})
        return response

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "model": cfg.model_name}

    @app.get("/readyz")
    def readyz():
        if not batcher.alive:
            return JSONResponse({"status": "not ready"}, status_code=503)
        return {"status": "ready", "model": cfg.model_name, "batches": batcher.batches}

    @app.get("/metrics")
    def prometheus() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type=metrics.content_type)

    @app.get("/v1/models")
    def models() -> dict:
        return {"object": "list", "data": [{"id": cfg.model_name, "object": "model",
                                            "created": 0, "owned_by": "alignstack"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: ChatRequest, raw: Request):
        started = time.perf_counter()
        rid = f"chatcmpl-{uuid.uuid4().hex}"
        base = {"id": rid, "created": time.time(), "model": request.model,
                "stream": int(request.stream)}
        key = keys.identify(raw.headers.get("authorization"))
        if keys.required and key is None:
            return fail(401, "invalid or missing API key", "authentication_error")
        base["key_id"] = key
        if request.model != cfg.model_name:
            return fail(404, f"model '{request.model}' not found (serving '{cfg.model_name}')",
                        "invalid_request_error", policy="rejected", **base)
        limit = request.max_completion_tokens or request.max_tokens or cfg.max_new_tokens
        if limit > cfg.limits.max_tokens:
            return fail(400, f"max_tokens {limit} is over this server's {cfg.limits.max_tokens}",
                        "invalid_request_error", policy="rejected", **base)
        messages = [m.model_dump() for m in request.messages]
        if (messages[-1]["role"] != "user" or not messages[-1]["content"].strip()
                or len(messages) > cfg.limits.max_messages):
            return fail(400, "the last message must be the user's, not empty (and at most "
                             f"{cfg.limits.max_messages} messages)", "invalid_request_error",
                        policy="rejected", **base)
        too_long = await over_context(messages, limit)
        if too_long:
            return fail(400, too_long, "invalid_request_error", code="context_length_exceeded",
                        policy="rejected", **base)
        if admitted["n"] >= capacity:
            return fail(429, "too many requests in flight; retry shortly", "rate_limit_error",
                        policy="rejected", **base)
        stop = [request.stop] if isinstance(request.stop, str) else (request.stop or [])
        params = GenParams(max_new_tokens=limit, temperature=request.temperature,
                           top_p=request.top_p, seed=request.seed, stop=stop)
        admitted["n"] += 1
        metrics.in_flight.inc()
        live = None                 # a sentence stream holds its admission until it ends
        try:
            if request.stream and gate is not None:
                live = LiveStream(batcher, gate, messages[-1]["content"], messages[:-1], params,
                                  cfg.limits.timeout_s)
                if await asyncio.wait_for(live.opened(), cfg.limits.timeout_s):
                    return live_response(rid, request, live, base, started)
                live = None         # decided from the request: served whole, as in final mode
            future = batcher.submit(messages[-1]["content"], messages[:-1], params)
            answer = await asyncio.wait_for(asyncio.wrap_future(future), cfg.limits.timeout_s)
        except asyncio.TimeoutError:
            if live is not None:
                live.stop()
                live = None
            return fail(504, f"no answer within {cfg.limits.timeout_s:.0f} s; request id {rid}",
                        "timeout", policy="error", **base)
        except UpstreamError as exc:
            log.error("request %s: the upstream failed: %s", rid, exc)
            live = None
            return fail(502, f"the upstream model failed; request id {rid}", "upstream_error",
                        detail=str(exc), policy="error", **base)
        finally:
            if live is None:
                admitted["n"] -= 1
                metrics.in_flight.dec()
        result = answer.result
        checked = {"corrected": result.corrected, "outcome": result.outcome,
                   "path": result.path, "score": result.score, "flagged": not result.skipped,
                   "policy": answer.policy, "batch_size": answer.batch_size,
                   "timing_ms": {"queue": answer.queue_ms, "upstream": answer.upstream_ms,
                                 "guard": answer.guard_ms}}
        if answer.error:                     # the client sees the policy, not the error
            log.warning("request %s: the guard failed (%s): %s", rid, answer.policy,
                        answer.error)
        row = dict(base, flagged=int(not result.skipped), corrected=int(result.corrected),
                   prompt_tokens=answer.prompt_tokens, completion_tokens=answer.completion_tokens,
                   outcome=result.outcome, path=result.path, score=result.score,
                   policy=answer.policy, error=answer.error, question=result.question,
                   answer=result.answer, final=result.final)
        if request.stream:
            row["stream_mode"] = "sentences" if gate is not None else "final"
            checked.update(stream_mode=row["stream_mode"], released=None)
            progress = {"chars": 0, "ttft": None, "logged": False, "row": lambda: row}
            return WatchedStream(
                stream_chunks(rid, request, pieces_of(result.final),
                              lambda: (checked, usage(answer)), started, progress),
                lambda: dropped(started, progress), media_type="text/event-stream")
        latency = time.perf_counter() - started
        metrics.observe(200, answer.policy, latency, None, result.corrected)
        await logged(status=200, latency_ms=round(1000 * latency, 1), **row)
        return {"id": rid, "object": "chat.completion", "created": int(base["created"]),
                "model": cfg.model_name,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": result.final},
                             "finish_reason": "stop"}],
                "usage": usage(answer), "alignstack": checked}

    def live_response(rid, request, live, base, started):
        """A sentence stream's response; its end (or the client's leaving) stops the stream and
        frees its admission."""
        progress = {"chars": 0, "ttft": None, "logged": False, "row": lambda: dict(base,
                                                                                 **live.row())}

        def ended() -> None:
            live.stop()
            admitted["n"] -= 1
            metrics.in_flight.dec()
            dropped(started, progress)

        return WatchedStream(stream_chunks(rid, request, live.pieces(), lambda: (
            live.checked(), usage(None, *live.usage)), started, progress), ended,
            media_type="text/event-stream")

    async def stream_chunks(rid, request, pieces, finish, started, progress):
        """The text `pieces` as OpenAI chunks, then the last one with `finish()`'s (checked,
        usage); the audit row (`progress["row"]()`) is committed before `[DONE]`. `progress`
        tells `dropped` how far a stream the client left got."""
        created = int(time.time())

        def frame(delta: dict, finish: str | None = None, **extra) -> str:
            return "data: " + json.dumps({
                "id": rid, "object": "chat.completion.chunk", "created": created,
                "model": cfg.model_name,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}) + "\n\n"

        yield frame({"role": "assistant", "content": ""})
        try:
            async for piece in pieces:
                if progress["ttft"] is None:
                    progress["ttft"] = time.perf_counter() - started
                yield frame({"content": piece})
                progress["chars"] += len(piece)
                await asyncio.sleep(0)
        except (UpstreamError, TimeoutError) as exc:    # a sentence stream's upstream, mid-way
            log.error("request %s: the stream failed: %s", rid, exc)
            progress["logged"] = True
            await logged(status=200, latency_ms=ms(time.perf_counter() - started),
                         sent_chars=progress["chars"], **dict(progress["row"](), policy="error",
                                                              error=str(exc) or "timeout"))
            yield "data: " + json.dumps(error_body(502, f"the upstream model failed; request "
                                                        f"id {rid}", "upstream_error")) + "\n\n"
            return
        checked, used = finish()
        yield frame({}, "stop", alignstack=checked)
        if request.stream_options and request.stream_options.include_usage:
            yield "data: " + json.dumps({
                "id": rid, "object": "chat.completion.chunk", "created": created,
                "model": cfg.model_name, "choices": [], "usage": used}) + "\n\n"
        latency, ttft = time.perf_counter() - started, progress["ttft"]
        progress["logged"] = True
        await logged(status=200, latency_ms=round(1000 * latency, 1), ttft_ms=ms(ttft),
                     sent_chars=progress["chars"], **progress["row"]())
        yield "data: [DONE]\n\n"
        metrics.observe(200, checked["policy"], latency, ttft, checked["corrected"])

    def dropped(started: float, progress: dict) -> None:
        """A stream that ended before its audit row was queued: the client went away. Logged
        with what it was sent (final[:sent_chars]) and marked `disconnected`."""
        if progress["logged"]:
            return
        progress["logged"], row = True, progress["row"]()
        metrics.disconnected.inc()
        log.info("request %s: the client left the stream after %d characters", row["id"],
                 progress["chars"])
        if audit is None:
            return
        try:
            audit.record(status=200, latency_ms=ms(time.perf_counter() - started),
                         ttft_ms=ms(progress["ttft"]), disconnected=1,
                         sent_chars=progress["chars"], **row)
        except Exception as exc:  # noqa: BLE001 - a log closed at shutdown
            log.error("request %s: not in the audit log: %s", row["id"], exc)

    return app


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(1000 * seconds, 1)


def usage(answer=None, prompt: int = 0, completion: int = 0) -> dict:
    """OpenAI's usage object, from an `Answer` or from counts."""
    if answer is not None:
        prompt, completion = answer.prompt_tokens, answer.completion_tokens
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def build_app(cfg: ServeConfig):
    """The proxy for `cfg`: its stack built by `build_stack` (as eval builds it), its audit log
    opened."""
    from alignstack.correct.assemble import build_stack
    from alignstack.serve.audit import AuditLog

    stack = build_stack(cfg.stack, principles_file=cfg.principles_file,
                        max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batching.max_batch,
                        http_options={"timeout": cfg.limits.upstream_timeout_s,
                                      "max_retries": 0})
    audit = AuditLog(cfg.audit.path, cfg.audit.store_texts, batch_rows=cfg.audit.batch_rows,
                     batch_ms=cfg.audit.batch_ms) if cfg.audit.path else None
    return create_app(stack, cfg, audit, request_screen(cfg))


def request_screen(cfg: ServeConfig):
    """questions -> flags from the configured request gate, or None."""
    if cfg.screen is None:
        return None
    from alignstack.core.records import QA
    from alignstack.inspect import load_inspector

    gate = load_inspector(cfg.screen.gate)
    threshold = cfg.screen.threshold if cfg.screen.threshold is not None else gate.threshold

    def flags(questions: list[str]) -> list[bool]:
        return [p >= threshold for p in gate.score([QA(question=q, answer="") for q in questions])]

    return flags


def bare_app(generator, model_name: str):
    """`generator` served as is (no guard, no audit): a local model behind the same API."""
    from alignstack.correct.stack import Stack
    from alignstack.serve.config import Audit, Batching

    cfg = ServeConfig(model_name=model_name, audit=Audit(path=None),
                      batching=Batching(window_ms=5))
    return create_app(Stack(generator), cfg)
