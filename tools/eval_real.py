"""A cascade trained on real photos next to the authors' pretrained one, on held-out data.

    python tools/eval_real.py /work/real_run                       # trained weights in that folder
    python tools/eval_real.py /work/real_run --json /work/real_run/eval.json --limit 100

Dev tool (never imported by the package); needs ``../shared/data`` (or ``TINYMTCNN_SHARED``).
Both detectors run with the same parameters (``min_face_size`` 20, thresholds 0.6/0.7/0.7,
landmarks ``"onet"``), one thread. Reported per weight set:

* **Caltech val** (``caltech_train/val_bbx_gt.txt``, 500 photos the training never saw): recall
  at IoU >= 0.3 (the issue's lenient rule: these boxes are tighter than MTCNN's) and >= 0.5, faces
  matched greedily by descending score (``tinymtcnn.train.cascade.match_detections``); detections
  per photo (not a false-positive rate: some faces there carry no box).
* **faces_dev** (71 photos, 134 faces, ``ignore`` faces included): the same recall numbers on photos
  unlike the training distribution.
* **crowds_cc0 hold-out** (``tools/train_reference.py``'s rule: the 198 photos at index 3 mod 4,
  963 faces, most under 40 px): the same recall numbers, and recall of the ``masked`` and
  ``unmasked`` faces (the other kind ignored), when ``crowds_cc0/annotations.json`` is there.
* Per box set, **recall by face size** (IoU >= 0.5; ``sqrt(w h)`` of the annotated box in the bins
  of ``tinymtcnn evaluate``: 0-20, 20-40, 40-80, 80-160, >= 160 px) and of the faces under 40 px.
* **MTFL held-out** (``mtfl_holdout.txt`` written by ``tools/split_mtfl.py`` into the run folder,
  faces never used for training): each 80x80 crop edge-padded to 160x160, the detection containing
  the points' centroid with the largest IoU with their bounding box is matched (the protocol of
  ``tools/eval_landmarks.py``); landmark NME = mean point distance / inter-ocular distance over the
  matched faces (mean, median, share > 10 %), and the share of faces found.

The metrics are :mod:`tinymtcnn.eval`'s (``tinymtcnn evaluate`` gives the full set of them).
"""
import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))

from shared_data import add_data_option  # noqa: E402
from train_reference import crowd_holdout_set, recall_summary  # noqa: E402

from tinymtcnn import MTCNN  # noqa: E402
from tinymtcnn.atomic import atomic_write_text  # noqa: E402
from tinymtcnn.eval import evaluate, load_set  # noqa: E402


BOX_SETS = {"caltech_val": "Caltech val", "faces_dev": "faces_dev", "crowds_holdout": "crowds_cc0 hold-out"}


def box_recall(detector, data):
    """Recall at IoU 0.3 and 0.5, detections and seconds per photo (:mod:`tinymtcnn.eval`); recall at
    IoU 0.5 by face size (``by_size``: the rows of ``tinymtcnn evaluate``), of the faces under 40 px
    and, for a set with settings (crowds_cc0: ``masked`` / ``unmasked``), of each setting's faces."""
    r = evaluate({"d": detector}, data)["detectors"]["d"]
    m = r["detection"]
    small = recall_summary(m)
    return {"recall@0.3": m["recall_at_0.3"], "recall@0.5": m["recall_at_0.5"], "photos": len(data),
            "faces": m["faces"], "detections_per_photo": m["detections"] / max(len(data), 1),
            "seconds_per_photo": r["seconds_per_photo"], "by_size": m["by_size"],
            "recall_under_40": small["under_40"], "faces_under_40": small["faces_under_40"],
            "settings": {k: {"faces": v["faces"], "recall@0.5": v["recall_at_0.5"]}
                         for k, v in r.get("settings", {}).items()}}


def landmark_error(detector, data):
    """NME (inter-ocular) of the matched faces of a landmark list (:mod:`tinymtcnn.eval`: padded crops)."""
    s = evaluate({"d": detector}, data)["detectors"]["d"]["landmarks"]["inter-ocular"]
    return {"faces": s["faces"], "found": s["matched"] / max(s["faces"], 1), "nme_mean": s["mean"],
            "nme_median": s["median"], "failure_rate_10pct": s["failure_10_matched"]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="folder with pnet.npz, rnet.npz, onet.npz and mtfl_holdout.txt")
    add_data_option(ap)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N photos/faces of each set")
    ap.add_argument("--json", type=Path, help="write the numbers here")
    args = ap.parse_args(argv)
    holdout = args.run / "mtfl_holdout.txt"
    for p in (args.run / "onet.npz", holdout, args.data / "caltech_train" / "val_bbx_gt.txt"):
        if not p.is_file():
            ap.error(f"missing {p}")
    caltech = load_set(args.data / "caltech_train" / "val_bbx_gt.txt", args.data / "caltech_train" / "images")
    dev = load_set(args.data / "faces_dev" / "annotations.json")
    faces = load_set(holdout, args.data / "mtfl_train", "landmarks")
    box_sets = {"caltech_val": caltech, "faces_dev": dev}
    if (args.data / "crowds_cc0" / "annotations.json").is_file():
        box_sets["crowds_holdout"] = crowd_holdout_set(args.data)
    else:
        print(f"no crowds_cc0/annotations.json in {args.data}: the crowd hold-out is left out", flush=True)
    if args.limit:
        for data in (*box_sets.values(), faces):
            data.annotations = data.annotations[:args.limit]
    results = {}
    for name, weights in (("pretrained", None), ("trained", str(args.run))):
        det = MTCNN(weights=weights, min_face_size=20, landmarks="onet", num_threads=1)
        results[name] = {key: box_recall(det, data) for key, data in box_sets.items()}
        results[name]["mtfl_holdout"] = landmark_error(det, faces)
        print(name, json.dumps(results[name], indent=1), flush=True)
    print(markdown(results))
    if args.json:
        atomic_write_text(args.json, json.dumps(results, indent=1))
    return 0


def markdown(results):
    """The table of ``results`` (``{"pretrained": ..., "trained": ...}``, as :func:`main` builds it):
    one row per measure, the authors' value, the trained one and their ratio. Box sets missing from
    ``results`` (an older run without the crowd hold-out) are left out."""
    p, t = results["pretrained"], results["trained"]
    rows = []
    for group, title in BOX_SETS.items():
        if group not in p:
            continue
        rows += [(f"{title} recall (IoU >= 0.3)", p[group]["recall@0.3"], t[group]["recall@0.3"], "{:.3f}"),
                 (f"{title} recall (IoU >= 0.5)", p[group]["recall@0.5"], t[group]["recall@0.5"], "{:.3f}")]
        for a, b in zip(p[group].get("by_size", []), t[group].get("by_size", [])):
            if a["faces"]:
                rows.append((f"{title}: faces {a['bin']} ({a['faces']})", a["recall"], b["recall"], "{:.3f}"))
        if p[group].get("faces_under_40"):
            rows.append((f"{title}: faces under 40 px ({p[group]['faces_under_40']})", p[group]["recall_under_40"],
                         t[group]["recall_under_40"], "{:.3f}"))
        for setting, a in p[group].get("settings", {}).items():
            rows.append((f"{title}: {setting} faces ({a['faces']})", a["recall@0.5"],
                         t[group]["settings"][setting]["recall@0.5"], "{:.3f}"))
        rows.append((f"{title} detections / photo", p[group]["detections_per_photo"],
                     t[group]["detections_per_photo"], "{:.2f}"))
    for label, key, fmt in (("faces found", "found", "{:.3f}"), ("landmark NME mean", "nme_mean", "{:.2%}"),
                            ("landmark NME median", "nme_median", "{:.2%}"), ("NME > 10 %", "failure_rate_10pct",
                                                                               "{:.1%}")):
        rows.append((f"MTFL held-out: {label}", p["mtfl_holdout"][key], t["mtfl_holdout"][key], fmt))
    lines = ["| measure | authors' weights | trained here | ratio |", "|---|---|---|---|"]
    for label, a, b, fmt in rows:
        show = (lambda v: "-" if v != v else fmt.format(v))  # noqa: E731 (NaN: no face of that kind)
        lines.append(f"| {label} | {show(a)} | {show(b)} | {b / a if a else float('nan'):.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
