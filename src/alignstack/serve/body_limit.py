"""The request-body limit as plain ASGI middleware.

Starlette's `@app.middleware("http")` (BaseHTTPMiddleware) runs every request through an extra
task and memory streams, which cost about a millisecond per request; this wrapper costs a header
lookup. A POST whose declared Content-Length is within the limit passes untouched; any other POST
(no length declared, or too long) is read up to the limit and rejected as soon as it goes over,
so an oversize body is never buffered in full."""

from __future__ import annotations

from typing import Awaitable, Callable

Reject = Callable[[], Callable[..., Awaitable[None]]]     # -> an ASGI response


class BodyLimit:
    def __init__(self, app, max_bytes: int, reject: Reject):
        self.app, self.max_bytes, self.reject = app, max_bytes, reject

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) <= self.max_bytes:
            await self.app(scope, receive, send)
            return
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":        # the client went away
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_bytes:
                await self.reject()(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
