"""Run detectors over an :class:`~tinymtcnn.eval.datasets.EvalSet` and compute every metric that applies.

Examples
--------
>>> from tinymtcnn import MTCNN
>>> from tinymtcnn.eval import load_set, evaluate
>>> data = load_set("val_bbx_gt.txt", images="images")              # doctest: +SKIP
>>> result = evaluate({"authors": MTCNN()}, data)                    # doctest: +SKIP
>>> result["detectors"]["authors"]["detection"]["ap"]                # doctest: +SKIP
"""
import dataclasses
from pathlib import Path

import numpy as np

from . import detection as det_metrics
from . import landmarks as lmk_metrics
from .datasets import EvalSet, split_faces

FP_MARKS = (10, 50, 100, 500)


def detect_photo(detector, data, i):
    """``(boxes, scores, landmarks)`` (0-based) of ``detector`` on photo ``i`` of ``data``."""
    image, _ = data.image(i)
    faces = detector.detect(image)
    return faces.boxes, faces.scores, faces.landmarks


def detector_settings(detector):
    """The keyword arguments that rebuild ``detector`` (an :class:`~tinymtcnn.MTCNN`) on a Dask worker:
    :meth:`~tinymtcnn.MTCNN.settings`.

    Raises
    ------
    TypeError
        ``detector`` is not an ``MTCNN``: a worker builds its own detector from these settings.
    """
    from ..detect.detector import MTCNN

    if not isinstance(detector, MTCNN):
        raise TypeError(f"evaluating on a Dask cluster needs MTCNN detectors (each worker builds its own from "
                        f"their settings and weights), got {type(detector).__name__}")
    return detector.settings()


def _detect_task(task):
    """One photo on a Dask worker: ``task = (options, one-photo set)``; the worker's cached detector."""
    from ..distributed import worker_detector

    options, photo = task
    return detect_photo(worker_detector(options), photo, 0)


def run_detector(detector, data, progress=True, label="", client=None):
    """Detections of ``detector`` on every photo: list of ``(boxes, scores, landmarks)`` (0-based).

    ``client``: a ``distributed.Client``; the photos are then detected on its workers, as
    :func:`tinymtcnn.distributed.detect_paths` does: each task carries the detector's settings
    (:func:`detector_settings`, weights by path) and one photo's annotation, and each worker process
    builds one detector per settings, once. One thread per detection unless the detector says
    otherwise; workers read the photos and weights at the same paths. A worker lost mid-run costs only
    its photos in flight, which Dask runs again elsewhere. Same results as the local run, and the same
    progress bar (on stderr: the command line's stdout carries the results; Dask's dashboard shows
    the tasks as ``tinymtcnn-evaluate-...``).
    """
    from tqdm import tqdm

    def bar(items):
        return tqdm(items, total=len(data), desc=f"evaluate {label}".strip(), unit="photo", disable=not progress,
                    leave=False)

    if client is None:
        return [detect_photo(detector, data, i) for i in bar(range(len(data)))]
    from ..distributed import detector_options, run_on_client

    options = detector_options(detector_settings(detector))

    def photo(i):
        a = data.annotations[i]
        return EvalSet(data.name, data.kind, [dataclasses.replace(a, path=Path(a.path).absolute())])

    tasks = ((i, (options, photo(i))) for i in range(len(data)))
    found = [None] * len(data)
    for i, result, error in bar(run_on_client(client, _detect_task, tasks, name="tinymtcnn-evaluate")):
        if error is not None:
            raise ValueError(f"{data.annotations[i].path}: {error}")
        found[i] = result
    return found


def detection_metrics(data, found, iou_threshold=0.5, setting=None):
    """PR/AP, recall at IoU 0.3 / 0.5, recall by size (and the FDDB ROC for ellipse sets) of one detector."""
    labels, scores, sizes, matched = [], [], [], {0.3: [], 0.5: []}
    fddb_labels, n_faces = [], 0
    for a, (boxes, sc, _) in zip(data.annotations, found):
        gt, ignored = a.boxes, a.ignored
        if setting is not None:
            gt, ignored = split_faces(a, data.splits[setting].get(a.path.stem, set()))
        lab, hit = det_metrics.label_detections(boxes, sc, gt, ignored, iou_threshold)
        labels.append(lab)
        scores.append(sc)
        n_faces += len(gt)
        sizes.append(det_metrics.face_sizes(gt))
        matched[0.5].append(hit)
        matched[0.3].append(det_metrics.label_detections(boxes, sc, gt, ignored, 0.3)[1])
        if a.ellipses is not None:
            fddb_labels.append(det_metrics.label_fddb(boxes, a.ellipses, iou_threshold)[0])
    cat = (lambda parts: np.concatenate(parts) if parts else np.zeros(0))  # noqa: E731
    precision, recall, ranked, ap = det_metrics.precision_recall(cat(labels), cat(scores), n_faces)
    out = {"faces": n_faces, "detections": int(sum(len(s) for s in scores)), "ap": ap,
           "recall_at_0.3": float(cat(matched[0.3]).mean()) if n_faces else float("nan"),
           "recall_at_0.5": float(cat(matched[0.5]).mean()) if n_faces else float("nan"),
           "by_size": det_metrics.recall_by_size(cat(sizes), cat(matched[0.5])),
           "pr": {"precision": precision.tolist(), "recall": recall.tolist(), "scores": ranked.tolist()}}
    if fddb_labels:
        fp, tpr, thr = det_metrics.discrete_roc(cat(fddb_labels), cat(scores), n_faces)
        out["roc"] = {"false_positives": fp.tolist(), "tpr": tpr.tolist(), "scores": thr.tolist()}
        out["tpr_at_fp"] = {str(m): det_metrics.tpr_at_fp(fp, tpr, m) for m in FP_MARKS}
    return out


def landmark_metrics(data, found):
    """NME (inter-ocular and box) summaries and CED curves over the faces with five points."""
    errors = {norm: [] for norm in lmk_metrics.NORMS}
    for i, (boxes, _, landmarks) in enumerate(found):
        a = data.annotations[i]
        if a.landmarks is None:
            continue
        if data.kind == "landmarks":
            _, a = data.image(i)  # the padded frame the detector saw
        for gt, gt_box in zip(a.landmarks, a.boxes):
            k = lmk_metrics.match_face(boxes, gt)
            for norm in lmk_metrics.NORMS:
                errors[norm].append(np.inf if k < 0 else lmk_metrics.nme(landmarks[k], gt, gt_box, norm))
    out = {}
    for norm, e in errors.items():
        t, share = lmk_metrics.ced(e, 0.10 if norm == "inter-ocular" else 0.05)
        out[norm] = dict(lmk_metrics.summarise(e), ced={"error": t.tolist(), "share": share.tolist()})
    return out


def evaluate(detectors, data, *, progress=True, iou_threshold=0.5, client=None):
    """Evaluate ``{name: detector}`` (anything with ``detect(image) -> Detections``) on ``data``;
    on the Dask cluster of ``client`` when given (:func:`run_detector`).

    Returns a JSON-ready dict: ``{"set": ..., "detectors": {name: {"detection": ..., "settings":
    {"easy": ...}, "landmarks": ..., "seconds_per_photo": ...}}}``; ``detection`` is absent for
    landmark lists, ``landmarks`` for sets without five points.
    """
    import time

    if not detectors:
        raise ValueError("no detector to evaluate")
    result = {"set": {"name": data.name, "kind": data.kind, "photos": len(data),
                      "faces": int(sum(len(a.boxes) for a in data.annotations)),
                      "ignored": int(sum(0 if a.ignored is None else len(a.ignored) for a in data.annotations)),
                      "faces_with_landmarks": int(sum(len(a.landmarks) for a in data.annotations
                                                      if a.landmarks is not None))},
              "iou_threshold": iou_threshold, "detectors": {}}
    for name, detector in detectors.items():
        start = time.perf_counter()
        found = run_detector(detector, data, progress, name, client)
        entry = {"detector": repr(detector), "seconds_per_photo": (time.perf_counter() - start) / max(len(data), 1)}
        if data.scores_boxes:
            entry["detection"] = detection_metrics(data, found, iou_threshold)
            if data.splits:
                entry["settings"] = {s: detection_metrics(data, found, iou_threshold, s) for s in data.splits}
        if data.has_landmarks:
            entry["landmarks"] = landmark_metrics(data, found)
        result["detectors"][name] = entry
    return result
