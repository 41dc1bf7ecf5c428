"""The build's stage log and its skip rule, apart from what the stages do.

The log (DIR/runs/build_log.jsonl) is append-only: one line when a stage starts, one when it
ends (`done`, with what it produced and measured, or `failed`, with the error). A stage is
skipped when a `done` line carries its current fingerprint and every output it lists still
exists. The fingerprint hashes the bytes of the files the stage reads and the fingerprints of the
stages it depends on, so editing a config (or retraining what a stage uses) runs that stage and
every stage after it again, and a run killed mid-stage resumes at that stage (synth and eval
resume inside the stage from their own logs)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from alignstack import __version__
from alignstack.core.records import AppendOnlyLog, content_id

LOG_FILE = "runs/build_log.jsonl"


class Reporter(Protocol):
    """What a build tells its view: a stage's state, progress inside a stage, a log line."""

    def stage(self, name: str, state: str, detail: str = "") -> None: ...
    def progress(self, name: str, label: str, done: int, total: int | None) -> None: ...
    def log(self, message: str) -> None: ...


class QuietReporter:
    def stage(self, name: str, state: str, detail: str = "") -> None:
        pass

    def progress(self, name: str, label: str, done: int, total: int | None) -> None:
        pass

    def log(self, message: str) -> None:
        pass


@dataclass
class Stage:
    name: str
    run: Callable[[], dict]            # does the work; returns what it produced and measured
    reads: list[Path]                  # files whose bytes join the fingerprint
    outputs: Callable[[], list[Path]]  # what must exist for a done stage to be skipped
    after: list[str] = field(default_factory=list)     # stages whose fingerprints join this one
    extra: str = ""                    # settings that change the result, as text
    summary: Callable[[dict], str] = lambda info: ""   # one line for the view


def file_digest(path: Path) -> str:
    """The bytes of a file (its name too), or that it is absent."""
    import hashlib

    if not path.is_file():
        return f"absent:{path}"
    digest = hashlib.sha256(str(path).encode("utf-8"))
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


class StageLog:
    def __init__(self, path: Path):
        self.path = path

    def entries(self) -> list[dict]:
        if not self.path.exists():
            return []
        with AppendOnlyLog(self.path) as log:      # drops a torn last line
            return list(log.rows.values())

    def done(self, stage: str, fingerprint: str) -> dict | None:
        found = [e for e in self.entries() if e["stage"] == stage and e["event"] == "done"
                 and e["fingerprint"] == fingerprint]
        return found[-1] if found else None

    def append(self, entry: dict) -> None:
        entry = {"time": round(time.time(), 3), **entry}
        entry["id"] = content_id(entry["stage"], entry["event"], entry["fingerprint"],
                                 str(entry["time"]))
        with AppendOnlyLog(self.path) as log:
            log.append(entry)


def run_stages(stages: list[Stage], log: StageLog, reporter: Reporter,
               relative: Callable[[Path], str] = str,
               into: dict[str, dict] | None = None) -> dict[str, dict]:
    """Run (or skip) each stage in order; returns {stage: its done entry + `status`} (filling
    `into` as it goes, so a caller still has the finished stages when one fails). A stage that
    raises is logged as failed and the error propagates: the stages after it do not run."""
    prints: dict[str, str] = {}
    results: dict[str, dict] = {} if into is None else into
    for stage in stages:
        prints[stage.name] = content_id(stage.name, __version__, stage.extra,
                                        *[file_digest(p) for p in stage.reads],
                                        *[prints[name] for name in stage.after])
        fingerprint = prints[stage.name]
        previous = log.done(stage.name, fingerprint)
        if previous and all(Path(p).exists() for p in stage.outputs()):
            results[stage.name] = {**previous, "status": "skipped"}
            reporter.stage(stage.name, "skipped", stage.summary(previous["info"]))
            continue
        reporter.stage(stage.name, "running")
        log.append({"stage": stage.name, "event": "started", "fingerprint": fingerprint})
        started = time.monotonic()
        try:
            info = stage.run()
        except BaseException as exc:          # KeyboardInterrupt too: the log says where it stopped
            log.append({"stage": stage.name, "event": "failed", "fingerprint": fingerprint,
                        "error": f"{type(exc).__name__}: {exc}"})
            reporter.stage(stage.name, "failed", str(exc).splitlines()[0] if str(exc) else "")
            raise
        entry = {"stage": stage.name, "event": "done", "fingerprint": fingerprint,
                 "seconds": round(time.monotonic() - started, 1),
                 "outputs": [relative(p) for p in stage.outputs()], "info": info}
        log.append(entry)
        results[stage.name] = {**entry, "status": "ran"}
        reporter.stage(stage.name, "done", stage.summary(info))
    return results
