"""Detection metrics: WIDER FACE-style precision-recall and AP, FDDB's discrete ROC, recall at IoU, sizes.

Protocols
---------
* **Matching (boxes).** In each photo the detections are taken by descending score; each one is
  matched to the not yet matched ground-truth face with the largest IoU if that IoU is >= the
  threshold (0.5) (:func:`tinymtcnn.train.cascade.match_detections`): a true positive. An
  unmatched detection whose IoU with an *ignored* face (WIDER ``invalid``, JSON ``ignore``, or a
  face outside the chosen easy/medium/hard list) is >= the threshold is dropped, neither true
  nor false; every other one is a false positive. Ignored faces are not counted in the recall.
* **Precision-recall and AP.** All detections of the set sorted by score (ties: stable);
  precision ``TP / (TP + FP)`` and recall ``TP / faces`` after each one. AP is the area under
  the interpolated curve (VOC 2010+ "all points"): precision is replaced by its running maximum
  from the right, then summed over the recall steps. (WIDER's own MATLAB code samples 1,000
  score thresholds instead, and assigns a detection to the best-overlapping face even if that
  one is already taken; see ``docs/evaluation.md`` for the measured difference.)
* **FDDB discrete ROC.** Ground truth are ellipses; the overlap of a detection box with a face
  is the IoU of the box with the **elliptical region** (FDDB's own rule, computed here by
  integrating the ellipse's vertical chords over the box's columns, not by rasterising), and a
  pair with IoU > 0.5 scores 1. Pairs are matched one-to-one, greedily by descending IoU (FDDB
  uses a maximum-weight bipartite matching; the two differ only when one detection overlaps two
  faces by more than 0.5, which two disjoint faces cannot both do). The curve gives, for every
  score threshold, the true-positive rate against the total number of false positives.
* **Recall at IoU** (box-only sets such as Caltech, whose photos have unannotated faces): the
  share of faces matched at each IoU threshold; no precision.
* **Sizes.** Faces are binned by ``sqrt(w * h)`` of their box; the recall at IoU 0.5 per bin.
"""
import numpy as np

from ..train.cascade import match_detections
from ..train.samples import iou_matrix

SIZE_EDGES = (0, 20, 40, 80, 160, np.inf)


def label_detections(boxes, scores, gt, ignored=None, iou_threshold=0.5):
    """Per detection 1 (true positive), 0 (false positive) or -1 (matches an ignored face); and per face matched.

    Returns ``(labels (N,) int, matched (K,) bool)``; see the module docstring.
    """
    boxes, gt = np.asarray(boxes, dtype=np.float64).reshape(-1, 4), np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    labels, matched = np.zeros(len(boxes), dtype=int), np.zeros(len(gt), dtype=bool)
    for i, j in match_detections(boxes, scores, gt, iou_threshold):
        labels[i], matched[j] = 1, True
    ignored = np.zeros((0, 4)) if ignored is None else np.asarray(ignored, dtype=np.float64).reshape(-1, 4)
    if len(ignored) and len(boxes):
        near_ignored = iou_matrix(boxes, ignored).max(axis=1) >= iou_threshold
        labels[(labels == 0) & near_ignored] = -1
    return labels, matched


def precision_recall(labels, scores, n_faces):
    """Precision, recall (one value per counted detection, best score first) and AP.

    ``labels``/``scores``: all photos' detections concatenated (labels from :func:`label_detections`;
    -1 are left out). Returns ``(precision, recall, scores sorted, ap)``; AP is NaN without faces.
    """
    labels, scores = np.asarray(labels).reshape(-1), np.asarray(scores, dtype=np.float64).reshape(-1)
    keep = labels >= 0
    order = np.argsort(-scores[keep], kind="stable")
    hits, ranked = labels[keep][order], scores[keep][order]
    tp = np.cumsum(hits == 1)
    precision = tp / np.arange(1, len(hits) + 1)
    recall = tp / n_faces if n_faces else np.full(len(hits), np.nan)
    return precision, recall, ranked, average_precision(precision, recall) if n_faces else float("nan")


def average_precision(precision, recall):
    """VOC all-point AP: ``sum (r_i - r_{i-1}) * max_{j >= i} p_j`` with ``r_0 = 0``."""
    if len(precision) == 0:
        return 0.0
    envelope = np.maximum.accumulate(np.asarray(precision)[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(steps * envelope))


# ----------------------------------------------------------------------------- FDDB
def ellipse_box_overlap(ellipse, box, samples=512):
    """Area of the intersection of an ellipse ``(major, minor, angle, cx, cy)`` with ``box`` and the IoU.

    ``angle`` in radians from the x axis, along which the ``major`` radius lies (FDDB's file
    order). Over the columns ``x`` of the box (``samples`` midpoints) the vertical chord of the
    ellipse is intersected with ``[y1, y2]``; the area is the sum of the clipped chord lengths
    times the column width (midpoint rule; relative error below 1e-4 for 512 samples).
    """
    a, b, t, cx, cy = (float(v) for v in ellipse)
    x1, y1, x2, y2 = (float(v) for v in box)
    box_area = max(x2 - x1, 0.0) * max(y2 - y1, 0.0)
    ellipse_area = np.pi * a * b
    if box_area == 0:
        return 0.0, 0.0
    c, s = np.cos(t), np.sin(t)
    # points (x, y) with (u/a)^2 + (v/b)^2 <= 1, u = c dx + s dy, v = -s dx + c dy: A dy^2 + B dy + C <= 0
    dx = x1 + (np.arange(samples) + 0.5) * (x2 - x1) / samples - cx
    qa = (s / a) ** 2 + (c / b) ** 2
    qb = 2 * dx * c * s * (1 / a ** 2 - 1 / b ** 2)
    qc = dx ** 2 * ((c / a) ** 2 + (s / b) ** 2) - 1
    disc = qb ** 2 - 4 * qa * qc
    root = np.sqrt(np.clip(disc, 0, None))
    lo, hi = cy + (-qb - root) / (2 * qa), cy + (-qb + root) / (2 * qa)
    chord = np.where(disc > 0, np.clip(np.minimum(hi, y2) - np.maximum(lo, y1), 0, None), 0.0)
    inter = float(chord.sum() * (x2 - x1) / samples)
    return inter, inter / (box_area + ellipse_area - inter)


def label_fddb(boxes, ellipses, iou_threshold=0.5):
    """FDDB matching of one photo: per detection 1 (matched with IoU > threshold) or 0; faces matched (K,)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    ellipses = np.asarray(ellipses, dtype=np.float64).reshape(-1, 5)
    overlap = np.array([[ellipse_box_overlap(e, b)[1] for e in ellipses] for b in boxes]).reshape(len(boxes),
                                                                                                   len(ellipses))
    labels, matched = np.zeros(len(boxes), dtype=int), np.zeros(len(ellipses), dtype=bool)
    for flat in np.argsort(-overlap, axis=None, kind="stable"):
        i, j = divmod(int(flat), len(ellipses))
        if overlap[i, j] <= iou_threshold:
            break
        if labels[i] == 0 and not matched[j]:
            labels[i], matched[j] = 1, True
    return labels, matched


def discrete_roc(labels, scores, n_faces):
    """FDDB's discrete ROC: for each distinct score (high to low) ``(false positives, true-positive rate, score)``."""
    labels, scores = np.asarray(labels).reshape(-1), np.asarray(scores, dtype=np.float64).reshape(-1)
    keep = labels >= 0
    order = np.argsort(-scores[keep], kind="stable")
    hits, ranked = labels[keep][order], scores[keep][order]
    tp, fp = np.cumsum(hits == 1), np.cumsum(hits == 0)
    last = np.r_[ranked[1:] != ranked[:-1], True] if len(ranked) else np.zeros(0, dtype=bool)  # one point per score
    return fp[last], tp[last] / max(n_faces, 1), ranked[last]


def tpr_at_fp(fp, tpr, false_positives):
    """The ROC's true-positive rate with at most ``false_positives`` false positives (0 if none qualifies)."""
    ok = np.asarray(fp) <= false_positives
    return float(np.max(np.asarray(tpr)[ok])) if ok.any() else 0.0


# ----------------------------------------------------------------------------- recall and sizes
def face_sizes(boxes):
    """``sqrt(w * h)`` of each box (K, 4)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.sqrt(np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None))


def recall_by_size(sizes, matched, edges=SIZE_EDGES):
    """``[{"bin": "20-40 px", "faces": n, "recall": r}, ...]`` of faces binned by size."""
    sizes, matched = np.asarray(sizes, dtype=np.float64), np.asarray(matched, dtype=bool)
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (sizes >= lo) & (sizes < hi)
        label = f">= {lo:g} px" if np.isinf(hi) else f"{lo:g}-{hi:g} px"
        rows.append({"bin": label, "faces": int(inside.sum()),
                     "recall": float(matched[inside].mean()) if inside.any() else float("nan")})
    return rows
