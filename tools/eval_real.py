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

from shared_data import DATA  # noqa: E402
from tinymtcnn import MTCNN  # noqa: E402
from tinymtcnn.atomic import atomic_write_text  # noqa: E402
from tinymtcnn.eval import evaluate, load_set  # noqa: E402


def box_recall(detector, data):
    """Recall at IoU 0.3 and 0.5, detections and seconds per photo (:mod:`tinymtcnn.eval`)."""
    r = evaluate({"d": detector}, data)["detectors"]["d"]
    m = r["detection"]
    return {"recall@0.3": m["recall_at_0.3"], "recall@0.5": m["recall_at_0.5"], "photos": len(data),
            "faces": m["faces"], "detections_per_photo": m["detections"] / max(len(data), 1),
            "seconds_per_photo": r["seconds_per_photo"]}


def landmark_error(detector, data):
    """NME (inter-ocular) of the matched faces of a landmark list (:mod:`tinymtcnn.eval`: padded crops)."""
    s = evaluate({"d": detector}, data)["detectors"]["d"]["landmarks"]["inter-ocular"]
    return {"faces": s["faces"], "found": s["matched"] / max(s["faces"], 1), "nme_mean": s["mean"],
            "nme_median": s["median"], "failure_rate_10pct": s["failure_10_matched"]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="folder with pnet.npz, rnet.npz, onet.npz and mtfl_holdout.txt")
    ap.add_argument("--data", type=Path,
                    default=DATA)
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
    if args.limit:
        for data in (caltech, dev, faces):
            data.annotations = data.annotations[:args.limit]
    results = {}
    for name, weights in (("pretrained", None), ("trained", str(args.run))):
        det = MTCNN(weights=weights, min_face_size=20, landmarks="onet", num_threads=1)
        results[name] = {"caltech_val": box_recall(det, caltech), "faces_dev": box_recall(det, dev),
                         "mtfl_holdout": landmark_error(det, faces)}
        print(name, json.dumps(results[name], indent=1), flush=True)
    print(markdown(results))
    if args.json:
        atomic_write_text(args.json, json.dumps(results, indent=1))
    return 0


def markdown(results):
    p, t = results["pretrained"], results["trained"]
    rows = [("Caltech val recall (IoU >= 0.3)", "caltech_val", "recall@0.3", "{:.3f}"),
            ("Caltech val recall (IoU >= 0.5)", "caltech_val", "recall@0.5", "{:.3f}"),
            ("Caltech val detections / photo", "caltech_val", "detections_per_photo", "{:.2f}"),
            ("faces_dev recall (IoU >= 0.3)", "faces_dev", "recall@0.3", "{:.3f}"),
            ("faces_dev recall (IoU >= 0.5)", "faces_dev", "recall@0.5", "{:.3f}"),
            ("faces_dev detections / photo", "faces_dev", "detections_per_photo", "{:.2f}"),
            ("MTFL held-out: faces found", "mtfl_holdout", "found", "{:.3f}"),
            ("MTFL held-out: landmark NME mean", "mtfl_holdout", "nme_mean", "{:.2%}"),
            ("MTFL held-out: landmark NME median", "mtfl_holdout", "nme_median", "{:.2%}"),
            ("MTFL held-out: NME > 10 %", "mtfl_holdout", "failure_rate_10pct", "{:.1%}")]
    lines = ["| measure | authors' weights | trained here | ratio |", "|---|---|---|---|"]
    for label, group, key, fmt in rows:
        a, b = p[group][key], t[group][key]
        lines.append(f"| {label} | {fmt.format(a)} | {fmt.format(b)} | {b / a if a else float('nan'):.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
