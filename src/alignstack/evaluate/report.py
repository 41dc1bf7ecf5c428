"""results.json -> report.html: one self-contained page (inline SVG plots from matplotlib, inline
CSS, no scripts or external resources), so it opens anywhere and can be archived as is."""

from __future__ import annotations

import html
import io
from pathlib import Path

from alignstack.core.records import atomic_open

METRICS = [("safe_rate", "harmful prompts refused (refusal judge)", True),
           ("harm_rate", "harmful prompts answered with harmful content (harm judge)", False),
           ("over_refusal_rate", "benign prompts refused", False),
           ("honesty_rate", "false claims corrected", True),
           ("non_toxic_rate", "toxic openings not continued toxically", True),
           ("supportive_rate", "people seeking help pointed to it", True),
           ("identity_preservation", "benign answers left intact", True),
           ("degenerate_rate", "empty or looping outputs", False),
           ("looped_correction_rate", "corrections that looped or came back empty", False)]
LABELS = {m: label for m, label, _ in METRICS}
SHORT = {"safe_rate": "safe", "over_refusal_rate": "refused", "honesty_rate": "corrected",
         "non_toxic_rate": "non-toxic",
         "supportive_rate": "supportive"}

CSS = """body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}td,th{border:1px solid #ccc;
padding:.3rem .5rem;vertical-align:top;text-align:left}th{background:#f3f3f3}
.ex td{max-width:420px;white-space:pre-wrap}.good{color:#186a3b}.bad{color:#a93226}
figure{margin:1rem 0}figcaption{font-size:.85rem;color:#555}.note{color:#555;font-size:.9rem}"""


def _svg(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _bars(groups: list[str], series: dict[str, list[dict | None]], value_key: str, title: str,
          ylabel: str, ylim: tuple[float, float] = (0, 1)) -> str:
    """Grouped bars (one colour per system) with 95 % CI error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width = 0.8 / max(1, len(series))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(groups) * max(1, len(series)) * 0.6), 3.6))
    for k, (name, stats) in enumerate(series.items()):
        xs, ys, lo, hi = [], [], [], []
        for g, s in enumerate(stats):
            if s is None:
                continue
            xs.append(g + (k - (len(series) - 1) / 2) * width)
            ys.append(s[value_key])
            lo.append(max(0.0, s[value_key] - s["ci95"][0]))
            hi.append(max(0.0, s["ci95"][1] - s[value_key]))
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, label=name)
    ax.set_xticks(range(len(groups)))
    tilt = len(groups) > 4 or max((len(g) for g in groups), default=0) > 18
    ax.set_xticklabels(groups, rotation=25 if tilt else 0, ha="right" if tilt else "center", fontsize=8)
    ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.axhline(0, color="#888", linewidth=0.6)
    ax.legend(fontsize=8)
    return _svg(fig)


def _category_metric(stats: dict) -> tuple[str, dict] | None:
    for metric in SHORT:
        if metric in stats:
            return metric, stats[metric]
    return None


def _pct(s: dict | None) -> str:
    if not s:
        return "—"
    return f"{100 * s['rate']:.0f}% [{100 * s['ci95'][0]:.0f}, {100 * s['ci95'][1]:.0f}] (n={s['n']})"


def _split(results: dict) -> str:
    split = results.get("split")
    return {"test": "test (sealed; a --final run, logged in the ledger)",
            "dev": "dev"}.get(split, "unsplit")


def _diff(d: dict | None) -> str:
    if not d:
        return "—"
    lo, hi = d["ci95"]
    sure = lo > 0 or hi < 0
    text = f"{100 * d['diff']:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]"
    return f"<b>{text}</b>" if sure else text


def _differences(results: dict, systems: list[str]) -> str:
    """Each system minus the baseline, per headline metric, in points, paired 95 % CI (bold when
    the interval excludes 0)."""
    diffs = results.get("against_baseline") or {}
    others = [s for s in systems if s in diffs]
    if not others:
        return ""
    rows = []
    for metric, label, higher in METRICS:
        cells = [diffs[s]["overall"].get(metric) for s in others]
        if any(cells):
            better = "higher is better" if higher else "lower is better"
            rows.append(f"<tr><td>{html.escape(label)} <i>({better})</i></td>"
                        + "".join(f"<td>{_diff(c)}</td>" for c in cells) + "</tr>")
    return ("<h2>Difference from the baseline (same prompts)</h2><table><tr><th>metric "
            "(points)</th>" + "".join(f"<th>{html.escape(s)}</th>" for s in others) + "</tr>"
            + "".join(rows) + "</table><p class='note'>Paired bootstrap over prompts (both "
            "systems' outcomes on a prompt resampled together); where no prompt differs, "
            "Newcombe's paired score interval. Bold: the interval excludes 0.</p>")


def _omega(s: dict) -> str:
    return (f"{s['omega']:+.2f} [{s['ci95'][0]:+.2f}, {s['ci95'][1]:+.2f}] "
            f"(W{s['win']}/L{s['loss']}/T{s['tie']})")


def render(results: dict) -> str:
    esc = html.escape
    systems = list(results["systems"])
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>alignstack eval</title>"
             f"<style>{CSS}</style></head><body><h1>alignstack evaluation</h1>",
             f"<p class='note'>{results['n_items']} prompts: "
             + ", ".join(f"{esc(k)} {v}" for k, v in results["suites"].items())
             + f". Split: <b>{esc(_split(results))}</b>. Baseline: "
             f"<b>{esc(results['config']['baseline'])}</b>. Rates: Wilson 95 % intervals; "
             "differences from the baseline: paired bootstrap 95 % CIs over the same prompts.</p>"]

    parts.append("<h2>Headline metrics</h2><table><tr><th>metric</th>"
                 + "".join(f"<th>{esc(s)}</th>" for s in systems) + "</tr>")
    for metric, label, _ in METRICS:
        cells = [results["systems"][s]["overall"].get(metric) for s in systems]
        if any(cells):
            parts.append(f"<tr><td>{esc(label)}</td>" + "".join(f"<td>{_pct(c)}</td>" for c in cells) + "</tr>")
    if any(results["systems"][s].get("skipped_share") for s in systems):
        parts.append("<tr><td>answers the inspector passed untouched</td>" + "".join(
            f"<td>{_pct(results['systems'][s].get('skipped_share'))}</td>" for s in systems) + "</tr>")
    fixed = results.get("fixed_point") or {}
    if fixed:
        parts.append("<tr><td>good answers returned unchanged (fixed point)</td>" + "".join(
            f"<td>{_pct(fixed.get(s))}</td>" for s in systems) + "</tr>")
        for name in sorted({n for r in fixed.values() for n in r.get("also", {})}):
            parts.append(f"<tr><td>good answers returned unchanged ({esc(name)})</td>" + "".join(
                f"<td>{_pct((fixed.get(s) or {}).get('also', {}).get(name))}</td>"
                for s in systems) + "</tr>")
    parts.append("</table>")
    if any("harm_rate" in results["systems"][s]["overall"] for s in systems):
        parts.append("<p class='note'>Two views of the harmful prompts: how many were refused, "
                     "and how many answers carry harmful content (the harm judge: a refusal is "
                     "harmless; otherwise demeaning, threatening or inciting sentences, severe "
                     "words, or operational steps). Its agreement with people is in `alignstack "
                     "judges validate`; it was tuned on one labelled harmful answer and misses "
                     "most on the test half, so read the harm rate as a floor.</p>")
    present = [(m, l) for m, l, _ in METRICS if any(m in results["systems"][s]["overall"] for s in systems)]
    parts.append("<figure id='plot-overall'>" + _bars(
        [l for _, l in present],
        {s: [results["systems"][s]["overall"].get(m) for m, _ in present] for s in systems},
        "rate", "Headline metrics per system", "rate") + "<figcaption>Over-refusal: lower is better; "
        "the others: higher is better.</figcaption></figure>")

    categories = sorted({c for s in systems for c in results["systems"][s]["per_category"]})
    picked = {c: _category_metric(results["systems"][systems[0]]["per_category"][c]) for c in categories}
    cats = [c for c in categories if picked[c]]
    parts.append("<h2>Per category</h2><figure id='plot-categories'>" + _bars(
        [f"{c} ({SHORT[picked[c][0]]})" for c in cats],
        {s: [results["systems"][s]["per_category"].get(c, {}).get(picked[c][0]) for c in cats]
         for s in systems}, "rate", "Main metric per suite/category", "rate")
        + "<figcaption>Each category shows the metric its expectation defines (safe, refused or "
          "corrected).</figcaption></figure>")

    parts.append(_differences(results, systems))

    wins = results.get("outcome_win_rate", {})
    pair = results.get("pairwise_win_rate", {})
    if wins:
        series = {"outcome (judges)": [wins.get(s) for s in wins]}
        if pair:
            series["pairwise LLM judge"] = [pair.get(s) for s in wins]
        parts.append("<h2>Win rate ω against the baseline</h2><figure id='plot-winrate'>"
                     + _bars(list(wins), series, "omega", "ω = (wins − losses) / n", "ω", (-1, 1))
                     + "</figure><table><tr><th>system</th><th>outcome ω</th><th>pairwise ω</th></tr>"
                     + "".join(f"<tr><td>{esc(s)}</td><td>{_omega(w)}</td>"
                               f"<td>{_omega(pair[s]) if s in pair else '—'}</td></tr>"
                               for s, w in wins.items()) + "</table>")

    contamination = results.get("contamination")
    if contamination:
        ng, em = contamination["ngram"], contamination["embedding"]
        parts.append(f"<h2>Contamination check</h2><p>Against {esc(', '.join(contamination['train_files']))}: "
                     f"{ng['contaminated']} of {contamination['n_eval']} prompts share a word "
                     f"{ng['n']}-gram with the training data; {em['above']} have a training question "
                     f"with cosine ≥ {em['threshold']} (max {em['max']:.2f}, mean nearest "
                     f"{em['mean_nearest']:.2f}).</p><table><tr><th>eval prompt</th><th>nearest "
                     "training question</th><th>cosine</th></tr>"
                     + "".join(f"<tr><td>{esc(p['eval'][:200])}</td><td>{esc(p['train'][:200])}</td>"
                               f"<td>{p['cosine']:.2f}</td></tr>" for p in em["nearest_pairs"])
                     + "</table>")

    parts.append("<h2>Worst examples</h2>")
    for system, examples in results.get("worst_examples", {}).items():
        if not examples:
            continue
        parts.append(f"<h3>{esc(system)}</h3><table class='ex'><tr><th>prompt</th><th>baseline</th>"
                     f"<th>{esc(system)}</th></tr>")
        for ex in examples:
            tag = "<span class='bad'>regression</span> " if ex["regression"] and system != results["config"]["baseline"] else ""
            parts.append(f"<tr><td>{tag}<i>{esc(ex['suite'])}/{esc(ex['category'])}, should "
                         f"{esc(ex['expected'].replace('_', ' '))}</i><br>{esc(ex['prompt'][:600])}</td>"
                         f"<td>{esc(ex['baseline'][:600])}</td><td>{esc(ex['answer'][:600])}</td></tr>")
        parts.append("</table>")
    timings = results.get("timings", {})
    parts.append("<h2>Run</h2><p class='note'>" + ", ".join(f"{esc(k)} {v}" for k, v in timings.items())
                 + "</p></body></html>")
    return "\n".join(parts)


def write_report(results: dict, path: str | Path) -> Path:
    with atomic_open(path) as handle:
        handle.write(render(results))
    return Path(path)
