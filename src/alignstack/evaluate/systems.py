"""Systems under test, built as the one `Stack` composition that serve and the CLI run, plus the
content-addressed caches that make comparison runs cheap and resumable.

Two caches, both append-only JSONL keyed by content hashes:
- generations: (upstream, messages, params) -> completion, shared by every system with the same
  upstream, so "upstream" and "upstream + corrector" generate each upstream answer once;
- answers: one log per system fingerprint, so a re-run or a resumed run skips every prompt
  already answered, and a changed system gets a fresh log.

A cache that cannot lie: the fingerprint holds everything that changes an answer, not only what
the config spells out: the package version, the spec with every field at its value (defaults
included: refuse_flagged, the gate thresholds, the answer gate list ...), the system prompt, the
token budget, the files of every model and gate (size + mtime), and the defaults the code fills
in (`answer_options`: the corrector's max_new_tokens, no_repeat_ngram_size, repetition_penalty,
extra_tokens ..., the stack's sampling defaults), read from the signatures themselves so that a
changed default changes the key. Not in the key: batch size and the CPU's kernels/dtype, which can
flip a greedy token but are not options of the system.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import inspect

from alignstack import __version__
from alignstack.backends.base import Completion, Generator, GenParams, Message
from alignstack.correct import assemble
from alignstack.core.config import as_list
from alignstack.core.records import AppendOnlyLog, content_id
from alignstack.evaluate.config import EvalConfig, SystemSpec


def system_prompt_text(spec: SystemSpec, cfg: EvalConfig) -> str | None:
    return assemble.system_prompt_text(spec, cfg.principles_file)


def _files_fingerprint(path: str | None) -> str:
    """Size + mtime of every file under a local model/corrector dir: retraining changes the key."""
    if not path or not Path(path).exists():
        return path or ""
    root = Path(path)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    return ";".join(f"{p.relative_to(root.parent)}:{p.stat().st_size}:{int(p.stat().st_mtime)}"
                    for p in files)


def upstream_fingerprint(spec: SystemSpec) -> str:
    """A local upstream directory's files (a model retrained in place, as a bootstrap round is,
    must not answer from the old model's cache); "" for a built-in, hub id or remote model."""
    return _files_fingerprint(spec.upstream) if Path(spec.upstream).exists() else ""


def _defaults(func, skip: tuple[str, ...] = ()) -> dict:
    """The plain-valued keyword defaults of `func` (what the code fills in when a spec is silent).
    None ("unset") is left out, as `exclude_none` does for the spec: a new optional parameter
    does not invalidate the caches, a default that becomes a value (or stops being one) does."""
    out = {}
    for name, param in inspect.signature(func).parameters.items():
        value = param.default
        if name in skip or value is inspect.Parameter.empty or value is None:
            continue
        if isinstance(value, (bool, int, float, str)):
            out[name] = value
    return out


def answer_options(spec: SystemSpec) -> dict:
    """Every default that shapes this system's answers beyond its spec: the package version, and,
    when something corrects, the corrector's and the stack's defaults as the code has them now."""
    out: dict = {"alignstack": __version__}
    if spec.corrector or spec.squad:
        from alignstack.correct.corrector import Corrector
        from alignstack.correct.stack import Stack

        skip = ("batch_size", "device", "source", "self")
        out["corrector_load"] = _defaults(Corrector.load, skip)
        out["corrector"] = _defaults(Corrector.__init__, skip)
        out["stack"] = _defaults(Stack, ("best_of_n", "threshold"))
        out["build_stack"] = _defaults(assemble.build_stack, ("max_new_tokens", "batch_size"))
    return out


def system_fingerprint(spec: SystemSpec, cfg: EvalConfig) -> str:
    # exclude_none: a new optional field (unset) must not invalidate existing caches; for the
    # same reason the request gate's files join the key only when there is one
    dumped = spec.model_dump(exclude_none=True)
    for added, default in (("corrector_engine", "transformers"), ("uncertain_zone", True)):
        if dumped.get(added) == default:                        # added later, at its default
            del dumped[added]
    parts = [json.dumps(dumped, sort_keys=True), json.dumps(answer_options(spec), sort_keys=True),
             system_prompt_text(spec, cfg) or "", str(cfg.max_new_tokens),
             _files_fingerprint(spec.corrector), _files_fingerprint(spec.inspector),
             _files_fingerprint(spec.squad)]
    for extra in (spec.request_gate, *as_list(spec.answer_gate), spec.corrector_gguf):
        if extra:
            parts.append(_files_fingerprint(extra))
    local_upstream = upstream_fingerprint(spec)
    if local_upstream:                        # joins the key only for a local upstream
        parts.append(local_upstream)
    return content_id(*parts)


def params_key(params: GenParams) -> dict:
    """GenParams for a cache key; fields left at their default are dropped, so a field added to
    GenParams later does not invalidate existing caches (as `exclude_none` does for systems)."""
    defaults = asdict(GenParams())
    original = ("max_new_tokens", "temperature", "top_p", "num_return_sequences", "seed", "stop")
    return {k: v for k, v in asdict(params).items() if k in original or v != defaults[k]}


class CachedGenerator:
    """A Generator that answers from an append-only cache and loads the real backend only on a
    miss (a fully cached re-run never loads a model)."""

    def __init__(self, spec: SystemSpec, cfg: EvalConfig, log: AppendOnlyLog):
        self.spec, self.cfg, self.log = spec, cfg, log
        self.name = spec.upstream
        self.files = upstream_fingerprint(spec)
        self._inner: Generator | None = None
        self.hits = self.misses = 0

    @property
    def inner(self) -> Generator:
        if self._inner is None:
            self._inner = load_upstream(self.spec, self.cfg.batch_size)
        return self._inner

    def key(self, messages: list[Message], params: GenParams) -> str:
        return content_id(__version__, self.spec.backend, self.spec.upstream,
                          self.spec.base_url or "",
                          json.dumps(messages, sort_keys=True),
                          json.dumps(params_key(params), sort_keys=True),
                          *([self.files] if self.files else []))

    def generate(self, prompts: list[list[Message]], params: GenParams) -> list[Completion]:
        if params.temperature > 0:        # sampled: caching would freeze one sample
            return self.inner.generate(prompts, params)
        keys = [self.key(p, params) for p in prompts]
        todo = [i for i, k in enumerate(keys) if k not in self.log]
        self.hits += len(prompts) - len(todo)
        self.misses += len(todo)
        if todo:
            fresh = self.inner.generate([prompts[i] for i in todo], params)
            for i, completion in zip(todo, fresh):
                self.log.append({"id": keys[i], **asdict(completion)})
        return [Completion(**{k: v for k, v in self.log.rows[k].items() if k != "id"})
                for k in keys]

    # the rest of the engine contract goes straight to the engine (not cached)
    def generate_text(self, prompts, params: GenParams, max_new_tokens=None) -> list[Completion]:
        return self.inner.generate_text(prompts, params, max_new_tokens)

    def count_tokens(self, texts) -> list[int]:
        return self.inner.count_tokens(texts)

    def format_chat(self, messages: list[Message]) -> str:
        return self.inner.format_chat(messages)


def load_upstream(spec: SystemSpec, batch_size: int) -> Generator:
    return assemble.load_upstream(spec, batch_size)


def build_corrector(spec: SystemSpec, cfg: EvalConfig):
    """The system's corrector (with its gates) or squad, or None; no upstream is loaded."""
    return assemble.build_corrector(spec, cfg.batch_size)


def build_stack(spec: SystemSpec, cfg: EvalConfig, generations: AppendOnlyLog | None = None):
    """The system as the one `Stack` composition, its upstream behind the generation cache."""
    upstream: Generator = (CachedGenerator(spec, cfg, generations) if generations is not None
                           else load_upstream(spec, cfg.batch_size))
    return assemble.build_stack(spec, principles_file=cfg.principles_file,
                                max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size,
                                upstream=upstream)
