"""A FastAPI app exposing any Generator as an OpenAI-compatible API.

Routes: POST /v1/chat/completions (non-streaming), GET /v1/models, GET /healthz. Generation runs
one request at a time behind a lock (a local model is not thread-safe).
"""

from __future__ import annotations

import threading
import time
import uuid

from pydantic import BaseModel, Field

from alignstack.backends.base import Generator, GenParams


class ChatMessage(BaseModel):
    role: str
    content: str


class ChatRequest(BaseModel):
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=4096)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    n: int = Field(default=1, ge=1, le=16)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False


def create_app(generator: Generator, model_name: str | None = None):
    from fastapi import FastAPI, HTTPException

    app = FastAPI(title="alignstack", version="0.1.0")
    name = model_name or generator.name
    lock = threading.Lock()

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "model": name}

    @app.get("/v1/models")
    def models() -> dict:
        return {"object": "list",
                "data": [{"id": name, "object": "model", "created": 0, "owned_by": "alignstack"}]}

    @app.post("/v1/chat/completions")
    def chat(request: ChatRequest) -> dict:
        if request.stream:
            raise HTTPException(400, "stream=true is not supported by this server yet")
        if request.model != name:
            raise HTTPException(404, f"model '{request.model}' not found (serving '{name}')")
        stop = [request.stop] if isinstance(request.stop, str) else (request.stop or [])
        params = GenParams(max_new_tokens=request.max_completion_tokens or request.max_tokens or 256,
                           temperature=request.temperature, top_p=request.top_p,
                           num_return_sequences=request.n, seed=request.seed, stop=stop)
        messages = [m.model_dump() for m in request.messages]
        with lock:
            outs = generator.generate([messages], params)
        prompt_tokens = outs[0].prompt_tokens if outs else 0
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
            "created": int(time.time()), "model": name,
            "choices": [{"index": i, "message": {"role": "assistant", "content": c.text},
                         "finish_reason": c.finish_reason} for i, c in enumerate(outs)],
            "usage": {"prompt_tokens": prompt_tokens,
                      "completion_tokens": sum(c.completion_tokens for c in outs),
                      "total_tokens": prompt_tokens + sum(c.completion_tokens for c in outs)},
        }

    return app
