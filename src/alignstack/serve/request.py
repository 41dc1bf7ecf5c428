"""The proxy's request: the OpenAI chat-completions body as validated models (what is accepted,
what is a clear 400), the messages a 400 carries (the fields, never the input), the header limit
(431) and the OpenAI-style error object."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator

MAX_HEADERS = 100                # header lines a request may carry (Apache's default)
MAX_HEADER_BYTES = 16 * 1024     # and their total size (Node's default)


def unicode_text(value: str) -> str:
    """A string that is valid Unicode: a lone surrogate (JSON allows "\\ud800") cannot be
    tokenised, logged or echoed."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (it holds a lone surrogate)") from None
    return value


Text = Annotated[str, AfterValidator(unicode_text)]


class ChatMessage(BaseModel):
    """One message. `content`: a string, or OpenAI's content parts with text parts only (joined
    by newlines: the upstream and the guard read the same text). `developer`, OpenAI's newer name
    for a system message, is a system message here (so `stack.client_system` governs it); tool
    and function messages are not served (400)."""
    role: Literal["system", "developer", "user", "assistant"]
    content: Text

    @field_validator("content", mode="before")
    @classmethod
    def text_parts(cls, value):
        if not isinstance(value, list):
            return value
        texts = []
        for part in value:
            if not (isinstance(part, dict) and part.get("type") == "text"
                    and isinstance(part.get("text"), str)):
                raise ValueError("content parts must be text parts, {\"type\": \"text\", "
                                 "\"text\": ...}: this server serves text only")
            texts.append(part["text"])
        return "\n".join(texts)

    @field_validator("role")
    @classmethod
    def developer_is_system(cls, value: str) -> str:
        return "system" if value == "developer" else value


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    """The OpenAI request fields this server reads. Fields it does not know (`user`, `tools`,
    `logprobs`, anything else) are accepted and ignored, as OpenAI-compatible servers do: a client
    library may send them, and none can change what the guard does. `n` must be 1 and `stop`
    holds at most 4 strings, as OpenAI's own API says."""
    model: Text = Field(max_length=256)
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    n: int = Field(default=1, ge=1, le=1)
    seed: int | None = Field(default=None, ge=-(2 ** 63), le=2 ** 63 - 1)
    stop: Text | Annotated[list[Text], Field(max_length=4)] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None

    @field_validator("temperature")
    @classmethod
    def near_zero_is_greedy(cls, value: float) -> float:
        """A temperature under 0.001 (its limit: greedy) is greedy; divided by 1e-54, logits
        overflow and sampling fails."""
        return 0.0 if value < 1e-3 else value


def invalid_request(errors: list[dict]) -> str:
    """A 400's message from the validation errors: the fields and what is wrong (never the
    input's value)."""
    if any(e.get("type") == "json_invalid" for e in errors):
        return "the request body is not valid JSON"
    said = []
    for error in errors[:3]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        said.append(f"{where}: {str(error.get('msg', 'invalid'))[:200]}")
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "invalid request: " + "; ".join(said) + more


class HeaderLimit:
    """Too many or too large request headers get 431 before the app reads them (uvicorn's
    default parser, httptools, sets no limit of its own)."""

    def __init__(self, app, reject):
        self.app, self.reject = app, reject

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            if (len(headers) > MAX_HEADERS
                    or sum(len(k) + len(v) for k, v in headers) > MAX_HEADER_BYTES):
                await self.reject()(scope, receive, send)
                return
        await self.app(scope, receive, send)


def error_body(status: int, message: str, kind: str, code: str | None = None) -> dict:
    """An OpenAI-style error object."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code or status}}
