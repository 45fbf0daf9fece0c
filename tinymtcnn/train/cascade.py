"""All three stages in a row (P-Net, then R-Net on P-Net's hard examples, then O-Net on P+R-Net's),
and the evaluation of the trained cascade on held-out photos.

``train_cascade(photos, out_dir)`` writes ``out_dir/{pnet,rnet,onet}.npz`` (plus checkpoints and
sample shards under ``out_dir/samples/``), so ``MTCNN(weights=out_dir)`` runs the result.
:func:`classroom_plan` holds the settings of the 10-minute synthetic run (``tinymtcnn train all
--synthetic 2000``, see ``docs/training.md``).
"""
import json
import resource
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

import numpy as np

from ..atomic import atomic_write_text
from .checkpoint import naming_write_failures
from .dataset import build_samples
from .mining import HardExampleMiner
from .samples import SamplingConfig
from .sampleset import SampleSet
from .trainer import INPUT_SIZE, TrainConfig, Trainer

LANDMARK_ONLY = SamplingConfig(random_negatives=0, near_negatives=0, face_crops=0, landmark_crops=10)


@dataclass
class StagePlan:
    """How one stage is trained: optimiser settings, random-crop sampling, ratio resampling, mining."""

    train: TrainConfig = field(default_factory=TrainConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    max_repeat: float = 1.0
    mine_thresholds: tuple = (0.3, 0.1)
    max_negatives: int = 60
    min_side: int = 20
    max_photos: Optional[int] = None  # use only the first N photos for this stage (mining is the slow part)


class FirstPhotos:
    """The first ``n`` photos of a photo sequence (keeps a distinct ``fingerprint``)."""

    def __init__(self, photos, n):
        self.photos, self.n = photos, min(int(n), len(photos))
        self.fingerprint = f"{getattr(photos, 'fingerprint', repr(photos))}[:{self.n}]"

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.photos[i]


def default_plan():
    """A's settings (spec §8.5; SGD 0.9, batch 384) with this package's cosine schedule."""
    base = TrainConfig(epochs=30, batch_size=384, optimizer="sgd", lr=0.01, schedule="cosine")
    fewer = SamplingConfig(random_negatives=10)
    return {"pnet": StagePlan(base), "rnet": StagePlan(replace(base, epochs=22), fewer),
            "onet": StagePlan(replace(base, epochs=22), fewer)}


def classroom_plan():
    """Settings of the ~10-minute run on synthetic faces (2 cores, ``--synthetic 2000``): four short
    epochs per stage, SGD with high learning rates (clipped), small faces allowed, R-Net and O-Net on
    the first 1000 / 600 photos (mining runs the previous stages on every photo, and O-Net costs
    ~10 ms of CPU per training sample), no O-Net dropout (it slows such short training down; on the
    O-Net samples of a 350-photo run, 3 epochs: val accuracy 0.947 / landmark error 0.064 with SGD lr 0.03
    and no dropout, 0.924 / 0.078 with lr 0.01 and dropout 0.25, 0.939 / 0.081 with Adam 1e-3)."""
    small = dict(min_face=12.0, min_landmark_aug_face=20.0)
    return {
        "pnet": StagePlan(TrainConfig(epochs=4, batch_size=128, lr=0.05), SamplingConfig(**small), 1.5),
        "rnet": StagePlan(TrainConfig(epochs=4, batch_size=128, lr=0.03, warmup=0.2),
                          SamplingConfig(random_negatives=6, near_negatives=3, face_crops=10, landmark_crops=10,
                                         **small), 1.5,
                          mine_thresholds=(0.4, 0.1), max_negatives=25, min_side=12, max_photos=1000),
        "onet": StagePlan(TrainConfig(epochs=4, batch_size=64, lr=0.03, warmup=0.2, dropout=0.0),
                          SamplingConfig(random_negatives=6, near_negatives=3, face_crops=5, landmark_crops=8,
                                         **small), 1.5,
                          mine_thresholds=(0.4, 0.3), max_negatives=10, min_side=12, max_photos=600),
    }


def laptop_plan():
    """Real photos in under an hour on 2 cores (Caltech + MTFL, ``tinymtcnn train all --plan laptop``):
    A's sampling rules with fewer crops per face, 6-8 epochs per stage, SGD with the classroom run's
    higher learning rates (cosine, clipped), hard examples from every training photo, no O-Net dropout
    (too few epochs for it to pay; see :func:`classroom_plan`)."""
    return {
        "pnet": StagePlan(TrainConfig(epochs=6, batch_size=128, lr=0.05)),
        "rnet": StagePlan(TrainConfig(epochs=8, batch_size=128, lr=0.03, warmup=0.1),
                          SamplingConfig(random_negatives=10, near_negatives=5, face_crops=10, landmark_crops=5),
                          mine_thresholds=(0.4, 0.1), max_negatives=30),
        "onet": StagePlan(TrainConfig(epochs=6, batch_size=64, lr=0.03, warmup=0.1, dropout=0.0),
                          SamplingConfig(random_negatives=5, near_negatives=3, face_crops=8, landmark_crops=5),
                          mine_thresholds=(0.4, 0.3), max_negatives=15),
    }


def reference_plan():
    """The laptop plan for crowds of small faces (``tools/train_reference.py``: Caltech + mosaics +
    crowd scenes): faces from 12 px give positive, part and landmark crops (the laptop plan: 20 px),
    and hard examples are kept from 12 px (20), so the small faces of mosaics and crowds are trained on."""
    return {kind: replace(p, sampling=replace(p.sampling, min_face=12.0, min_landmark_aug_face=20.0), min_side=12)
            for kind, p in laptop_plan().items()}


PLANS = {"paper": default_plan, "laptop": laptop_plan, "classroom": classroom_plan, "reference": reference_plan}


def cpu_seconds():
    """CPU time of this process and its finished children (the sample-building workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def load_stage_samples(kind, photos, out_dir, plan, *, landmark_photos=None, miner=None, seed=0, workers=1,
                       progress=True, log=print):
    """Build/reuse the sample shards of one stage; returns the combined :class:`SampleSet`."""
    size = INPUT_SIZE[kind]
    root = Path(out_dir) / "samples"
    parts = [build_samples(photos, size, root / kind, seed=seed, config=plan.sampling, miner=miner,
                           workers=workers, progress=progress, log=log)]
    if landmark_photos is not None and len(landmark_photos):
        cfg = replace(LANDMARK_ONLY, min_face=plan.sampling.min_face,
                      min_landmark_aug_face=plan.sampling.min_landmark_aug_face)
        lm = build_samples(landmark_photos, size, root / f"{kind}-landmarks", seed=seed, config=cfg,
                           workers=workers, progress=progress, log=log)
        lm.arrays["photos"] = lm.arrays["photos"] + len(photos)  # distinct photo ids for the split
        parts.append(lm)
    return SampleSet.concat(parts, size)


def split_and_mix(samples, plan, *, val_fraction=0.1, seed=0):
    """``(train, val)``: a photo-level split of ``samples``, each side resampled to the 3:1:1:2 mix
    (training repeats scarce types up to ``plan.max_repeat`` times); deterministic for a seed."""
    train, val = samples.split(val_fraction, seed=seed)
    rng = np.random.default_rng([seed, 7])
    return train.mix(rng=rng, max_repeat=plan.max_repeat), val.mix(rng=rng)


def train_stage(kind, photos, out_dir, plan, *, landmark_photos=None, nets=None, min_face_size=20.0, seed=0,
                workers=1, val_fraction=0.1, resume=False, progress=True, log=print):
    """Samples (with hard examples from ``nets`` for R/O-Net), 3:1:1:2 mix, photo-level split, training."""
    nets = nets or {}
    miner = None
    if kind in ("rnet", "onet"):
        if "pnet" not in nets or (kind == "onet" and "rnet" not in nets):
            raise ValueError(f"{kind} needs the trained previous stage(s) for hard-example mining")
        miner = HardExampleMiner(nets["pnet"], nets.get("rnet") if kind == "onet" else None,
                                 min_face_size=min_face_size, thresholds=plan.mine_thresholds,
                                 max_negatives=plan.max_negatives, min_side=plan.min_side)
    t0, c0 = time.perf_counter(), cpu_seconds()
    if plan.max_photos is not None and plan.max_photos < len(photos):
        photos = FirstPhotos(photos, plan.max_photos)
    samples = load_stage_samples(kind, photos, out_dir, plan, landmark_photos=landmark_photos, miner=miner,
                                 seed=seed, workers=workers, progress=progress, log=log)
    train, val = split_and_mix(samples, plan, val_fraction=val_fraction, seed=seed)
    log(f"{kind}: {len(samples)} samples {samples.counts()} in {time.perf_counter() - t0:.0f}s "
        f"(cpu {cpu_seconds() - c0:.0f}s); "
        f"mixed 3:1:1:2 -> train {len(train)} {train.counts()}, val {len(val)}")
    trainer = Trainer(kind, out_dir, replace(plan.train, seed=seed), log=log, progress=progress)
    trainer.fit(train, val, resume=resume)
    log(f"{kind}: stage done in {time.perf_counter() - t0:.0f}s wall, {cpu_seconds() - c0:.0f}s cpu")
    return trainer


def train_cascade(photos, out_dir, *, landmark_photos=None, plans=None, stages=("pnet", "rnet", "onet"),
                  min_face_size=20.0, seed=0, workers=1, resume=False, progress=True, log=print):
    """Train the stages in order; earlier stages already in ``out_dir`` are loaded when not re-trained."""
    from ..weights import load_net

    plans = plans or default_plan()
    out_dir = Path(out_dir)
    nets, histories = {}, {}
    for kind in ("pnet", "rnet", "onet"):
        if kind in stages:
            t = train_stage(kind, photos, out_dir, plans[kind], landmark_photos=landmark_photos, nets=nets,
                            min_face_size=min_face_size, seed=seed, workers=workers, resume=resume,
                            progress=progress, log=log)
            nets[kind], histories[kind] = t.net.eval(), t.history
        elif (out_dir / f"{kind}.npz").is_file():
            nets[kind] = load_net(kind, out_dir / f"{kind}.npz", landmark_head=kind != "onet")
    return nets, histories


def match_detections(pred_boxes, scores, gt_boxes, iou_threshold=0.5):
    """Greedy matching by descending score; returns ``(pred index, gt index)`` pairs with IoU >= threshold."""
    from .samples import iou

    taken, pairs = np.zeros(len(gt_boxes), dtype=bool), []
    for i in np.argsort(-np.asarray(scores), kind="stable"):
        if len(gt_boxes) == 0:
            break
        o = np.where(taken, -1.0, iou(pred_boxes[i], gt_boxes))
        j = int(np.argmax(o))
        if o[j] >= iou_threshold:
            taken[j] = True
            pairs.append((int(i), j))
    return pairs


def evaluate_detector(detector, photos, *, iou_threshold=0.5, progress=True):
    """Recall, precision and landmark error of ``detector`` (an ``MTCNN``) on annotated photos.

    ``landmark_nme``: mean over matched faces of the mean point distance divided by the
    inter-ocular distance of the ground truth (the AFLW protocol of the paper, spec §9).
    """
    from tqdm import tqdm

    n_gt = n_det = n_match = 0
    nme, start = [], time.perf_counter()
    for i in tqdm(range(len(photos)), desc="evaluate", unit="photo", disable=not progress, leave=False):
        photo = photos[i]
        faces = detector.detect(photo.image)
        gts = np.asarray(photo.boxes).reshape(-1, 4)
        pairs = match_detections(faces.boxes, faces.scores, gts, iou_threshold)
        n_gt, n_det, n_match = n_gt + len(gts), n_det + len(faces), n_match + len(pairs)
        if photo.landmarks is not None:
            for p, g in pairs:
                truth = photo.landmarks[g]
                iod = np.linalg.norm(truth[1] - truth[0])
                nme.append(float(np.mean(np.linalg.norm(faces.landmarks[p] - truth, axis=1)) / iod))
    return {"photos": len(photos), "faces": n_gt, "detections": n_det, "matched": n_match,
            "recall": n_match / max(n_gt, 1), "precision": n_match / max(n_det, 1),
            "false_positives_per_photo": (n_det - n_match) / max(len(photos), 1),
            "landmark_nme": float(np.mean(nme)) if nme else float("nan"),
            "landmark_nme_median": float(np.median(nme)) if nme else float("nan"),
            "seconds_per_photo": (time.perf_counter() - start) / max(len(photos), 1)}


def _json_ready(value):
    """``value`` with NaN and inf (e.g. no landmark matched) as None, so the report is strict JSON."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return None
    return value


def write_report(path, report):
    """Write the evaluation ``report`` dict as indented JSON to ``path``, atomically (a failed write, e.g.
    a full disk, raises an ``OSError`` naming ``path`` and leaves the previous report as it was)."""
    with naming_write_failures(path):
        atomic_write_text(path, json.dumps(_json_ready(report), indent=1, default=float))
