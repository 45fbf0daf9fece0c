"""Summary of ablation runs (:mod:`.experiment`): tables, curves and a verdict in words.

A run record is ``{"stage", "arm", "seed", "task_weights", "ohem", "history": [{"epoch", "val": {...}}]}``.
For each experiment, stage, arm and metric (:data:`METRICS`) the **final** validation value is
summarised over the seeds (mean, standard deviation, min, max) and compared with the reference arm
(``joint``): the difference of the means against the **seed spread**, the larger of the two arms'
min-max ranges over the seeds. ``|difference| > spread`` is reported as "larger than the seed spread",
otherwise as "not distinguishable from seed noise". A metric is compared only between arms that train
its head (task weight > 0): a head that was never trained has no meaningful error.
"""
import json
import math
import warnings
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, atomic_write_text

# key in the validation metrics, label, task index (0 cls, 1 box, 2 landmarks), True if lower is better
METRICS = (("cls", "validation classification loss", 0, True),
           ("accuracy", "validation accuracy (face / non-face)", 0, False),
           ("box", "validation box error (mean squared offset)", 1, True),
           ("landmark_nme", "validation landmark NME (inter-ocular)", 2, True))
LABELS = {"joint": {"joint": "joint (paper's weights)", "cls": "classification only",
                    "cls+box": "classification + box", "landmarks-only": "landmarks only"},
          "ohem": {"joint": "OHEM (70 % hardest)", "no-ohem": "all samples (no OHEM)"}}
STAGE_NAMES = {"pnet": "P-Net", "rnet": "R-Net", "onet": "O-Net"}


def trains(record_or_weights, task):
    """Whether a run's task weights train head ``task`` (0 cls, 1 box, 2 landmarks)."""
    w = record_or_weights["task_weights"] if isinstance(record_or_weights, dict) else record_or_weights
    return float(w[task]) > 0


def _stats(values):
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan, "n": 0}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "n": int(v.size)}


def _curve(records, key):
    """Per-epoch mean, min and max over the seeds (lists; NaN where no value)."""
    n = min(len(r["history"]) for r in records)
    rows = np.array([[r["history"][e]["val"].get(key, math.nan) for e in range(n)] for r in records], float)
    with warnings.catch_warnings():  # an epoch where no seed has a value: NaN, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        return {"mean": np.nanmean(rows, 0).tolist(), "min": np.nanmin(rows, 0).tolist(),
                "max": np.nanmax(rows, 0).tolist()}


def compare(arm, ref, lower_is_better):
    """Difference ``arm - ref`` of the means, the seed spread, and whether the difference exceeds it."""
    diff = arm["mean"] - ref["mean"]
    spread = max(arm["max"] - arm["min"], ref["max"] - ref["min"])
    return {"difference": diff, "spread": spread, "exceeds_spread": bool(abs(diff) > spread),
            "reference_better": bool((diff > 0) == lower_is_better) if diff != 0 else False}


def paired_wins(arm_by_seed, ref_by_seed, lower_is_better):
    """``(k, n)``: the reference beats the arm in ``k`` of the ``n`` seeds both have (same seed: same
    initial weights, batch order and flips, so the two runs differ only by the arm)."""
    seeds = [s for s in ref_by_seed if s in arm_by_seed and np.isfinite(ref_by_seed[s]) and np.isfinite(arm_by_seed[s])]
    wins = sum((ref_by_seed[s] < arm_by_seed[s]) if lower_is_better else (ref_by_seed[s] > arm_by_seed[s])
               for s in seeds)
    return int(wins), len(seeds)


def summarize(records, experiments, stages):
    """The summary dict: ``{experiment: {stage: {arm: {metric: stats, ...}}}}`` plus comparisons."""
    from .experiment import EXPERIMENTS, REFERENCE

    out = {}
    for exp in experiments:
        out[exp] = {}
        for kind in stages:
            by_arm = {a: [r for r in records if r["stage"] == kind and r["arm"] == a] for a in EXPERIMENTS[exp]}
            by_arm = {a: rs for a, rs in by_arm.items() if rs}
            if not by_arm:
                continue
            stage = {}
            for arm, rs in by_arm.items():
                entry = {"seeds": sorted(r["seed"] for r in rs), "task_weights": rs[0]["task_weights"],
                         "ohem": rs[0]["ohem"], "final": {}, "curves": {}, "compared": {}}
                for key, _, task, lower in METRICS:
                    if not trains(rs[0], task):
                        continue
                    by_seed = {str(r["seed"]): r["history"][-1]["val"].get(key, math.nan) for r in rs}
                    entry["final"][key] = dict(_stats(list(by_seed.values())), by_seed=by_seed)
                    entry["curves"][key] = _curve(rs, key)
                stage[arm] = entry
            ref = stage.get(REFERENCE)
            for arm, entry in stage.items():
                if ref is None or arm == REFERENCE:
                    continue
                for key, _, task, lower in METRICS:
                    if key in entry["final"] and key in ref["final"] and entry["final"][key]["n"]:
                        c = compare(entry["final"][key], ref["final"][key], lower)
                        c["reference_better_seeds"], c["paired_seeds"] = paired_wins(
                            entry["final"][key]["by_seed"], ref["final"][key]["by_seed"], lower)
                        entry["compared"][key] = c
            out[exp][kind] = stage
    return out


def _fmt(x):
    return "n/a" if x is None or not np.isfinite(x) else (f"{x:.4f}" if abs(x) < 10 else f"{x:.1f}")


def comparisons(summary):
    """Every comparison of the summary: dicts with ``experiment``, ``stage``, ``arm``, ``metric`` (key),
    ``label``, ``reference`` and ``other`` (their final stats) and ``compared`` (:func:`compare`'s dict)."""
    from .experiment import REFERENCE

    for exp, stages in summary.items():
        for kind, stage in stages.items():
            for arm, entry in stage.items():
                for key, label, _, _ in METRICS:
                    if key in entry["compared"]:
                        yield {"experiment": exp, "stage": kind, "arm": arm, "metric": key, "label": label,
                               "reference": stage[REFERENCE]["final"][key], "other": entry["final"][key],
                               "compared": entry["compared"][key]}


def verdict(summary):
    """Plain-English sentences, one per comparison of an arm with the reference, from the numbers."""
    from .experiment import REFERENCE

    lines = []
    for x in comparisons(summary):
        c, r, a = x["compared"], x["reference"], x["other"]
        ref_name, arm_name = LABELS[x["experiment"]][REFERENCE], LABELS[x["experiment"]][x["arm"]]
        if c["difference"] == 0:
            how = "the same"
        else:
            how = f"{'better' if c['reference_better'] else 'worse'} by {_fmt(abs(c['difference']))}"
        noise = "larger than the seed spread" if c["exceeds_spread"] else "not distinguishable from seed noise"
        short = ref_name.split(" (")[0]
        paired = (f"; {short} better in {c['reference_better_seeds']} of {c['paired_seeds']} runs paired by seed"
                  if c.get("paired_seeds") else "")
        lines.append(f"{STAGE_NAMES[x['stage']]}, {x['label']}: {ref_name} {_fmt(r['mean'])} vs {arm_name} "
                     f"{_fmt(a['mean'])}: {short} is {how} (seed spread {_fmt(c['spread'])}, {a['n']} seeds{paired}): "
                     f"{noise}.")
    return lines


def headline(summary):
    """One sentence per experiment: how many comparisons favour the reference beyond the seed spread."""
    from .experiment import REFERENCE

    what = {"joint": "joint training (the paper's weights)", "ohem": "OHEM (70 % hardest)"}
    lines = []
    for exp, stages in summary.items():
        found = [x["compared"] for x in comparisons({exp: stages})]
        if not found:
            continue
        better = sum(c["exceeds_spread"] and c["reference_better"] for c in found)
        worse = sum(c["exceeds_spread"] and not c["reference_better"] for c in found)
        names = ", ".join(STAGE_NAMES[k] for k in stages)
        lines.append(f"{exp} ({names}): of {len(found)} comparisons with the other arms, "
                     f"{what.get(exp, REFERENCE)} was better by more than the seed spread in {better}, worse by more "
                     f"than the seed spread in {worse}, and not distinguishable from seed noise in "
                     f"{len(found) - better - worse}.")
    return lines


def comparison_table(summary):
    """A Markdown table with one row per comparison: the two means, the difference, the seed spread,
    the runs paired by seed in which the reference won, and whether the difference exceeds the spread."""
    from .experiment import REFERENCE

    rows = ["| stage | metric | reference | other arm | difference (other − ref.) | seed spread | ref. better "
            "(paired seeds) | beyond the spread? |", "|---|---|---|---|---|---|---|---|"]
    for x in comparisons(summary):
        c, names = x["compared"], LABELS[x["experiment"]]
        rows.append(f"| {STAGE_NAMES[x['stage']]} | {x['label'].replace('validation ', '')} | "
                    f"{names[REFERENCE]} {_fmt(x['reference']['mean'])} | {names[x['arm']]} {_fmt(x['other']['mean'])} | "
                    f"{c['difference']:+.4f} | {_fmt(c['spread'])} | "
                    f"{c.get('reference_better_seeds', '?')} of {c.get('paired_seeds', '?')} | "
                    f"{'**yes**' if c['exceeds_spread'] else 'no'} |")
    return "\n".join(rows) + "\n"


def markdown_tables(summary):
    """One Markdown table per experiment and stage: final metrics, mean ± std [min–max], difference vs joint."""
    from .experiment import REFERENCE

    parts = []
    for exp, stages in summary.items():
        for kind, stage in stages.items():
            keys = [m for m in METRICS if any(m[0] in e["final"] for e in stage.values())]
            parts.append(f"### {exp}: {STAGE_NAMES[kind]} (final epoch, mean ± std [min–max] over seeds)\n")
            parts.append("| arm | " + " | ".join(m[1] for m in keys) + " |")
            parts.append("|---|" + "---|" * len(keys))
            for arm, entry in stage.items():
                cells = []
                for key, *_ in keys:
                    s, c = entry["final"].get(key), entry["compared"].get(key)
                    if s is None:
                        cells.append("— (head not trained)")
                        continue
                    cell = f"{_fmt(s['mean'])} ± {_fmt(s['std'])} [{_fmt(s['min'])}–{_fmt(s['max'])}]"
                    if c is not None:
                        mark = "**> spread**" if c["exceeds_spread"] else "within spread"
                        cell += f"; vs {LABELS[exp][REFERENCE].split(' (')[0]}: {c['difference']:+.4f} ({mark})"
                    cells.append(cell)
                parts.append(f"| {LABELS[exp][arm]} | " + " | ".join(cells) + " |")
            parts.append("")
    return "\n".join(parts)


def plot_curves(summary, out_dir):
    """``curves-<experiment>-<stage>.png``: one panel per metric, one line per arm (mean over seeds),
    shaded band = min-max over seeds. Returns the written paths."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    paths = []
    for exp, stages in summary.items():
        for kind, stage in stages.items():
            keys = [m for m in METRICS if any(m[0] in e["curves"] for e in stage.values())]
            fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.4), squeeze=False)
            colour = {arm: f"C{i}" for i, arm in enumerate(stage)}  # one colour per arm in every panel
            for ax, (key, label, _, _) in zip(axes[0], keys):
                for arm, entry in stage.items():
                    if key not in entry["curves"]:
                        continue
                    c = entry["curves"][key]
                    x = np.arange(1, len(c["mean"]) + 1)
                    ax.plot(x, c["mean"], marker="o", ms=3, color=colour[arm])
                    ax.fill_between(x, c["min"], c["max"], color=colour[arm], alpha=0.2)
                ax.set_title(label, fontsize=9)
                ax.set_xlabel("epoch")
                ax.xaxis.get_major_locator().set_params(integer=True)
                ax.grid(alpha=0.3)
            handles = [plt.Line2D([], [], color=colour[a], marker="o", ms=3) for a in stage]
            fig.legend(handles, [LABELS[exp][a] for a in stage], loc="lower center", ncol=len(stage), fontsize=8)
            fig.suptitle(f"{exp} ablation, {STAGE_NAMES[kind]} (line: mean, band: min–max over seeds)", fontsize=10)
            fig.tight_layout(rect=(0, 0.08, 1, 1))
            path = Path(out_dir) / f"curves-{exp}-{kind}.png"
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format="png", dpi=90)
            plt.close(fig)
            paths.append(str(path))
    return paths


def write_summary(out_dir, records, experiments, *, stages, seeds, settings, timing):
    """Write ``summary.json``, ``summary.md`` and the curves into ``out_dir``; returns the summary dict."""
    from .cascade import _json_ready

    table = summarize(records, experiments, stages)
    words, heads = verdict(table), headline(table)
    run_seconds = sum(r.get("seconds", 0.0) for r in records)
    result = {"experiments": list(experiments), "stages": list(stages), "seeds": list(seeds), "settings": settings,
              "timing": dict(timing, run_seconds=round(run_seconds, 1)), "results": table, "headline": heads,
              "verdict": words}
    result["figures"] = plot_curves(table, out_dir)
    atomic_write_text(Path(out_dir) / "summary.json", json.dumps(_json_ready(result), indent=1))
    text = ["# Ablation summary\n", settings.get("description", ""), "",
            f"Seeds {list(seeds)}; {len(records)} runs, {run_seconds / 60:.1f} min of training.\n",
            "## Verdict\n", *heads, "", comparison_table(table), *[f"* {w}" for w in words], "",
            "## Final metrics per arm\n", markdown_tables(table)]
    atomic_write_text(Path(out_dir) / "summary.md", "\n".join(text))
    return result
