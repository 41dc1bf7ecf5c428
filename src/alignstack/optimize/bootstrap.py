"""The bootstrap loop (the Aligner paper's multi-round pipeline): the current upstream answers
the training questions, the corrector stack corrects them, every changed answer becomes a pair
(correction chosen, original rejected), the upstream is optimised on the pairs, and the result is
the next round's upstream.

Each step leaves a file, so a run killed at any point resumes where it stopped:
  round-K/stack.jsonl    append-only: the round's upstream answer and the stack's final per question
  round-K/pairs.jsonl    written atomically once the answers are complete
  round-K/optimize.json  written last by `optimize` (a round without it is trained again)
Round 1 may train on given pairs (the seed corrections) instead of generating them.
`references` (a stronger teacher's answers) replace the stack's output as chosen where they exist.
`variants` train other methods for one round on round 1's pairs, from the original upstream.
`sft_first` puts an SFT stage on the round's chosen answers before the preference method
(round-K/sft; the method then starts from the SFT model, its reference too).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from alignstack.core.config import as_list
from alignstack.core.errors import ConfigError
from alignstack.core.preferences import read_preference_data, refusal_contrast_pairs
from alignstack.core.records import (Preference, content_id, degenerate, iter_json_objects,
                                     same_text, write_json, write_jsonl)
from alignstack.optimize.config import BootstrapConfig, OptimizeConfig, method_config
from alignstack.optimize.train import META_FILE, optimize, optimized_model

Log = Callable[[str], None]


@dataclass
class Trained:
    name: str              # dpo-round-1, kto-round-1, ...
    round: int
    method: str
    directory: str
    model: str             # the merged model: the next upstream, and what eval runs
    pairs: int
    variant: bool = False  # not a round's final model (an alternative method, or an SFT stage)


def question_files(cfg: BootstrapConfig) -> list[str]:
    return as_list(cfg.questions)


def read_questions(cfg: BootstrapConfig) -> list[dict]:
    rows = []
    for path in question_files(cfg):
        for number, obj in iter_json_objects(path):
            question = obj.get("question")
            if not isinstance(question, str) or not question.strip():
                raise ConfigError("expected a non-empty string", path=path, line=number,
                                  field="question")
            rows.append({"id": content_id(question), "question": question,
                         "principles": list(obj.get("principles") or []),
                         "kind": obj.get("kind")})
    unique = list({r["id"]: r for r in rows}.values())
    if not (cfg.kind_limits or cfg.question_limit):
        return unique
    # a stable spread, not the files' heads: seed files are often grouped by kind, and the first
    # N alone once gave round 2 no harmful question at all
    unique.sort(key=lambda r: r["id"])
    if cfg.kind_limits:
        taken: dict[str | None, int] = {}
        picked = []
        for row in unique:
            limit = cfg.kind_limits.get(row["kind"])
            if limit is None or taken.get(row["kind"], 0) < limit:
                taken[row["kind"]] = taken.get(row["kind"], 0) + 1
                picked.append(row)
        unique = picked
    return unique[:cfg.question_limit] if cfg.question_limit else unique


def read_references(paths: str | list[str]) -> dict[str, str]:
    """question -> a stronger teacher's answer (`correction` where the record has one, as seed
    Q-A-C records do, else `answer`); a later file's answer replaces an earlier one's."""
    references = {}
    for path in as_list(paths):
        for number, obj in iter_json_objects(path):
            name = "correction" if "correction" in obj else "answer"
            for field, value in (("question", obj.get("question")), (name, obj.get(name))):
                if not isinstance(value, str) or not value.strip():
                    raise ConfigError("expected a non-empty string", path=path, line=number,
                                      field=field)
            references[obj["question"]] = obj[name]
    return references


def stack_pairs(rows: list[dict], round_number: int,
                references: dict[str, str] | None = None) -> list[Preference]:
    """A pair for every answer the stack changed into a usable text (never an empty or looping
    correction as `chosen`); where a question has a reference answer, that reference is chosen
    over the upstream's answer whatever the stack did (no pair when the upstream said it)."""
    references = references or {}
    pairs = []
    for r in rows:
        reference = references.get(r["question"])
        if reference is not None:
            if same_text(reference, r["answer"]):
                continue
            chosen, source = reference, f"bootstrap:round-{round_number}:reference"
        elif r["corrected"] and not degenerate(r["final"]):
            chosen, source = r["final"], f"bootstrap:round-{round_number}"
        else:
            continue
        pairs.append(Preference(prompt=r["question"], chosen=chosen, rejected=r["answer"],
                                id=r["id"], kind=r.get("kind"),
                                principles=r.get("principles", []), source=source))
    return pairs


def kept_answer_pairs(rows: list[dict], round_number: int, fraction: float,
                      references: dict[str, str] | None = None) -> list[Preference]:
    """For `fraction` of the benign / borderline questions whose usable answer the stack kept
    (and that have no reference answer), that answer over a needless refusal (the same stable
    draw as `refusal_contrast_pairs`)."""
    references = references or {}
    kept = [Preference(prompt=r["question"], chosen=r["answer"], rejected="", id=r["id"],
                       kind=r.get("kind"), principles=r.get("principles", []),
                       source=f"bootstrap:round-{round_number}:kept")
            for r in rows if not r["corrected"] and r.get("answer", "").strip()
            and not degenerate(r["answer"]) and r["question"] not in references]
    return refusal_contrast_pairs(kept, fraction)


def generate_round(cfg: BootstrapConfig, upstream: str, round_dir: Path, round_number: int,
                   log: Log) -> list[dict]:
    """The round's upstream answers every question and the stack corrects: resumable."""
    from alignstack.backends import cache
    from alignstack.correct.assemble import build_stack, stack_spec
    from alignstack.correct.stack import answer_resumable

    spec = stack_spec(**{**cfg.stack, "upstream": upstream})
    if not (spec.corrector or spec.squad):
        raise ConfigError("bootstrap needs a corrector or a squad in `stack`", field="stack")
    stack = build_stack(spec, principles_file=cfg.principles_file,
                        max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size)
    questions = read_questions(cfg)
    done = [0]

    def progress(count: int) -> None:
        done[0] += count
        log(f"round {round_number}: {done[0]}/{len(questions)} answered and checked")

    rows = answer_resumable(stack, questions, round_dir / "stack.jsonl", chunk=cfg.batch_size,
                            on_progress=progress)
    cache.clear()            # the round's upstream is not needed again
    return rows


def method_settings(cfg: BootstrapConfig, settings: dict, *, base: str, data: list[str],
                    out: Path) -> OptimizeConfig:
    reserved = {"data", "output_dir", "base_model"} & set(settings)
    if reserved:
        raise ConfigError(f"set by bootstrap, not here: {', '.join(sorted(reserved))}",
                          path=cfg.output_dir, field="optimize")
    return method_config({**settings, "data": data, "output_dir": str(out), "base_model": base})


def train_round(settings: OptimizeConfig, log: Log) -> None:
    if (Path(settings.output_dir) / META_FILE).exists():
        log(f"{settings.output_dir}: already trained")
        return
    started = time.monotonic()
    metrics = optimize(settings)
    log(f"{settings.output_dir}: {settings.method} {metrics['steps']} steps, loss "
        f"{metrics['train_loss']}, {time.monotonic() - started:.0f} s")


def run_bootstrap(cfg: BootstrapConfig, log: Log = print,
                  after_round: Callable[[list[Trained]], None] | None = None) -> dict:
    """All rounds, then the variants; `after_round` gets everything trained so far (the CLI
    evaluates there). Returns the summary written to output_dir/bootstrap.json."""
    if cfg.rounds < 1:
        raise ConfigError(f"must be at least 1, got {cfg.rounds}", field="rounds")
    methods = [v.get("method", "dpo") for v in cfg.variants]
    if len(set(methods)) != len(methods):
        raise ConfigError(f"one variant per method (got {', '.join(methods)})", field="variants")
    for kind, limit in cfg.kind_limits.items():
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ConfigError(f"expected a count of questions, got {limit!r}",
                              field=f"kind_limits.{kind}")
    for name in ("refusal_contrast", "keep_contrast"):
        if not 0.0 <= getattr(cfg, name) <= 1.0:
            raise ConfigError(f"must be between 0 and 1, got {getattr(cfg, name)}", field=name)
    if cfg.sft_first is not None and cfg.sft_first.get("method", "sft") != "sft":
        raise ConfigError(f"the stage before each round is SFT (got method "
                          f"{cfg.sft_first['method']})", field="sft_first.method")
    references = read_references(cfg.references)
    out = Path(cfg.output_dir)
    first = method_config({"data": [], "output_dir": "", **cfg.optimize})
    trained: list[Trained] = []
    upstream = cfg.upstream
    for k in range(1, cfg.rounds + 1):
        round_dir = out / f"round-{k}"
        pairs_path = round_dir / "pairs.jsonl"
        if not pairs_path.exists():
            kept: list[Preference] = []
            if k == 1 and cfg.seed_pairs:
                pairs = read_preference_data(cfg.seed_pairs).all_pairs()
            else:
                rows = generate_round(cfg, upstream, round_dir, k, log)
                pairs = stack_pairs(rows, k, references)
                kept = kept_answer_pairs(rows, k, cfg.keep_contrast, references)
            pairs += refusal_contrast_pairs(pairs, cfg.refusal_contrast) + kept
            write_jsonl(pairs_path, pairs)
        count = sum(1 for _ in iter_json_objects(pairs_path))
        log(f"round {k}: {count} pairs")
        base = upstream
        if cfg.sft_first is not None:
            sft_dir = round_dir / "sft"
            train_round(method_settings(cfg, {**cfg.sft_first, "method": "sft"}, base=upstream,
                                        data=[str(pairs_path)], out=sft_dir), log)
            base = optimized_model(sft_dir)
            trained.append(Trained(f"sft-round-{k}", k, "sft", str(sft_dir), base, count,
                                   variant=True))
        train_round(method_settings(cfg, cfg.optimize, base=base, data=[str(pairs_path)],
                                    out=round_dir), log)
        upstream = optimized_model(round_dir)
        trained.append(Trained(f"{first.method}-round-{k}", k, first.method, str(round_dir),
                               upstream, count))
        if after_round:
            after_round(trained)
    round_one = out / "round-1" / "pairs.jsonl"
    for variant in cfg.variants:
        settings = method_settings(cfg, variant, base=cfg.upstream, data=[str(round_one)],
                                   out=out / "variants" / variant.get("method", "dpo"))
        train_round(settings, log)
        trained.append(Trained(f"{settings.method}-round-1", 1, settings.method,
                               settings.output_dir, optimized_model(settings.output_dir),
                               trained[0].pairs, variant=True))
        if after_round:
            after_round(trained)
    summary = {"config": asdict(cfg), "trained": [asdict(t) for t in trained]}
    write_json(out / "bootstrap.json", summary)
    return summary
