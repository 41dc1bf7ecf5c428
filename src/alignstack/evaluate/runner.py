"""`alignstack eval`: several systems side by side on the same external prompts, judged by judges
that never saw our training data; answers cached so re-runs are cheap and resumable.

Runs the suites' dev split; `final=True` (`alignstack eval --final`) runs the sealed test split
instead, writes under `<output_dir>-final` and appends one line to the ledger (ledger.py).

Writes under output_dir: items.jsonl (the prompts), cache/ (generations + one answer log per
system fingerprint; `cache_dir` lets several eval configs share one), judged.jsonl (every answer
with its judgements), results.json, report.html.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from alignstack.core.errors import ConfigError
from alignstack.core.principles import load_constitution
from alignstack.core.records import QA, AppendOnlyLog, degenerate, write_json, write_jsonl
from alignstack.evaluate.config import EvalConfig, JudgeSpec, SystemSpec
from alignstack.evaluate.scoring import (against_baseline, changed, omega, outcome_omega,
                                         system_metrics)
from alignstack.evaluate.systems import build_stack, system_fingerprint

Log = Callable[[str], None]


def load_items(cfg: EvalConfig, split: str = "dev") -> list[dict]:
    """The config's suites, on one side of the dev/test split (test only for `--final`)."""
    from alignstack.evaluate.suites import load_suite

    if split not in ("dev", "test"):
        raise ConfigError(f"an eval runs the dev split, or the test split with --final; "
                          f"not '{split}'", field="split")
    items: list[dict] = []
    for spec in cfg.suites:
        suite = load_suite(spec.name, limit=spec.limit, seed=cfg.seed, path=spec.path,
                           split=split, **spec.options)
        items += [i.model_dump() for i in suite]
    seen: set[str] = set()
    unique = [i for i in items if not (i["id"] in seen or seen.add(i["id"]))]
    return unique


def answer_system(spec: SystemSpec, cfg: EvalConfig, items: list[dict], generations: AppendOnlyLog,
                  log: Log = print, advance: Callable[[int], None] | None = None) -> dict[str, dict]:
    """Answer every item with one system, resuming from its log; returns {item id: row}."""
    path = cfg.cache_path / f"answers-{spec.name}-{system_fingerprint(spec, cfg)}.jsonl"
    with AppendOnlyLog(path) as answers:
        todo = [i for i in items if i["id"] not in answers]
        if advance:
            advance(len(items) - len(todo))
        if todo:
            log(f"{spec.name}: {len(todo)} to answer ({len(items) - len(todo)} cached)")
            if cfg.executor == "ray":
                from alignstack.evaluate.ray_executor import answer_with_ray

                stream = answer_with_ray(spec, cfg, todo)
            else:
                stream = _answer_local(spec, cfg, todo, generations)
            for row in stream:
                answers.append(row)
                if advance:
                    advance(1)
        return {i["id"]: answers.rows[i["id"]] for i in items}


def _answer_local(spec: SystemSpec, cfg: EvalConfig, todo: list[dict], generations: AppendOnlyLog):
    stack = build_stack(spec, cfg, generations)
    chunk = cfg.batch_size * 2
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]
        for item, res in zip(part, stack.answer([i["prompt"] for i in part])):
            yield stack_row(item["id"], res)


def stack_row(item_id: str, res) -> dict:
    """What the answer log keeps per item (StackResult may carry more, e.g. inspector scores)."""
    row = {"id": item_id, **res.to_dict()}
    row.pop("question", None)
    return row


class JudgePool:
    """Judges built from the config, one instance per (name, options), loaded on first use."""

    def __init__(self, cfg: EvalConfig):
        self.cfg = cfg
        self._made: dict[str, object] = {}

    def get(self, spec: JudgeSpec):
        from alignstack.evaluate.judges.base import load_judge

        key = json.dumps([spec.name, spec.options], sort_keys=True)
        if key not in self._made:
            self._made[key] = load_judge(spec.name, **spec.options)
        return self._made[key]

    def for_expectation(self, expected: str):
        spec = self.cfg.judge_for(expected)
        judge = self.get(spec)
        decides = getattr(judge, "good_labels", {})
        good = decides.get(expected)
        if not good:
            raise ConfigError(f"judge '{spec.name}' cannot decide expectation '{expected}' "
                              f"(it decides: {', '.join(decides) or 'none'})",
                              field=f"judges.{expected}")
        return spec.name, judge, good


def _qa(item: dict, answer: str) -> QA:
    extra = {"claim": item["claim"]} if item.get("claim") else {}
    return QA(question=item["prompt"], answer=answer, **extra)


# the requests the harm judge reads answers to (harm_rate counts the "refuse" ones)
HARM_JUDGED = ("refuse", "support")


def judge_answers(items: list[dict], answers: dict[str, dict[str, dict]],
                  has_corrector: dict[str, bool], judges: JudgePool,
                  log: Log = print) -> list[dict]:
    """One judged row per (system, item): `refused` (the refusal judge on every final answer: the
    over-refusal metric and the report), `good` (the item's expectation met, as decided by the
    judge the config names for that expectation), `harmful` (the harm judge, on answers to
    harmful requests; None elsewhere or without a harm judge), `degenerate` (empty or looping:
    never good, never "kept intact")."""
    refusal = judges.get(JudgeSpec(name="refusal"))
    harm_spec = judges.cfg.harm_judge_spec()
    harm = judges.get(harm_spec) if harm_spec else None
    harm_items = [i for i in items if i["expected"] in HARM_JUDGED] if harm else []
    by_expected: dict[str, list[dict]] = {}
    for item in items:
        by_expected.setdefault(item["expected"], []).append(item)
    deciders = {e: judges.for_expectation(e) for e in by_expected}
    rows: list[dict] = []
    for system, by_id in answers.items():
        started = time.monotonic()
        finals = {i["id"]: by_id[i["id"]]["final"] for i in items}
        refused = {i["id"]: j for i, j in zip(items, refusal.judge(
            [_qa(i, finals[i["id"]]) for i in items]))}
        harmful: dict[str, bool] = {}
        if harm_items:
            harmful = {i["id"]: j.label == "harmful" for i, j in zip(harm_items, harm.judge(
                [_qa(i, finals[i["id"]]) for i in harm_items],
                refused=[refused[i["id"]].label == "refusal" for i in harm_items]))}
        verdicts: dict[str, tuple[str, str]] = {}
        for expected, group in by_expected.items():
            name, judge, _ = deciders[expected]
            labels = ([refused[i["id"]].label for i in group] if judge is refusal else
                      [j.label for j in judge.judge([_qa(i, finals[i["id"]]) for i in group])])
            verdicts.update({i["id"]: (name, label) for i, label in zip(group, labels)})
        for item in items:
            row, final = by_id[item["id"]], finals[item["id"]]
            name, label = verdicts[item["id"]]
            broken = degenerate(final) or row.get("outcome") in ("empty", "looped")
            rows.append({
                "system": system, "id": item["id"], "suite": item["suite"],
                "category": item["category"], "dimension": item["dimension"],
                "expected": item["expected"], "prompt": item["prompt"],
                "answer": row["answer"], "final": final,
                "corrected": changed(row["answer"], final) if has_corrector[system] else None,
                "outcome": row.get("outcome"),
                "has_corrector": has_corrector[system],
                "skipped": (row.get("skipped") if row.get("score") is not None
                            and has_corrector[system] else None),
                "refused": refused[item["id"]].label == "refusal",
                "refusal_score": refused[item["id"]].score,
                "harmful": harmful.get(item["id"]),
                "judge": name, "label": label, "degenerate": broken,
                "good": label in deciders[item["expected"]][2] and not broken,
            })
        log(f"judged {system} in {time.monotonic() - started:.1f}s")
    return rows


def pairwise_win_rates(cfg: EvalConfig, items: list[dict], answers: dict[str, dict[str, dict]],
                       log: Log = print) -> dict:
    """LLM-as-judge, A/B/Equal with position swapping, each system against the baseline."""
    from alignstack.backends.base import open_backend
    from alignstack.evaluate.judges.pairwise import PairwiseJudge

    spec = cfg.pairwise
    judge = PairwiseJudge(open_backend(spec.backend, spec.model, base_url=spec.base_url,
                                       batch_size=cfg.batch_size), criteria=spec.criteria)
    chosen = items[:spec.max_items] if spec.max_items else items
    base = answers[cfg.baseline]
    out = {}
    for system in answers:
        if system == cfg.baseline:
            continue
        started = time.monotonic()
        verdicts = judge.compare([i["prompt"] for i in chosen],
                                 [answers[system][i["id"]]["final"] for i in chosen],
                                 [base[i["id"]]["final"] for i in chosen])
        out[system] = {**omega(verdicts), "judge": f"{spec.backend}:{spec.model}",
                       "stats": dict(getattr(judge, "stats", {}))}
        log(f"pairwise {system} vs {cfg.baseline}: {time.monotonic() - started:.0f}s")
    return out


def fixed_points(cfg: EvalConfig, log: Log = print, split: str = "dev") -> dict:
    """Per system with a corrector: the share of good answers its stack serves unchanged (through
    its gates and its exit; cached per system fingerprint, like its answers). A set named in
    `sealed` is measured on its `split` half only (its label says which)."""
    from alignstack.evaluate.fixed_point import (fixed_point_items, fixed_point_rate,
                                                 good_answer_items)
    from alignstack.evaluate.suites.base import split_of

    spec_fp = cfg.fixed_point
    unknown = sorted(set(spec_fp.sealed) - set(spec_fp.also))
    if unknown:
        raise ConfigError(f"sealed names a set not in `also`: {', '.join(unknown)}",
                          field="fixed_point.sealed")
    main = fixed_point_items(spec_fp.file, spec_fp.kinds)
    also = {}
    for name, path in spec_fp.also.items():
        items = good_answer_items(path)
        if name in spec_fp.sealed:
            name, items = f"{name}-{split}", [i for i in items if split_of(i.question) == split]
        also[name] = items
    out = {}
    for spec in cfg.systems:
        if not spec.corrector:
            continue
        fingerprint = system_fingerprint(spec, cfg)
        stack = None

        def measure(label: str, items: list) -> dict:
            nonlocal stack
            path = cfg.cache_path / f"fixed-point-served-{label}{spec.name}-{fingerprint}.json"
            if path.exists():
                return json.loads(path.read_text(encoding="utf-8"))
            stack = stack or build_stack(spec, cfg)     # what is served: the exit included
            result = fixed_point_rate(stack, items)
            write_json(path, result)
            log(f"fixed point {label}{spec.name}: {result['rate']:.0%} of {len(items)} unchanged")
            return result

        out[spec.name] = measure("", main)
        if also:
            out[spec.name]["also"] = {name: measure(f"{name}-", items)
                                      for name, items in also.items()}
    return out


def worst_examples(rows: list[dict], baseline: str, limit: int) -> dict[str, list[dict]]:
    """Per system: regressions against the baseline first, then items it still gets wrong."""
    base = {r["id"]: r for r in rows if r["system"] == baseline}
    out: dict[str, list[dict]] = {}
    for system in dict.fromkeys(r["system"] for r in rows):
        mine = [r for r in rows if r["system"] == system]
        if system != baseline:
            bad = sorted((r for r in mine if not r["good"]),
                         key=lambda r: (not base[r["id"]]["good"], r["suite"], r["id"]))
        else:
            bad = [r for r in mine if not r["good"]]
        out[system] = [{"suite": r["suite"], "category": r["category"], "expected": r["expected"],
                        "prompt": r["prompt"], "baseline": base[r["id"]]["final"],
                        "answer": r["final"], "regression": base[r["id"]]["good"]}
                       for r in bad[:limit]]
    return out


def run_eval(cfg: EvalConfig, log: Log = print,
             advance_factory: Callable[[str, int], Callable[[int], None]] | None = None, *,
             final: bool = False, config_file: str | None = None) -> dict:
    """Every system on the suites' dev split; `final`: on the sealed test split, under
    `<output_dir>-final`, logged as one more line of the ledger (`cfg.ledger`)."""
    split = "test" if final else "dev"
    out = Path(f"{cfg.output_dir}-final" if final else cfg.output_dir)
    started = time.monotonic()
    items = load_items(cfg, split)
    if not items:
        raise ConfigError(f"no prompts on the {split} split of the configured suites",
                          field="suites")
    write_jsonl(out / "items.jsonl", items)
    log(f"{len(items)} prompts from {len(cfg.suites)} suites ({split} split)")
    answers: dict[str, dict[str, dict]] = {}
    timings: dict[str, float] = {}
    with AppendOnlyLog(cfg.cache_path / "generations.jsonl") as generations:
        for spec in cfg.systems:
            t0 = time.monotonic()
            advance = advance_factory(spec.name, len(items)) if advance_factory else None
            answers[spec.name] = answer_system(spec, cfg, items, generations, log, advance)
            timings[f"answer_{spec.name}_s"] = round(time.monotonic() - t0, 1)
    t0 = time.monotonic()
    has_corrector = {s.name: bool(s.corrector or s.squad) for s in cfg.systems}
    rows = judge_answers(items, answers, has_corrector, JudgePool(cfg), log)
    timings["judge_s"] = round(time.monotonic() - t0, 1)
    write_jsonl(out / "judged.jsonl", rows)

    constitution = load_constitution(cfg.principles_file)
    dims = {p.id: list(p.dimensions) for p in constitution.principles}
    results: dict = {
        "config": cfg.model_dump(), "split": split, "n_items": len(items),
        "suites": {s.name: sum(i["suite"] == s.name for i in items) for s in cfg.suites},
        "systems": {}, "against_baseline": {}, "outcome_win_rate": {}, "worst_examples": {},
    }
    by_system = {s.name: [r for r in rows if r["system"] == s.name] for s in cfg.systems}
    for spec in cfg.systems:
        results["systems"][spec.name] = system_metrics(by_system[spec.name], dims)
    base = {r["id"]: r["good"] for r in by_system[cfg.baseline]}
    for spec in cfg.systems:
        if spec.name != cfg.baseline:
            mine = by_system[spec.name]
            results["against_baseline"][spec.name] = against_baseline(mine,
                                                                      by_system[cfg.baseline])
            results["outcome_win_rate"][spec.name] = outcome_omega(
                [r["good"] for r in mine], [base[r["id"]] for r in mine])
    if cfg.pairwise:
        t0 = time.monotonic()
        results["pairwise_win_rate"] = pairwise_win_rates(cfg, items, answers, log)
        timings["pairwise_s"] = round(time.monotonic() - t0, 1)
    if cfg.fixed_point:
        t0 = time.monotonic()
        results["fixed_point"] = fixed_points(cfg, log, split)
        timings["fixed_point_s"] = round(time.monotonic() - t0, 1)
    if cfg.contamination_files:
        from alignstack.evaluate.contamination import contamination_report, resolve_training_files

        results["contamination"] = contamination_report(
            [i["prompt"] for i in items], resolve_training_files(cfg.contamination_files))
    results["worst_examples"] = worst_examples(rows, cfg.baseline, cfg.worst_examples)
    timings["total_s"] = round(time.monotonic() - started, 1)
    results["timings"] = timings
    write_json(out / "results.json", results)
    from alignstack.evaluate.report import write_report

    write_report(results, out / "report.html")
    log(f"wrote {out / 'results.json'} and {out / 'report.html'}")
    if final:
        from alignstack.evaluate.ledger import append_entry, ledger_entry

        path = append_entry(ledger_entry(results, config_file=config_file), cfg.ledger)
        log(f"final run on the sealed test split logged in {path}")
    return results
