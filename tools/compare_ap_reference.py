"""tinymtcnn.eval's AP against an independent implementation (PyPI ``mean-average-precision``), dev only.

    python tools/compare_ap_reference.py dump /tmp/ap_cases.json            # tinymtcnn's side (this env)
    python -m venv /tmp/venv_map && /tmp/venv_map/bin/pip install mean-average-precision==2024.1.5.0
    /tmp/venv_map/bin/python tools/compare_ap_reference.py check /tmp/ap_cases.json   # the package's side

Dev tool (never imported by the package; the package is not a dependency). Cases: 200 random sets of
photos (seeded: 1-4 faces, detections near faces, random false positives and duplicates) and the
authors' detector on faces_dev when ``../shared`` is present.
The package is given boxes as inclusive pixel corners ``x2 - 1, y2 - 1`` (it adds 1 to widths), the
ignored faces as ``difficult``, and ``mpolicy="soft"`` (a detection may take the next best free face,
as tinymtcnn's matching does). Its IoU test is ``>``, tinymtcnn's ``>=``: ties at exactly 0.5 differ.
Ignored faces are not compared: mean-average-precision 2024.1.5.0 counts ``difficult`` faces in the
recall's denominator (VOC and WIDER do not), and its match table gives detection ``i`` the flag of
face ``i`` for every face (``compute_match_table`` tiles ``gt[:, 5]`` along the wrong axis), so its
ignore handling is wrong; tinymtcnn's is checked by the hand-worked case in tests/test_eval_metrics.py.
"""
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def random_case(rng):
    photos = []
    for _ in range(int(rng.integers(3, 9))):
        n = int(rng.integers(1, 5))
        xy = rng.uniform(0, 400, (n, 2))
        side = rng.uniform(15, 80, (n, 1))
        gt = np.hstack([xy, xy + side])
        ignored = np.zeros(n, dtype=bool)  # the package mishandles difficult faces (see the docstring)
        dets = [g + rng.normal(0, 0.12 * (g[2] - g[0]), 4) for g in gt if rng.random() < 0.8]
        dets += [d + rng.normal(0, 3, 4) for d in dets[:1] if rng.random() < 0.3]  # a duplicate
        for _ in range(int(rng.integers(0, 3))):  # false positives
            p = rng.uniform(0, 400, 2)
            dets.append(np.r_[p, p + rng.uniform(15, 80)])
        dets = np.array(dets).reshape(-1, 4)
        dets[:, 2:] = np.maximum(dets[:, 2:], dets[:, :2] + 1)
        photos.append({"gt": gt[~ignored].tolist(), "ignored": gt[ignored].tolist(), "boxes": dets.tolist(),
                       "scores": rng.random(len(dets)).round(6).tolist()})
    return photos


def ours(photos):
    from tinymtcnn.eval.detection import label_detections, precision_recall

    labels = [label_detections(p["boxes"], p["scores"], p["gt"], p["ignored"])[0] for p in photos]
    scores = [p["scores"] for p in photos]
    n = sum(len(p["gt"]) for p in photos)
    return precision_recall(np.concatenate(labels), np.concatenate(scores), n)[3]


def dump(path):
    rng = np.random.default_rng(0)
    cases = [{"name": f"random {i}", "photos": random_case(rng)} for i in range(200)]
    shared = Path(os.environ.get("TINYMTCNN_SHARED", REPO.parent / "shared")) / "data" / "faces_dev"
    if shared.is_dir():
        from tinymtcnn import MTCNN
        from tinymtcnn.eval.datasets import load_set

        data, det, photos = load_set(shared / "annotations.json"), MTCNN(num_threads=1), []
        for i in range(len(data)):
            image, a = data.image(i)
            f = det.detect(image)
            photos.append({"gt": a.boxes.tolist(), "ignored": a.ignored.tolist(), "boxes": f.boxes.tolist(),
                           "scores": f.scores.tolist()})
        cases.append({"name": "faces_dev, authors' detector", "photos": photos})
    for c in cases:
        c["ap_tinymtcnn"] = ours(c["photos"])
    Path(path).write_text(json.dumps(cases))
    print(f"{len(cases)} cases -> {path}")


def check(path):
    from mean_average_precision import MetricBuilder

    cases, diffs = json.loads(Path(path).read_text()), []
    for c in cases:
        metric = MetricBuilder.build_evaluation_metric("map_2d", async_mode=False, num_classes=1)
        for p in c["photos"]:
            inclusive = lambda b: np.asarray(b, dtype=float).reshape(-1, 4) - [0, 0, 1, 1]  # noqa: E731
            preds = np.hstack([inclusive(p["boxes"]), np.zeros((len(p["boxes"]), 1)),
                               np.asarray(p["scores"]).reshape(-1, 1)])
            gt = np.vstack([np.hstack([inclusive(p["gt"]), np.zeros((len(p["gt"]), 3))]),
                            np.hstack([inclusive(p["ignored"]), np.zeros((len(p["ignored"]), 1)),
                                       np.ones((len(p["ignored"]), 1)), np.zeros((len(p["ignored"]), 1))])])
            metric.add(preds, gt)
        theirs = float(metric.value(iou_thresholds=0.5, mpolicy="soft")["mAP"])
        diffs.append(abs(theirs - c["ap_tinymtcnn"]))
        if not c["name"].startswith("random") or diffs[-1] > 1e-6:
            print(f"{c['name']}: tinymtcnn AP {c['ap_tinymtcnn']:.6f}, mean-average-precision {theirs:.6f}")
    d = np.array(diffs)
    print(f"{len(d)} cases: largest |difference| {d.max():.2e}; {int((d > 1e-6).sum())} differ by more than 1e-6")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("dump", "check"):
        sys.exit(__doc__)
    if sys.argv[1] == "dump":
        sys.path.insert(0, str(REPO))
        dump(sys.argv[2])
    else:
        check(sys.argv[2])
