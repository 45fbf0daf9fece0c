"""Landmark modes across face sizes: NME of onet / mirror / refine (and auto) per inter-ocular-distance bin.

    python tools/landmark_size_bins.py --out /tmp/bins.jsonl                 # measure (streams records)
    python tools/landmark_size_bins.py --report /tmp/bins.jsonl              # tables with the shipped auto rule
    python tools/landmark_size_bins.py --report /tmp/bins.jsonl --fit        # + search the auto ramp

Dev tool (never imported by the package); needs ``../shared/data`` (or ``TINYMTCNN_SHARED``).
Results: ``docs/landmark_modes.md``.

Protocol
--------
* **Sets.** The MTFL hold-out (``tools/split_mtfl.py``'s rule: every 10th usable face of
  ``mtfl_train/training.txt``, 765 faces; ``--mtfl-count`` of them evenly spaced), each 80x80 crop
  edge-padded to 160x160; and faces_dev's faces with five points (``takeo.png``, ``einstein.jpg``),
  each cut out of its photo as a square of 2.5x the annotated box (edge-padded).
* **Sizes.** Inter-ocular-distance bins with edges ``--edges`` (default 10, 14, 20, 28, 40, 57, 80,
  113 px). For every face and bin a target distance is drawn log-uniformly inside the bin (seeded by
  face and bin; ``--draws`` targets per face for faces_dev), and the image is resized (PIL bilinear)
  so that the ground-truth eye distance equals it. ``min_face_size = max(12, 1.3 * target)`` so the
  pyramid covers the face alike at every size (the box is about 2.2x the eye distance).
* **Same detections for every mode** (:func:`tinymtcnn.eval.landmarks.detect_all_modes`), default
  thresholds, one thread; ``refine_mirror`` is LNet applied to the ``mirror`` points.
  Matching and NME (inter-ocular): :mod:`tinymtcnn.eval.landmarks`.
* **auto** is computed from the same records with the package's own rule
  (:func:`tinymtcnn.detect.detector.auto_refine_weight` of the matched box's longer side; ``--fit``
  searches the ramp ``lo-hi`` whose worst bin is best on the sets other than faces_dev).
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))

from shared_data import SHARED  # noqa: E402
from split_mtfl import split_lines  # noqa: E402
from tinymtcnn import MTCNN  # noqa: E402
from tinymtcnn.eval.images import cut_around, pad_crop, resize_with_points  # noqa: E402
from tinymtcnn.eval.landmarks import detect_all_modes, match_face, nme  # noqa: E402
from tinymtcnn.io import load_image  # noqa: E402
from tinymtcnn.train.readers import read_json, read_wider  # noqa: E402
from tinymtcnn.weights import with_tuned_landmark_head  # noqa: E402

EDGES = (10, 14, 20, 28, 40, 57, 80, 113)
FIXED = ("onet", "mirror", "refine")
ALL = FIXED + ("refine_mirror",)


def mtfl_faces(data, count):
    """``(name, image 160x160, gt (5, 2))`` of the MTFL hold-out, ``count`` evenly spaced (0: all)."""
    lines = (data / "mtfl_train" / "training.txt").read_text().splitlines()
    _, holdout, _ = split_lines(lines)
    if count and count < len(holdout):
        holdout = [holdout[i] for i in np.round(np.linspace(0, len(holdout) - 1, count)).astype(int)]
    for line in holdout:
        parts = line.split()
        v = np.array([float(x) for x in parts[1:11]])
        image, offset = pad_crop(load_image(data / "mtfl_train" / parts[0]), 160, "edge")
        yield parts[0], image, np.stack([v[:5], v[5:]], axis=1) + np.asarray(offset, dtype=np.float64)


def dev_faces(data):
    """``(name, square cut, gt)`` of the faces_dev faces that carry five points."""
    photos = read_json(data / "faces_dev" / "annotations.json", data / "faces_dev")
    for a in photos.annotations:
        if a.landmarks is None:
            continue
        image = load_image(a.path)
        for k, (box, gt) in enumerate(zip(a.boxes, a.landmarks)):
            cut, (dx, dy) = cut_around(image, box)
            yield f"{a.path.name}#{k}", cut, gt - np.array([dx, dy], dtype=np.float64)


def caltech_faces(data, count):
    """``(name, square cut, gt (4, 2))`` of Caltech val: eyes, nose, mouth centre (``val_points4.txt``)."""
    root = data / "caltech_train"
    boxes = {a.path.name: a.boxes[0] for a in read_wider(root / "val_bbx_gt.txt", root / "images").annotations}
    lines = [ln.split() for ln in (root / "val_points4.txt").read_text().splitlines() if ln.strip()]
    if count and count < len(lines):
        lines = [lines[i] for i in np.round(np.linspace(0, len(lines) - 1, count)).astype(int)]
    for parts in lines:  # name lx ly rx ry nx ny mx my (data/README.md)
        cut, (dx, dy) = cut_around(load_image(root / "images" / parts[0]), boxes[parts[0]])
        yield parts[0], cut, np.array(parts[1:9], dtype=np.float64).reshape(4, 2) - np.array([dx, dy])


def as_gt_points(pred, gt):
    """Predicted five points in the ground truth's layout: four points (mouth centre) for Caltech."""
    return pred if len(gt) == 5 else np.vstack([pred[:3], pred[3:].mean(axis=0, keepdims=True)])


def measure(detector, set_name, faces, edges, draws, out, seed=0, tuned_onet=None):
    """Stream one record per face, bin and draw; with ``tuned_onet`` the record also holds ``"tuned"``,
    the points of ``MTCNN(landmarks="tuned")`` on the same detections (:func:`detect_all_modes`)."""
    n_bins = len(edges) - 1
    for f, (name, image, gt) in enumerate(faces):
        iod = float(np.linalg.norm(gt[0] - gt[1]))
        for b in range(n_bins):
            rng = np.random.default_rng([seed, f, b])
            for _ in range(draws):
                target = float(np.exp(rng.uniform(np.log(edges[b]), np.log(edges[b + 1]))))
                img, pts = resize_with_points(image, gt, target / iod)
                detector.min_face_size = max(12.0, 1.3 * target)
                boxes, scores, lmk = detect_all_modes(detector, img, tuned_onet)
                k = match_face(boxes, pts)
                rec = {"set": set_name, "face": name, "bin": b, "target": target,
                       "iod": float(np.linalg.norm(pts[0] - pts[1])), "matched": k >= 0, "size": list(img.shape[:2])}
                if k >= 0:
                    rec["box"] = boxes[k].tolist()
                    rec["nme"] = {m: nme(as_gt_points(lmk[m][k], pts), pts) for m in ALL}
                    rec["gt"], rec["points"] = pts.tolist(), {m: lmk[m][k].tolist() for m in ALL}
                    if "tuned" in lmk:
                        rec["nme"]["tuned"] = nme(as_gt_points(lmk["tuned"][k], pts), pts)
                        rec["points"]["tuned"] = lmk["tuned"][k].tolist()
                out.write(json.dumps(rec) + "\n")
                out.flush()


def auto_nme(rec, weight):
    """NME of ``MTCNN(landmarks="auto")``: the mirror points blended with LNet's by ``weight(box side)``."""
    side = max(rec["box"][2] - rec["box"][0], rec["box"][3] - rec["box"][1])
    w = float(weight(side))
    pts = (1 - w) * np.asarray(rec["points"]["mirror"]) + w * np.asarray(rec["points"]["refine_mirror"])
    gt = np.asarray(rec["gt"])
    return nme(as_gt_points(pts, gt), gt)


def report(records, edges, weight, label):
    """Markdown table: per set and bin, the mean NME (%) of each mode and of auto, and auto minus the best."""
    with_tuned = all("tuned" in r["nme"] for r in records if r["matched"])
    extra = " tuned | tuned vs best |" if with_tuned else ""
    lines = [f"auto rule: {label}", "",
             "| set | inter-ocular distance | faces (matched / all) | onet | mirror | refine | refine on mirror "
             "| auto | best fixed | auto - best |" + extra, "|---" * (12 if with_tuned else 10) + "|"]
    worst = -np.inf
    for set_name in sorted({r["set"] for r in records}):
        for b in range(len(edges) - 1):
            rows = [r for r in records if r["set"] == set_name and r["bin"] == b]
            hit = [r for r in rows if r["matched"]]
            if not hit:
                lines.append(f"| {set_name} | {edges[b]}-{edges[b + 1]} px | 0 / {len(rows)} |" + " - |" * 7)
                continue
            mean = {m: 100 * np.mean([r["nme"][m] for r in hit]) for m in ALL}
            mean["auto"] = 100 * np.mean([auto_nme(r, weight) for r in hit])
            best = min(FIXED, key=mean.get)
            gap = mean["auto"] - mean[best]
            worst = max(worst, gap)
            tuned = ""
            if with_tuned:
                t = 100 * np.mean([r["nme"]["tuned"] for r in hit])
                tuned = f" {t:.2f} | {100 * (t - mean[best]) / mean[best]:+.1f} % |"
            lines.append(f"| {set_name} | {edges[b]}-{edges[b + 1]} px | {len(hit)} / {len(rows)} | "
                         + " | ".join(f"{mean[m]:.2f}" for m in ALL + ("auto",)) + f" | {best} | {gap:+.2f} |"
                         + tuned)
    lines += ["", f"largest auto - best fixed over the bins: {worst:+.3f} NME points"]
    return "\n".join(lines)


def fit_ramp(records, edges, sets, grid=range(20, 201, 5)):
    """``(lo, hi)`` of the linear ramp (box side, px) whose largest per-bin gap auto - best fixed mode is smallest.

    Only the bins of ``sets`` count; returns ``(gap, lo, hi)`` sorted, best first.
    """
    hit = [r for r in records if r["matched"] and r["set"] in sets]
    groups = {}
    for i, r in enumerate(hit):
        groups.setdefault((r["set"], r["bin"]), []).append(i)
    best = {k: min(np.mean([hit[i]["nme"][m] for i in v]) for m in FIXED) for k, v in groups.items()}
    out = []
    for lo in grid:
        for hi in grid:
            if hi <= lo:
                continue
            e = np.array([auto_nme(r, lambda s: np.clip((s - lo) / (hi - lo), 0, 1)) for r in hit])
            out.append((100 * max(e[v].mean() - best[k] for k, v in groups.items()), lo, hi))
    return sorted(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--out", type=Path, help="write the per-image records here (JSON lines, streamed)")
    ap.add_argument("--report", type=Path, nargs="+", help="only print the tables of records written earlier")
    ap.add_argument("--fit", action="store_true", help="with --report: also fit the box-side threshold")
    ap.add_argument("--mtfl-count", type=int, default=210, help="MTFL hold-out faces, evenly spaced (0: all 765)")
    ap.add_argument("--caltech-count", type=int, default=200, help="Caltech val photos, evenly spaced (0: all 500)")
    ap.add_argument("--draws", type=int, default=4, help="target sizes per bin for each faces_dev face")
    ap.add_argument("--edges", type=float, nargs="+", default=EDGES)
    ap.add_argument("--sets", nargs="+", default=("faces_dev", "caltech_val", "mtfl_holdout"))
    ap.add_argument("--tuned", action="store_true", help='also measure MTCNN(landmarks="tuned") on the same images')
    args = ap.parse_args(argv)
    if args.report:
        from tinymtcnn.detect.detector import AUTO_MIRROR_MAX_SIDE, AUTO_REFINE_MIN_SIDE, auto_refine_weight

        records = [json.loads(line) for p in args.report for line in p.read_text().splitlines() if line.strip()]
        print(report(records, args.edges, auto_refine_weight,
                     f"mirror up to a box side of {AUTO_MIRROR_MAX_SIDE} px, LNet from {AUTO_REFINE_MIN_SIDE} px"))
        if args.fit:
            fits = fit_ramp(records, args.edges, set(args.sets) - {"faces_dev"})
            print("\nramps with the smallest largest gap (NME points) over "
                  + ", ".join(sorted(set(args.sets) - {"faces_dev"})) + ": "
                  + "; ".join(f"{lo}-{hi} px: {gap:+.3f}" for gap, lo, hi in fits[:5]))
        return 0
    if not args.out:
        ap.error("give --out FILE (measure) or --report FILE")
    data = args.shared / "data"
    detector = MTCNN(landmarks="refine", num_threads=1)
    tuned = with_tuned_landmark_head(detector.nets["onet"]) if args.tuned else None
    start = time.perf_counter()
    with open(args.out, "a") as out:
        if "faces_dev" in args.sets:
            measure(detector, "faces_dev", dev_faces(data), args.edges, args.draws, out, tuned_onet=tuned)
            print(f"faces_dev done, {time.perf_counter() - start:.0f} s", flush=True)
        if "caltech_val" in args.sets:
            measure(detector, "caltech_val", caltech_faces(data, args.caltech_count), args.edges, 1, out, tuned_onet=tuned)
            print(f"caltech_val done, {time.perf_counter() - start:.0f} s", flush=True)
        if "mtfl_holdout" in args.sets:
            measure(detector, "mtfl_holdout", mtfl_faces(data, args.mtfl_count), args.edges, 1, out, tuned_onet=tuned)
    print(f"wall time {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
