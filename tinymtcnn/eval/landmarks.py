"""Landmark accuracy: NME, cumulative error distribution (CED), AUC and failure rate.

Protocol
--------
* **Matching.** A detection is a candidate for a ground-truth face when its box contains the
  centroid of the face's five points; among the candidates the one with the largest IoU with the
  points' bounding box is matched (:func:`match_face`). A face with no candidate is *missed*.
* **NME** of a matched face: the mean over the five points of ``||p_k - g_k||`` divided by
  either the **inter-ocular distance** ``||g_left_eye - g_right_eye||`` (eye centres; the MTCNN
  paper's and MTFL's normalisation, ``norm="inter-ocular"``) or the **box size**
  ``sqrt(w * h)`` of the ground-truth face box (``norm="box"``).
* **CED**: the share of faces with NME <= e, for e from 0 up; missed faces count as an infinite
  error, so the curve of a detector that misses faces never reaches 1.
* **AUC at L** (8 % or 10 %): the area under the CED from 0 to L divided by L. The CED is a step
  function, so the area is exact: ``mean_i max(0, L - e_i) / L`` (missed faces add 0).
* **Failure rate at 10 %**: the share of faces with NME > 0.10, missed faces counted as failures
  (``failure_rate``); the rate among matched faces only is reported beside it.
"""
import numpy as np

from ..threads import limit_threads

MODES = ("onet", "mirror", "refine")
NORMS = ("inter-ocular", "box")


def match_face(boxes, gt):
    """Index of the detection matched to ``gt`` (5, 2), or -1 (see the module docstring)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if len(boxes) == 0:
        return -1
    lo, hi, (cx, cy) = gt.min(axis=0), gt.max(axis=0), gt.mean(axis=0)
    inside = (boxes[:, 0] <= cx) & (boxes[:, 1] <= cy) & (boxes[:, 2] >= cx) & (boxes[:, 3] >= cy)
    if not inside.any():
        return -1
    ix = np.clip(np.minimum(boxes[:, 2], hi[0]) - np.maximum(boxes[:, 0], lo[0]), 0, None)
    iy = np.clip(np.minimum(boxes[:, 3], hi[1]) - np.maximum(boxes[:, 1], lo[1]), 0, None)
    inter = ix * iy
    union = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) + np.prod(hi - lo) - inter
    iou = np.where(inside, inter / np.maximum(union, 1e-12), -1.0)
    return int(np.argmax(iou))


def normaliser(gt, gt_box=None, norm="inter-ocular"):
    """The length an NME divides by: inter-ocular distance of ``gt`` (5, 2) or ``sqrt(w * h)`` of ``gt_box``."""
    if norm == "inter-ocular":
        return float(np.linalg.norm(gt[0] - gt[1]))
    if norm == "box":
        if gt_box is None:
            raise ValueError("norm='box' needs the ground-truth face box")
        return float(np.sqrt(max(gt_box[2] - gt_box[0], 0.0) * max(gt_box[3] - gt_box[1], 0.0)))
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


def point_errors(pred, gt, gt_box=None, norm="inter-ocular"):
    """Per-point errors ``||p_k - g_k||`` divided by :func:`normaliser`; (5,)."""
    scale = normaliser(gt, gt_box, norm)
    if not scale > 0:
        raise ValueError(f"the ground truth's {norm} normaliser is {scale:g}; NME is undefined")
    return np.linalg.norm(np.asarray(pred, dtype=np.float64) - gt, axis=1) / scale


def nme(pred, gt, gt_box=None, norm="inter-ocular"):
    """Normalised mean error of one face: ``mean(point_errors(...))``."""
    return float(np.mean(point_errors(pred, gt, gt_box, norm)))


def ced(errors, max_error=0.10, steps=101):
    """Cumulative error distribution: ``(thresholds (steps,), share of faces with error <= t)``.

    ``errors``: per-face NME, ``inf`` or NaN for a missed face (counted, never below a threshold).
    """
    e = _errors(errors)
    t = np.linspace(0.0, max_error, steps)
    share = (e[None, :] <= t[:, None]).mean(axis=1) if len(e) else np.zeros(steps)
    return t, share


def auc(errors, limit=0.08):
    """Area under the CED from 0 to ``limit``, divided by ``limit`` (exact: ``mean max(0, limit - e) / limit``)."""
    e = _errors(errors)
    if not len(e):
        return float("nan")
    return float(np.mean(np.clip(limit - e, 0.0, None)) / limit)


def failure_rate(errors, limit=0.10):
    """Share of faces with NME > ``limit``; missed faces (inf/NaN) count as failures."""
    e = _errors(errors)
    return float(np.mean(e > limit)) if len(e) else float("nan")


def _errors(errors):
    e = np.asarray(errors, dtype=np.float64).reshape(-1)
    return np.where(np.isnan(e), np.inf, e)


def summarise(errors):
    """Numbers of one per-face NME list (missed faces as inf): counts, mean / median over matched, AUCs, failures."""
    e = _errors(errors)
    hit = e[np.isfinite(e)]
    return {"faces": int(len(e)), "matched": int(len(hit)),
            "mean": float(hit.mean()) if len(hit) else float("nan"),
            "median": float(np.median(hit)) if len(hit) else float("nan"),
            "auc_8": auc(e, 0.08), "auc_10": auc(e, 0.10),
            "failure_10": failure_rate(e, 0.10),
            "failure_10_matched": failure_rate(hit, 0.10) if len(hit) else float("nan")}


def detect_all_modes(detector, image, tuned_onet=None):
    """Run the cascade once; return 0-based ``boxes (N, 4)``, ``scores (N,)`` and ``{mode: (N, 5, 2)}``.

    The landmarks of every mode of :data:`MODES` on the same detections, as
    ``MTCNN(landmarks=mode)`` would give them (same order, frame and thread settings; the
    detector needs LNet, i.e. ``landmarks="refine"`` or ``"auto"``), plus ``"refine_mirror"``:
    LNet applied to the mirror points, which ``"auto"`` blends in for larger faces; with ``tuned_onet``
    (:func:`~tinymtcnn.weights.with_tuned_landmark_head`) also ``"tuned"``, as ``MTCNN(landmarks="tuned")``
    gives it. Raises ``RuntimeError`` if the mirrored or tuned O-Net pass changed a box (the modes would
    not share detections).
    """
    from ..detect.boxes import points_to_zero_based, to_zero_based
    from ..detect.stages import output, propose, refine, refine_landmarks
    from ..nets import ONet

    if tuned_onet is not None and not isinstance(tuned_onet, ONet):
        raise TypeError(f"tuned_onet must be an ONet (with_tuned_landmark_head), got {type(tuned_onet).__name__}")

    with limit_threads(detector.num_threads, blas=1):
        nets, (t1, t2, t3) = detector.nets, detector.thresholds
        s1 = propose(image, nets["pnet"], min_face_size=detector.min_face_size,
                     scale_factor=detector.scale_factor, threshold=t1)
        s2 = refine(image, s1.boxes, nets["rnet"], threshold=t2)
        plain = output(image, s2.boxes, nets["onet"], threshold=t3, mirror=False)
        mirrored = output(image, s2.boxes, nets["onet"], threshold=t3, mirror=True)
        others = {"mirror": mirrored}
        if tuned_onet is not None:
            others["tuned"] = output(image, s2.boxes, tuned_onet, threshold=t3, mirror=True, pixel_flip=True)
        for mode, faces in others.items():
            if not (np.array_equal(plain.boxes, faces.boxes) and np.array_equal(plain.scores, faces.scores)):
                raise RuntimeError(f"the {mode} O-Net pass changed the boxes: the modes would not share detections")
        lmk = {"onet": plain.landmarks, "mirror": mirrored.landmarks,
               "refine": refine_landmarks(image, plain.boxes, plain.landmarks, nets["lnet"]),
               "refine_mirror": refine_landmarks(image, mirrored.boxes, mirrored.landmarks, nets["lnet"])}
        if tuned_onet is not None:
            lmk["tuned"] = others["tuned"].landmarks
    order = np.argsort(-plain.scores, kind="stable")  # the stages' 1-based boxes and points to 0-based, as MTCNN
    return (to_zero_based(plain.boxes)[order], plain.scores[order],
            {m: points_to_zero_based(v)[order] for m, v in lmk.items()})
