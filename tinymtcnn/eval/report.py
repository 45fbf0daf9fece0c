"""Markdown tables and PNG plots (ROC, PR, CED; several detectors per plot) of :func:`tinymtcnn.eval.evaluate` results."""
import math

from .datasets import MASK_SETTINGS, SETTINGS


def _pct(v, digits=1):
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.{digits}f}"


def markdown(result):
    """The results of one set as Markdown: detection, per-setting AP, sizes, landmarks."""
    s = result["set"]
    lines = [f"### {s['name']} ({s['kind']}): {s['photos']} photos, {s['faces']} faces"
             + (f", {s['ignored']} ignored" if s["ignored"] else "")
             + (f", {s['faces_with_landmarks']} with five points" if s["faces_with_landmarks"] else ""), ""]
    dets = result["detectors"]
    with_det = {n: d for n, d in dets.items() if "detection" in d}
    if with_det:
        roc = any("roc" in d["detection"] for d in with_det.values())
        head = "| detector | AP (IoU 0.5) | recall IoU 0.5 | recall IoU 0.3 | detections / photo |"
        if roc:
            head += " TPR at 10 / 50 / 100 / 500 FP |"
        lines += [head, "|---" * (head.count("|") - 1) + "|"]
        for name, d in with_det.items():
            m = d["detection"]
            row = (f"| {name} | {_pct(m['ap'])} | {_pct(m['recall_at_0.5'])} | {_pct(m['recall_at_0.3'])} | "
                   f"{m['detections'] / max(s['photos'], 1):.2f} |")
            if roc:
                row += " " + " / ".join(_pct(v) for v in m.get("tpr_at_fp", {}).values()) + " |"
            lines.append(row)
        settings = sorted({k for d in with_det.values() for k in d.get("settings", {})},
                          key=(SETTINGS + MASK_SETTINGS).index)
        if settings:
            lines += ["", "| detector | " + " | ".join(f"AP {k} | recall {k}" for k in settings) + " |",
                      "|---" * (2 * len(settings) + 1) + "|"]
            for name, d in with_det.items():
                lines.append(f"| {name} | " + " | ".join(f"{_pct(d['settings'][k]['ap'])} | "
                                                         f"{_pct(d['settings'][k]['recall_at_0.5'])}"
                                                         for k in settings) + " |")
        bins = next(iter(with_det.values()))["detection"]["by_size"]
        lines += ["", "Recall at IoU 0.5 by face size (sqrt(w h) of the annotated box; faces per bin in brackets):", "",
                  "| detector | " + " | ".join(f"{b['bin']} ({b['faces']})" for b in bins) + " |",
                  "|---" * (len(bins) + 1) + "|"]
        for name, d in with_det.items():
            lines.append(f"| {name} | " + " | ".join(_pct(b["recall"]) for b in d["detection"]["by_size"]) + " |")
    with_lmk = {n: d for n, d in dets.items() if "landmarks" in d}
    if with_lmk:
        lines += ["", "Landmarks (NME in %; missed faces count as failures and in the AUCs):", "",
                  "| detector | matched | NME mean (inter-ocular) | median | AUC 8 % | AUC 10 % | failures > 10 % "
                  "| NME mean (box) | AUC 8 % (box) |", "|---" * 9 + "|"]
        for name, d in with_lmk.items():
            io, bx = d["landmarks"]["inter-ocular"], d["landmarks"]["box"]
            lines.append(f"| {name} | {io['matched']} / {io['faces']} | {_pct(io['mean'], 2)} | {_pct(io['median'], 2)} "
                         f"| {_pct(io['auc_8'])} | {_pct(io['auc_10'])} | {_pct(io['failure_10'])} "
                         f"| {_pct(bx['mean'], 2)} | {_pct(bx['auc_8'])} |")
    lines += ["", "| detector | seconds / photo |", "|---|---|"]
    lines += [f"| {name} | {d['seconds_per_photo']:.3f} |" for name, d in dets.items()]
    return "\n".join(lines) + "\n"


def plot_curves(results, kind, path):
    """Save one PNG with a curve per (set, detector): ``kind`` "pr", "roc" or "ced". Returns False if no data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..atomic import atomic_path

    curves = []
    for result in results:
        for name, d in result["detectors"].items():
            label = f"{result['set']['name']}: {name}" if len(results) > 1 else name
            det = d.get("detection", {})
            if kind == "pr" and det.get("pr", {}).get("recall"):
                curves.append((label, det["pr"]["recall"], det["pr"]["precision"]))
            elif kind == "roc" and "roc" in det:
                curves.append((label, det["roc"]["false_positives"], det["roc"]["tpr"]))
            elif kind == "ced" and "landmarks" in d:
                c = d["landmarks"]["inter-ocular"]["ced"]
                curves.append((label, [100 * e for e in c["error"]], c["share"]))
    if not curves:
        return False
    axes = {"pr": ("recall", "precision", "Precision-recall (IoU 0.5)"),
            "roc": ("false positives", "true-positive rate", "FDDB discrete ROC"),
            "ced": ("NME (% of inter-ocular distance)", "share of faces", "Cumulative error distribution")}[kind]
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    for label, x, y in curves:
        ax.step(x, y, where="post", label=label) if kind == "ced" else ax.plot(x, y, label=label)
    ax.set_xlabel(axes[0])
    ax.set_ylabel(axes[1])
    ax.set_title(axes[2])
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return True
