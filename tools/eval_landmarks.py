"""Which landmark mode of ``MTCNN`` is most accurate: ``"onet"``, ``"mirror"`` or ``"refine"``?

    python tools/eval_landmarks.py                    # 2,000 MTFL faces (evenly spaced) + faces_dev
    python tools/eval_landmarks.py --count 0          # all 7,650 usable MTFL faces
    python tools/eval_landmarks.py --count 200 --pad grey --json /tmp/lmk.json
    python tools/eval_landmarks.py --scale 3 --min-face-size 60 --skip-faces-dev   # 3x larger faces
    python tools/eval_landmarks.py --report /tmp/lmk.json  # tables again, from the saved records

Dev tool (never imported by the package); needs ``../shared/data`` (or ``TINYMTCNN_SHARED``).
Results and the recommendation: ``docs/landmark_modes.md``.

Protocol
--------
* **Data.** ``data/mtfl_train/training.txt`` (80x80 MTFL crops, human 5 points) and the two
  faces of ``data/faces_dev`` with 5-point landmarks (``einstein.jpg``, ``takeo.png``).
  The 2,350 pose-binned web faces ``net_7876/_<angle>_*.jpg`` are left out: their y labels are
  28 px too small (O-Net's points minus the labels: median (0.0, +28.0) px in every angle bin,
  |dy| > 8 px for 96-100 % of them, against (0.3, 0.2) px for the other net_7876 faces), so
  they would measure the label shift, not the landmark modes (``--keep-shifted`` keeps them).
  Of the 7,650 usable faces ``--count`` (default 2,000) are taken evenly spaced in file order
  (index ``round(i * (n - 1) / (count - 1))``), so both LFW and web faces are in.
* **Padding.** An MTFL crop is filled by its face, so the detector's 12-px windows never see a
  whole face with context. Each crop is placed in the middle of a ``canvas x canvas`` image
  (default 160: a 40-px border), either edge-replicated (``--pad edge``, default) or uniform
  mid-grey 128 (``--pad grey``); ground-truth points are shifted by the same offset.
  ``--scale s`` enlarges the canvas (PIL bilinear; points ``(x + 0.5) * s - 0.5``) to measure
  bigger faces; pass ``--min-face-size 20*s`` so that the pyramid covers them as at 1x.
* **Same boxes for every mode.** The cascade (``propose``, ``refine``, ``output``) runs once per
  image with the detector's default parameters; the three landmark sets are computed on the
  same final faces: ``onet`` = O-Net's landmarks, ``mirror`` = ``output(..., mirror=True)``
  (its boxes are checked to equal the un-mirrored pass), ``refine`` = LNet (det4) applied to
  the ``onet`` landmarks, exactly as :class:`tinymtcnn.MTCNN` does. On the faces_dev images
  the result is also checked against ``MTCNN(landmarks=mode).detect``.
* **Matching.** Candidates are the detections whose box contains the centroid of the five
  ground-truth points; the one with the largest IoU with the points' bounding box is matched.
  With no candidate the face counts as *missed*.
* **Metric.** ``NME = mean_k ||p_k - g_k|| / ||g_left_eye - g_right_eye||`` (inter-ocular
  normalisation, eye centres). Reported: mean NME per point and overall, median, the
  failure rate ``NME > 10 %`` among detected faces and over all faces (missed counted as
  failures), and the paired difference of each mode against ``onet`` (mean +- 1.96 SE).
* **Timing.** ``MTCNN(landmarks=mode).detect`` per image, modes interleaved on the first
  ``--timing`` canvases (median wall clock; indicative on a shared machine).
"""
import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tinymtcnn import MTCNN  # noqa: E402
from tinymtcnn.eval.images import pad_crop, resize_with_points  # noqa: E402
from tinymtcnn.eval.landmarks import detect_all_modes, match_face, point_errors  # noqa: E402
from tinymtcnn.io import load_image as read_rgb  # noqa: E402

MODES = ("onet", "mirror", "refine")
POINTS = ("left eye", "right eye", "nose", "mouth left", "mouth right")
FAIL_NME = 0.10
LOW_THRESHOLDS = (0.5, 0.3, 0.5)  # finds Einstein's face in faces_dev/einstein.jpg (R-Net scores it 0.2)


# ----------------------------------------------------------------------------- data
SHIFTED_LABELS = re.compile(r"^net_7876/_-?\d+_")  # pose-binned web faces: y labels 28 px off


def load_mtfl(root, count=2000, keep_shifted=False):
    """MTFL faces: list of ``(relative path, gt (5, 2) float64)``, ``count`` evenly spaced ones (0: all).

    ``training.txt`` lines are ``path x1..x5 y1..y5``. Files matching :data:`SHIFTED_LABELS` are
    dropped unless ``keep_shifted``.
    """
    faces = []
    with open(Path(root) / "training.txt") as f:
        for line in f:
            parts = line.split()
            if not parts or (not keep_shifted and SHIFTED_LABELS.match(parts[0])):
                continue
            v = np.array([float(x) for x in parts[1:11]])
            faces.append((parts[0], np.stack([v[:5], v[5:]], axis=1)))
    if count and count < len(faces):
        picks = np.round(np.arange(count) * (len(faces) - 1) / max(count - 1, 1)).astype(int)
        faces = [faces[i] for i in picks]
    return faces


# ----------------------------------------------------------------------------- detection
# detect_all_modes, match_face and point_errors live in tinymtcnn.eval.landmarks (the same protocol).


# ----------------------------------------------------------------------------- evaluation
def evaluate(detector, items, progress=0):
    """``items``: iterable of ``(name, image, gt (5, 2))``. Returns a list of per-face records."""
    records = []
    t0 = time.perf_counter()
    for i, (name, image, gt) in enumerate(items):
        boxes, scores, lmk = detect_all_modes(detector, image)
        k = match_face(boxes, gt)
        rec = {"name": name, "detections": len(boxes), "matched": k >= 0}
        if k >= 0:
            rec["score"] = float(scores[k])
            rec["errors"] = {m: point_errors(lmk[m][k], gt).tolist() for m in MODES}
            iod = np.linalg.norm(gt[0] - gt[1])
            rec["iod"], rec["box_side"] = float(iod), float(boxes[k, 2] - boxes[k, 0])
            rec["bias"] = {m: ((lmk[m][k] - gt).mean(axis=0) / iod).tolist() for m in MODES}
        records.append(rec)
        if progress and (i + 1) % progress == 0:
            print(f"  {i + 1} faces, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return records


def summarise(records):
    """Per-mode numbers: per-point mean NME, mean / median NME, failure rates, paired diff vs onet."""
    hit = [r for r in records if r["matched"]]
    n, n_hit = len(records), len(hit)
    out = {"faces": n, "detected": n_hit, "missed": n - n_hit, "modes": {}}
    if not n_hit:
        return out
    out["median_iod"] = float(np.median([r["iod"] for r in hit]))
    out["median_box"] = float(np.median([r["box_side"] for r in hit]))
    errs = {m: np.array([r["errors"][m] for r in hit]) for m in MODES}  # (n_hit, 5)
    base = errs["onet"].mean(axis=1)
    for m in MODES:
        nme = errs[m].mean(axis=1)
        fail = int((nme > FAIL_NME).sum())
        diff = nme - base
        out["modes"][m] = {
            "per_point": errs[m].mean(axis=0).tolist(), "mean": float(nme.mean()), "median": float(np.median(nme)),
            "fail_detected": fail / n_hit, "fail_all": (fail + n - n_hit) / n,
            "diff_vs_onet": float(diff.mean()), "diff_ci95": float(1.96 * diff.std(ddof=1) / np.sqrt(n_hit))
            if n_hit > 1 else float("nan"),
            "better_than_onet": float((diff < 0).mean()),
            "bias": np.mean([r["bias"][m] for r in hit], axis=0).tolist(),
        }
    return out


def markdown_table(summary, title):
    """The summary as a Markdown table (NME in % of the inter-ocular distance)."""
    s = summary
    head = (f"**{title}**: {s['faces']} faces, {s['detected']} matched, {s['missed']} missed "
            f"({100 * s['missed'] / max(s['faces'], 1):.1f} %); median inter-ocular distance "
            f"{s.get('median_iod', float('nan')):.1f} px, median box width {s.get('median_box', float('nan')):.1f} px")
    columns = ("| mode | " + " | ".join(POINTS) + " | mean NME | median | fail >10 % (detected) | fail (all) "
               "| vs onet (mean +- 95 %) | faces better than onet | bias x, y |")
    lines = [head, "", columns,
             "|---" * 13 + "|"]
    for m, v in s["modes"].items():
        pts = " | ".join(f"{100 * e:.2f}" for e in v["per_point"])
        vs = "-" if m == "onet" else f"{100 * v['diff_vs_onet']:+.2f} +- {100 * v['diff_ci95']:.2f}"
        better = "-" if m == "onet" else f"{100 * v['better_than_onet']:.1f} %"
        bias = ", ".join(f"{100 * b:+.2f}" for b in v["bias"])
        lines.append(f"| {m} | {pts} | **{100 * v['mean']:.2f}** | {100 * v['median']:.2f} | "
                     f"{100 * v['fail_detected']:.2f} % | {100 * v['fail_all']:.2f} % | {vs} | {better} | {bias} |")
    return "\n".join(lines)


def size_table(records, bins=4):
    """Markdown table of mean NME (%) per mode by inter-ocular distance: ``bins`` quantile bins of the matched faces."""
    hit = [r for r in records if r["matched"]]
    if not hit:
        return "(no matched face)"
    iod = np.array([r["iod"] for r in hit])
    edges = np.quantile(iod, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, iod, side="right") - 1, 0, bins - 1)
    lines = ["| inter-ocular distance | faces | " + " | ".join(MODES) + " | best |", "|---" * (len(MODES) + 3) + "|"]
    for b in range(bins):
        rows = [r for r, w in zip(hit, which) if w == b]
        if not rows:
            continue
        nme = {m: 100 * np.mean([np.mean(r["errors"][m]) for r in rows]) for m in MODES}
        label = f"{edges[b]:.1f}-{edges[b + 1]:.1f} px"
        lines.append(f"| {label} | {len(rows)} | " + " | ".join(f"{nme[m]:.2f}" for m in MODES)
                     + f" | {min(nme, key=nme.get)} |")
    return "\n".join(lines)


def print_report(records, label):
    """Print the summary tables (all faces, then per MTFL sub-set) and the face-size table."""
    summaries = {"all": summarise(records)}
    for group in sorted({r["name"].split("/")[0] for r in records}):
        summaries[group] = summarise([r for r in records if r["name"].startswith(group + "/")])
    for key, s in summaries.items():
        print()
        print(markdown_table(s, f"{label} {key}"))
    print()
    print(size_table(records))
    return summaries


def mtfl_items(root, faces, canvas, pad, scale=1):
    """Yield ``(name, padded image, gt)``; ``scale > 1`` enlarges the canvas (PIL bilinear) and maps
    the points with the pixel-centre rule ``x' = (x + 0.5) * scale - 0.5``."""
    for rel, gt in faces:
        image, offset = pad_crop(read_rgb(Path(root) / rel), canvas, pad)
        gt = gt + np.asarray(offset, dtype=np.float64)
        if scale != 1:
            image, gt = resize_with_points(image, gt, scale)
        yield rel, image, gt


def faces_dev_report(detector, data_dir):
    """Per-image lines for the faces_dev images with 5 points, default and lowered thresholds."""
    notes = json.loads((data_dir / "faces_dev" / "annotations.json").read_text())
    lines = []
    for entry in notes:
        if not entry.get("landmarks5"):
            continue
        image = read_rgb(data_dir / "faces_dev" / entry["image"])
        for gt in np.asarray(entry["landmarks5"], dtype=np.float64):
            boxes, scores, lmk = detect_all_modes(detector, image)
            for m in MODES:  # the shared-boxes shortcut must equal the public API
                ref = MTCNN(landmarks=m, thresholds=detector.thresholds).detect(image)
                if not (np.allclose(ref.boxes, boxes) and np.allclose(ref.landmarks, lmk[m])):
                    raise RuntimeError(f"{entry['image']}: detect_all_modes differs from MTCNN(landmarks={m!r})")
            k = match_face(boxes, gt)
            head = f"{entry['image']} thresholds {detector.thresholds}: {len(boxes)} detection(s) " \
                   f"{np.round(boxes).astype(int).tolist()} scores {np.round(scores, 3).tolist()}"
            if k < 0:
                lines.append(head + " -> annotated face MISSED")
            else:
                nmes = ", ".join(f"{m} {100 * np.mean(point_errors(lmk[m][k], gt)):.2f} %" for m in MODES)
                lines.append(head + f" -> matched #{k}; NME {nmes}")
    return lines


def timing(items, n, min_face_size=20):
    """Median seconds per ``MTCNN(landmarks=mode).detect`` call, modes interleaved, on ``n`` images."""
    dets = {m: MTCNN(landmarks=m, min_face_size=min_face_size) for m in MODES}
    images = [im for _, im, _ in items][:n]
    for d in dets.values():  # warm-up (Numba cache load)
        d.detect(images[0])
    times = {m: [] for m in MODES}
    for im in images:
        for m, d in dets.items():
            t = time.perf_counter()
            d.detect(im)
            times[m].append(time.perf_counter() - t)
    return {m: float(np.median(v)) for m, v in times.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=Path(os.environ.get("TINYMTCNN_SHARED", REPO.parent / "shared")),
                    help="the shared folder (default $TINYMTCNN_SHARED or ../shared)")
    ap.add_argument("--count", type=int, default=2000, help="MTFL faces, evenly spaced (0: all 7,650)")
    ap.add_argument("--keep-shifted", action="store_true", help="keep the net_7876/_<angle>_* faces (bad y labels)")
    ap.add_argument("--canvas", type=int, default=160, help="side of the padded MTFL image")
    ap.add_argument("--pad", choices=("edge", "grey"), default="edge")
    ap.add_argument("--scale", type=float, default=1, help="enlarge the padded canvas (bigger faces)")
    ap.add_argument("--min-face-size", type=float, default=20, help="MTCNN min_face_size (20: the default)")
    ap.add_argument("--skip-faces-dev", action="store_true")
    ap.add_argument("--timing", type=int, default=50, help="images for the per-mode timing (0: none)")
    ap.add_argument("--json", type=Path, help="write the per-face records and summaries here")
    ap.add_argument("--report", type=Path, help="only print the tables of a --json file written earlier")
    args = ap.parse_args(argv)
    if args.report:
        saved = json.loads(args.report.read_text())
        print_report(saved["records"], f"MTFL ({saved['args']})")
        return 0

    data_dir = args.shared / "data"
    t_start = time.perf_counter()
    if not args.skip_faces_dev:
        print("## faces_dev (5-point annotations)")
        for thresholds in ((0.6, 0.7, 0.7), LOW_THRESHOLDS):
            for line in faces_dev_report(MTCNN(landmarks="refine", thresholds=thresholds), data_dir):
                print("-", line)
    detector = MTCNN(landmarks="refine", min_face_size=args.min_face_size)  # holds all four nets

    root = data_dir / "mtfl_train"
    faces = load_mtfl(root, args.count, args.keep_shifted)
    print(f"\n## MTFL: {len(faces)} faces, {args.canvas}x{args.canvas} {args.pad} canvas"
          f" x {args.scale:g}, min_face_size {args.min_face_size:g}", flush=True)
    t0 = time.perf_counter()
    records = evaluate(detector, mtfl_items(root, faces, args.canvas, args.pad, args.scale), progress=250)
    eval_s = time.perf_counter() - t0
    summaries = print_report(records, "MTFL")
    print(f"\nevaluation: {eval_s:.0f} s for {len(records)} images ({1000 * eval_s / max(len(records), 1):.0f} ms "
          f"per image, cascade once + the three landmark modes)")
    if args.timing:
        t = timing(mtfl_items(root, faces[:args.timing], args.canvas, args.pad, args.scale), args.timing,
                   args.min_face_size)
        print("detect() median per image: " + ", ".join(f"{m} {1000 * v:.1f} ms" for m, v in t.items()))
    print(f"total wall time {time.perf_counter() - t_start:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "summaries": summaries, "records": records}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
