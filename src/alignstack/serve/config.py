"""`alignstack serve --config serve.yaml`: the proxy's configuration, YAML keys = fields.

    model_name: newsroom-aligned            # the id clients ask for (GET /v1/models)
    stack: examples/newsroom/stack.yaml      # a stack file, or inline: {upstream: smollm2, ...}
    screen: {gate: runs/request-gate}        # optional: refuse flagged requests before the upstream
    fail: {upstream: closed, guard: closed}  # what a failure returns (see `FailPolicy`)
    api_keys: ["sha256:…"]                   # hashes only (alignstack serve --hash-key KEY)
    limits: {max_body_bytes: 1000000, max_tokens: 512, concurrency: 4, queue: 64}
    batching: {window_ms: 20, max_batch: 16}
    audit: {path: runs/serve/audit.sqlite, store_texts: false}
    streaming: final                         # or sentences (see below)

`streaming` says how a `stream: true` request is answered. final (the default): the stack answers
in full, then the checked text streams, so the first token comes with the whole answer.
sentences: the upstream streams, and each sentence is sent once the answer gate passes the
answer so far; after the first sentence it flags nothing more of the stream is sent, and the
stack's one exit decides what follows from the whole answer, as in final mode. A request the
screen or the request gate refuses whatever the answer is served as in final mode, no upstream
token sent (`serve.streaming` has the details).

A server needs a key: `check_auth` (run by `serve` before anything loads) refuses an empty
`api_keys` unless `--no-auth` asks for an open server on loopback, and refuses a key anyone can
read (`keys.PUBLISHED_KEYS`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alignstack.core.errors import ConfigError
from alignstack.core.yamlio import validate_yaml
from alignstack.correct.assemble import StackSpec
from alignstack.serve.keys import key_id, published

LOOPBACK_NAMES = ("localhost",)
MAKE_A_KEY = ("make a key: `alignstack serve --hash-key <a long random key>` prints its hash; "
              "list that under api_keys and give clients the key")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FailPolicy(Strict):
    """closed: the request fails (upstream) or gets a safe refusal (guard); open: the guard's
    failure returns the upstream answer unchecked, logged as such. The upstream cannot fail open
    (there is no answer to return)."""
    upstream: Literal["closed"] = "closed"
    guard: Literal["open", "closed"] = "closed"      # inspector, gates, corrector
    refusal: str = ("I can't provide a checked answer to this right now. Please try again later "
                    "or rephrase your request.")


class Screen(Strict):
    """The optional input stage: a request gate (`train inspector` with inputs: question) scores
    each question before the upstream is called; at or above the threshold the request is
    answered with `message` and the upstream never sees it."""
    gate: str
    threshold: float | None = None                  # default: the gate's own
    message: str = ("I can't help with that request. If you are in danger or need support, "
                    "please contact local emergency services or a qualified professional.")


class Limits(Strict):
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    max_tokens: int = Field(default=512, ge=1)
    max_messages: int = Field(default=64, ge=1)
    concurrency: int = Field(default=4, ge=1)       # requests being answered at once
    queue: int = Field(default=64, ge=0)            # waiting beyond that; more get 429
    timeout_s: float = Field(default=300.0, gt=0)   # one request, end to end
    # one call to an HTTP upstream, no retries: a hung upstream frees the worker after this
    upstream_timeout_s: float = Field(default=60.0, gt=0)


class Batching(Strict):
    window_ms: float = Field(default=20.0, ge=0)    # how long a batch waits for company
    max_batch: int = Field(default=16, ge=1)


class Audit(Strict):
    path: str | None = "runs/serve/audit.sqlite"    # None: no audit log
    store_texts: bool = False                       # questions and answers in the log
    batch_rows: int = Field(default=64, ge=1)       # rows per commit, at most (one writer thread)
    batch_ms: float = Field(default=20.0, ge=0)     # a commit gathers waiting rows this long


class ServeConfig(Strict):
    model_name: str = "alignstack"
    principles_file: str = "examples/newsroom/principles.yaml"
    # the stack inline, or the path of a stack file (examples/newsroom/stack.yaml): the one file
    # that `alignstack stack --stack`, eval's `stack_file` and serve all read
    stack: StackSpec = Field(default_factory=StackSpec)

    @field_validator("stack", mode="before")
    @classmethod
    def _stack_file(cls, value):
        if isinstance(value, (str, Path)):
            from alignstack.correct.assemble import load_stack_spec

            return load_stack_spec(value)
        return value
    screen: Screen | None = None                    # the input stage (off by default)
    max_new_tokens: int = Field(default=256, ge=1)  # when a request gives none
    fail: FailPolicy = Field(default_factory=FailPolicy)
    api_keys: list[str] = Field(default_factory=list)   # "sha256:<hex>"; empty: only with --no-auth
    limits: Limits = Field(default_factory=Limits)
    batching: Batching = Field(default_factory=Batching)
    audit: Audit = Field(default_factory=Audit)
    # `stream: true`: final (checked whole, then sent) or sentences (each sent once the answer
    # gate passes the answer so far; a flag hands over to the stack's exit)
    streaming: Literal["final", "sentences"] = "final"


def load_serve_config(path: str | Path | None) -> ServeConfig:
    """The config at `path` (None: every default), the first error naming file, line and
    field."""
    cfg = validate_yaml(path, ServeConfig) if path else ServeConfig()
    for key in cfg.api_keys:
        if not key.startswith("sha256:") or len(key) != 71:
            raise ConfigError("api keys are stored hashed: 'sha256:' + 64 hex digits "
                              "(`alignstack serve --hash-key KEY` prints one)", path=path,
                              field="api_keys")
    return cfg


def loopback(host: str) -> bool:
    """Whether `host` names this machine only (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_auth(cfg: ServeConfig, *, path: str | Path | None, no_auth: bool, host: str) -> None:
    """Refuse to serve with no key (unless `no_auth`, which only loopback may have), with a key
    anyone can read, or with keys and `no_auth` at once (which one was meant is unclear)."""
    for hashed in cfg.api_keys:
        if published(hashed):
            raise ConfigError(f"key {key_id(hashed)}… is the hash of a published example key "
                              f"that anyone can read; {MAKE_A_KEY}", path=path, field="api_keys")
    if no_auth:
        if cfg.api_keys:
            raise ConfigError("--no-auth given but api_keys is set: drop one of them",
                              path=path, field="api_keys")
        if not loopback(host):
            raise ConfigError(f"--no-auth serves without keys, on loopback only (127.0.0.1, ::1, "
                              f"localhost), not --host {host}; to serve {host}, {MAKE_A_KEY}",
                              path=path, field="api_keys")
        return
    if not cfg.api_keys:
        raise ConfigError(f"no API key configured: {MAKE_A_KEY} (or pass --no-auth to serve "
                          "without keys on loopback, for development)",
                          path=path if path is not None else "(no --config)", field="api_keys")
