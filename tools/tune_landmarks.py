"""Fine-tune O-Net's landmark head on MTFL with the package's trainer (issue 13's "moonshot").

    python tools/tune_landmarks.py OUT                 # collect samples, train, evaluate (resumable)
    python tools/tune_landmarks.py OUT --ship          # + write tinymtcnn/weights/data/onet_landmarks_tuned.npz

Dev tool (never imported by the package); needs ``../shared/data`` (or ``TINYMTCNN_SHARED``). OUT
must be outside the repository: it holds crops of MTFL faces (research use only).

Protocol
--------
* **Data.** ``mtfl_train/training.txt`` split by ``tools/split_mtfl.py``'s rule: the 765 hold-out
  faces are never trained on; the 2,350 pose-binned web faces with shifted labels are left out; the
  other 6,885 faces are split by face into fit (90 %) and validation (10 %). Each 80x80 crop is
  centred on a 160x160 edge-padded canvas, exactly as the evaluation shows it to the detector
  (:meth:`tinymtcnn.eval.datasets.EvalSet.image`), and resized to two more sizes (:func:`collect`).
* **Samples are the detector's own O-Net inputs.** The authors' P-Net and R-Net run on each canvas
  (default settings); every R-Net output box (squared, truncated: what O-Net is given) that is
  the one the evaluation matches to the face
  (:func:`tinymtcnn.eval.landmarks.match_face`) or overlaps it by IoU >= 0.5 becomes a 48x48
  sample, its target the ground-truth points in box units (the inverse
  of :func:`tinymtcnn.detect.boxes.decode_landmarks`). So the head learns on the boxes it will see.
* **Only the landmark head trains** (``conv6-3``, 256 -> 10, 2,570 numbers): ``TrainConfig(trainable=
  ("conv6-3",), task_weights=(0, 0, 1))`` on the authors' O-Net, dropout off, random mirror flips.
  Every other weight is the authors', so boxes and scores are unchanged.
* **Evaluation**: the MTFL hold-out (765 faces) and faces_dev's five-point faces, ``mirror`` / ``auto``
  with the authors' head against ``MTCNN(landmarks="tuned")``, written to ``OUT/evaluation.json``.
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

from shared_data import DATA  # noqa: E402
from split_mtfl import write_lists  # noqa: E402
from tinymtcnn.atomic import atomic_write_text  # noqa: E402
from tinymtcnn.detect.boxes import to_zero_based, truncate_boxes  # noqa: E402
from tinymtcnn.detect.crops import crop_and_resize  # noqa: E402
from tinymtcnn.detect.stages import propose, refine  # noqa: E402
from tinymtcnn.eval.datasets import load_set  # noqa: E402
from tinymtcnn.eval.images import resize_with_points  # noqa: E402
from tinymtcnn.eval.landmarks import match_face  # noqa: E402
from tinymtcnn.threads import limit_threads  # noqa: E402
from tinymtcnn.train.losses import LANDMARK  # noqa: E402
from tinymtcnn.train.samples import iou  # noqa: E402
from tinymtcnn.train.sampleset import SampleSet, denormalize_images  # noqa: E402
from tinymtcnn.weights import load_net  # noqa: E402

HEAD = "conv6-3"
SHIPPED = REPO / "tinymtcnn" / "weights" / "data" / "onet_landmarks_tuned.npz"


def shared_data():
    root = DATA
    if not (root / "mtfl_train" / "training.txt").is_file():
        sys.exit(f"tune_landmarks: {root}/mtfl_train/training.txt not found (set TINYMTCNN_SHARED)")
    return root


def box_targets(boxes, points):
    """Planar targets (K, 10) of 1-based O-Net input boxes for 0-based points (5, 2): the inverse of
    ``decode_landmarks`` followed by ``points_to_zero_based`` (``X = w * l + x1 - 1``, as the detector
    reports it)."""
    w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
    h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
    xs = (points[None, :, 0] - boxes[:, 0:1] + 1) / w
    ys = (points[None, :, 1] - boxes[:, 1:2] + 1) / h
    return np.concatenate([xs, ys], axis=1)


def covering(boxes, points, min_iou=0.5):
    """Mask of 1-based boxes around the face: the box the evaluation would match to the points
    (:func:`tinymtcnn.eval.landmarks.match_face`, on 0-based boxes) and every box that overlaps it by
    ``min_iou`` and contains the points' centre."""
    zb = to_zero_based(boxes)  # as the evaluation's match_face sees them
    best = match_face(zb, points)
    if best < 0:
        return np.zeros(len(boxes), dtype=bool)
    cx, cy = points.mean(axis=0)
    inside = (zb[:, 0] <= cx) & (zb[:, 1] <= cy) & (zb[:, 2] >= cx) & (zb[:, 3] >= cy)
    return inside & (iou(zb[best], zb) >= min_iou)


def face_samples(image, points, index, pnet, rnet, min_face_size, max_boxes=None, rng=None):
    """The sample arrays of one face: the O-Net inputs around it (at most ``max_boxes``, the matched
    box first), or None when no R-Net box covers it."""
    s1 = propose(image, pnet, min_face_size=min_face_size)
    s2 = refine(image, s1.boxes, rnet)
    boxes = truncate_boxes(s2.boxes)
    keep = covering(boxes, points) if len(boxes) else np.zeros(0, dtype=bool)
    if not keep.any():
        return None
    boxes = boxes[keep]
    if max_boxes is not None and len(boxes) > max_boxes:
        boxes = boxes[np.sort(rng.choice(len(boxes), max_boxes, replace=False))]
    crops = crop_and_resize(image, boxes, 48)
    raw = denormalize_images(crops)
    k = len(boxes)
    return {"images": raw, "labels": np.full(k, LANDMARK, np.int8), "boxes": np.zeros((k, 4), np.float32),
            "landmarks": box_targets(boxes, points).astype(np.float32),
            "sides": (boxes[:, 2] - boxes[:, 0] + 1).astype(np.float32), "photos": np.full(k, index, np.int32)}


def collect(list_path, images, *, sizes=2, max_boxes=4, seed=0, log=print):
    """A :class:`SampleSet` of 48x48 O-Net inputs with landmark targets, one photo index per face.

    Each face gives its samples at its native size (every covering box) and at ``sizes`` more sizes
    (at most ``max_boxes`` boxes each): the canvas resized so that the eye distance is drawn
    log-uniformly in [10, 113] px (the size bins of docs/landmark_modes.md), with
    ``min_face_size = max(12, 1.3 x eye distance)`` as there. Without them the head fits the blur of
    MTFL's small crops and loses on larger faces.
    """
    faces = load_set(list_path, images=images, kind="landmarks")
    pnet, rnet = load_net("pnet"), load_net("rnet")
    parts, t0 = [], time.perf_counter()
    with limit_threads(1, blas=1):
        for i in range(len(faces)):
            image, ann = faces.image(i)
            points = np.asarray(ann.landmarks[0], dtype=np.float64)
            got = [face_samples(image, points, i, pnet, rnet, 20)]
            rng = np.random.default_rng([seed, i])
            iod = float(np.linalg.norm(points[0] - points[1]))
            for _ in range(sizes):
                target = float(np.exp(rng.uniform(np.log(10), np.log(113))))
                img, pts = resize_with_points(image, points, target / iod)
                got.append(face_samples(img, pts, i, pnet, rnet, max(12.0, 1.3 * target), max_boxes, rng))
            parts += [g for g in got if g is not None]
            if (i + 1) % 1000 == 0:
                log(f"  {i + 1}/{len(faces)} faces, {sum(len(p['labels']) for p in parts)} samples, "
                    f"{time.perf_counter() - t0:.0f} s")
    return SampleSet({k: np.concatenate([p[k] for p in parts]) for k in parts[0]}, 48)


def tuning_config(epochs, lr, seed=0):
    """Only the landmark head trains, on the landmark term alone, every sample kept (no OHEM)."""
    from tinymtcnn.train.trainer import TrainConfig

    return TrainConfig(epochs=epochs, batch_size=128, optimizer="sgd", lr=lr, momentum=0.9, weight_decay=5e-4,
                       schedule="cosine", ohem=None, task_weights=(0.0, 0.0, 1.0), flip=True,
                       trainable=(HEAD,), num_threads=1, seed=seed)


def authors_onet_for_tuning():
    """The authors' O-Net with dropout off (the trunk is frozen: dropout would only add noise)."""
    from tinymtcnn.layers.modules import Dropout

    net = load_net("onet")
    for _, m in net.named_modules():
        if isinstance(m, Dropout):
            m.p = 0.0
    return net


def train_head(samples, out, *, epochs, lr, log=print):
    """Fine-tune ``conv6-3`` with :class:`~tinymtcnn.train.trainer.Trainer` (resumable); returns the net."""
    from tinymtcnn.train.trainer import Trainer

    fit, val = samples.split(0.1, seed=0)  # by face: every box of a face on the same side
    log(f"training on {len(fit)} samples ({len(np.unique(fit['photos']))} faces), "
        f"validating on {len(val)} ({len(np.unique(val['photos']))} faces)")
    trainer = Trainer("onet", out, tuning_config(epochs, lr), net=authors_onet_for_tuning(), log=log,
                      progress=False)
    trainer.fit(fit, val, resume=True)
    return trainer.net


def evaluate_head(onet_path, holdout_list, data, *, log=print):
    """NME of the authors' modes and of the tuned head on the MTFL hold-out and faces_dev.

    The detectors share boxes (only the landmark head differs); "tuned" is ``MTCNN(landmarks="tuned")``
    with this run's head, "tuned_onet" that head without the mirror average. Returns a JSON-ready dict.
    """
    from tinymtcnn import MTCNN
    from tinymtcnn.eval import evaluate
    from tinymtcnn.weights import with_tuned_landmark_head

    tuned = MTCNN(landmarks="tuned", num_threads=1)  # the shipped head, replaced by this run's
    tuned.nets["onet"] = with_tuned_landmark_head(load_net("onet"), head_file(onet_path))
    tuned_plain = MTCNN(landmarks="onet", num_threads=1)
    tuned_plain.nets["onet"] = tuned.nets["onet"]
    detectors = {"authors/onet": MTCNN(landmarks="onet", num_threads=1),
                 "authors/mirror": MTCNN(landmarks="mirror", num_threads=1),
                 "authors/auto": MTCNN(landmarks="auto", num_threads=1),
                 "tuned_onet": tuned_plain, "tuned": tuned}
    sets = {"mtfl_holdout": load_set(holdout_list, images=data / "mtfl_train", kind="landmarks"),
            "faces_dev": load_set(data / "faces_dev" / "annotations.json")}
    report = {"summary": {}, "results": {}}
    for name, eval_set in sets.items():
        t = time.perf_counter()
        result = evaluate(detectors, eval_set, progress=False)
        report["results"][name] = result
        report["summary"][name] = {d: landmark_summary(result, d) for d in detectors}
        log(f"{name}: {time.perf_counter() - t:.0f} s")
    return report


def landmark_summary(result, detector):
    """Mean / median NME (inter-ocular, %), failures > 10 % and matched faces of one detector."""
    m = result["detectors"][detector]["landmarks"]["inter-ocular"]
    return {k: m[k] for k in m if k != "ced"}


def head_file(onet_path):
    """Write the landmark head of a trained ``onet.npz`` alone, beside it; returns that path."""
    from tinymtcnn.weights import TUNED_HEAD, save_params_npz

    net = load_net("onet", onet_path)
    head = {k: np.asarray(v) for k, v in net.params.items() if k.rpartition(".")[0] == TUNED_HEAD}
    path = Path(onet_path).with_name("onet_landmarks_tuned.npz")
    save_params_npz(path, head, "natural", source=PROVENANCE)
    return path


PROVENANCE = ("O-Net landmark head (conv6-3) fine-tuned by tinymtcnn's tools/tune_landmarks.py on the MTFL "
              "training faces (Zhang et al. 2014, research use only) minus tools/split_mtfl.py's hold-out, on "
              "top of the authors' MTCNN O-Net (MIT licence)")


def ship_head(onet_path, args):
    """Copy the tuned head into the package (:data:`SHIPPED`) with its provenance."""
    import shutil

    shutil.copyfile(head_file(onet_path), SHIPPED)
    print(f"wrote {SHIPPED.relative_to(REPO)} ({SHIPPED.stat().st_size} bytes)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="work folder (outside the repository: MTFL crops are research-use)")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--stage", choices=("collect", "train", "evaluate", "all"), default="all")
    ap.add_argument("--ship", action="store_true", help=f"write the tuned head to {SHIPPED.relative_to(REPO)}")
    args = ap.parse_args(argv)
    if REPO in args.out.resolve().parents or args.out.resolve() == REPO:
        ap.error(f"{args.out} is inside the repository; MTFL-derived files must stay outside it")
    args.out.mkdir(parents=True, exist_ok=True)
    data = shared_data()
    t0 = time.perf_counter()
    lists, _ = write_lists(data / "mtfl_train" / "training.txt", args.out)
    samples_path = args.out / "fit_samples.npz"
    if args.stage in ("collect", "all") and not samples_path.is_file():
        print(f"collecting O-Net inputs from {lists['fit']} ...", flush=True)
        collect(lists["fit"], data / "mtfl_train").save(samples_path)
    if args.stage in ("train", "all"):
        with np.load(samples_path) as d:
            samples = SampleSet({k: d[k] for k in d.files}, 48)
        train_head(samples, args.out, epochs=args.epochs, lr=args.lr, log=lambda m: print(m, flush=True))
    if args.stage in ("evaluate", "all"):
        report = evaluate_head(args.out / "onet.npz", lists["holdout"], data)
        atomic_write_text(args.out / "evaluation.json", json.dumps(report, indent=1))
        print(json.dumps(report["summary"], indent=1))
    if args.ship:
        ship_head(args.out / "onet.npz", args)
    print(f"total {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
