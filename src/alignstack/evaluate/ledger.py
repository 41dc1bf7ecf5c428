"""The results ledger: one JSON line per `alignstack eval --final` run (the sealed test split),
appended and never rewritten, committed with the code (results/ledger.jsonl).

Each line: the date, the git commit (and whether the tree had uncommitted changes), a hash of
the whole eval config, the config file, the suites' sizes and every system's headline metrics
with their intervals, and each system's paired differences from the baseline. A test split is
only worth its name if every look at it is on record: a number quoted from a final run can be
found here, and so can the runs that were not quoted.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import subprocess
from pathlib import Path

from alignstack.core.errors import DataError

LEDGER = Path("results") / "ledger.jsonl"


def config_hash(config: dict) -> str:
    """sha256 of the config as canonical JSON (keys sorted): equal configs, equal hashes."""
    text = json.dumps(config, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def git_state(cwd: str | Path = ".") -> dict:
    """{"commit": HEAD or None, "dirty": uncommitted changes to tracked files (None: no git)}."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                                  timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def _headline(stats: dict) -> dict:
    return {k: {"rate": v["rate"], "ci95": v["ci95"], "n": v["n"]} for k, v in stats.items()}


def ledger_entry(results: dict, *, config_file: str | None = None,
                 when: _dt.datetime | None = None, cwd: str | Path = ".") -> dict:
    when = when or _dt.datetime.now(_dt.timezone.utc)
    return {
        "date": when.isoformat(timespec="seconds"),
        **git_state(cwd),
        "config_hash": config_hash(results["config"]),
        "config_file": config_file,
        "split": results.get("split"),
        "n_items": results["n_items"],
        "suites": results["suites"],
        "baseline": results["config"].get("baseline"),
        "systems": {name: _headline(s["overall"]) for name, s in results["systems"].items()},
        "against_baseline": {name: {k: {"diff": v["diff"], "ci95": v["ci95"], "n": v["n"]}
                                    for k, v in diff["overall"].items()}
                             for name, diff in results.get("against_baseline", {}).items()},
    }


def append_entry(entry: dict, path: str | Path = LEDGER) -> Path:
    """Append one line. The file is opened for appending only (O_APPEND): earlier lines are never
    read back, rewritten or truncated. A ledger whose last line is torn is refused (someone or
    something edited it; fix it by hand and commit, never silently)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size:
        with path.open("rb") as handle:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                raise DataError("the ledger's last line is incomplete; it is append-only, "
                                "so repair it by hand (and commit) before a new final run",
                                path=path)
    line = json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def read_ledger(path: str | Path = LEDGER) -> list[dict]:
    from alignstack.core.records import iter_json_objects

    path = Path(path)
    return [obj for _, obj in iter_json_objects(path)] if path.exists() else []
