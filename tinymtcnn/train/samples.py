"""Training samples from annotated photos: random crops for P-Net (spec §8.1-8.3).

A **sample** is a square crop resized to ``size`` (12, 24 or 48) with the project's resampler
(:func:`tinymtcnn.kernels.resample.crop_resize`: zero padding outside the image, area average when
shrinking) plus its targets. Arrays of a :class:`~.sampleset.SampleSet` (``N`` samples):

==============  ======================  ==================================================
key             shape, dtype            meaning
==============  ======================  ==================================================
``images``      (N, 3, s, s) uint8      the crop, raw RGB 0..255 (normalised at batch time)
``labels``      (N,) int8               1 positive, 0 negative, -1 part, -2 landmark
``boxes``       (N, 4) float32          ``((gx1-cx1)/S, (gy1-cy1)/S, (gx2-cx2)/S, (gy2-cy2)/S)``
``landmarks``   (N, 10) float32         planar ``((x_j - cx1)/S ..., (y_j - cy1)/S ...)``
``sides``       (N,) float32            ``S``, the crop side in photo pixels
``photos``      (N,) int32              index of the source photo (for photo-level splits)
==============  ======================  ==================================================

Coordinates. Targets are defined, as in A, on crops ``(cx1, cy1, cx2, cy2)`` that are integer,
0-based, ``x2`` exclusive, ``S = cx2 - cx1``, with the ground truth ``g`` (boxes and points of
:class:`~.readers.Photo`) in the same convention. The box target inverts R/O-Net's decoder
``x1 + t * w`` with ``w = x2 - x1 + 1`` in M's 1-based inclusive convention (the same number). The
landmark target inverts :func:`tinymtcnn.detect.boxes.decode_landmarks` (``X = x1_M + w * l``,
1-based) followed by :func:`~tinymtcnn.detect.boxes.points_to_zero_based`, planar like the original
O-Net head. Stage 1's decoder uses ``w = x2 - x1`` (M), one pixel less than ``S``: the training
target follows A (divide by ``S``); spec §11.1 leaves the authors' choice open.

The *pixels* are cut like the detector's: the ``crops`` of a crop dict (:func:`photo_crops`,
:meth:`~.mining.HardExampleMiner.photo_crops`) are the same rectangles in the cascade's 1-based
inclusive convention ``(cx1 + 1, cy1 + 1, cx2, cy2)``, which :func:`crop_samples` hands to the
resampler as they are. Random crops are converted to it once (:func:`photo_crops`); mined crops are
the cascade's boxes and are never converted (their targets use ``to_zero_based`` of them).

Sampling follows A's ``gen_12net_data.py`` / ``gen_landmark_aug_*.py`` (spec §8.2), see
:class:`SamplingConfig`. IoU uses continuous areas ``(x2 - x1) * (y2 - y1)``.
"""
from dataclasses import dataclass

import numpy as np

from ..detect.boxes import to_one_based
from ..kernels.resample import crop_resize
from .losses import LANDMARK, NEGATIVE, PART, POSITIVE
NEG_IOU, PART_IOU, POS_IOU = 0.3, 0.4, 0.65


def iou(box, boxes):
    """IoU of one box (4,) with each of ``boxes`` (K, 4); continuous areas, (K,) float64."""
    box = np.asarray(box, dtype=np.float64)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    # >>> TASK 6.2: IoU and sample labels
    iw = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    ih = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = iw * ih
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        out = inter / (area + areas - inter)
    return np.nan_to_num(out)
    # <<< TASK 6.2


def iou_matrix(a, b):
    """IoU of every box of ``a`` (N, 4) with every box of ``b`` (M, 4): (N, M)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    return np.stack([iou(x, b) for x in a]) if len(a) else np.zeros((0, len(np.reshape(b, (-1, 4)))))


def label_for_iou(best):
    """Sample label from the best IoU with the ground truth: 1 (>= 0.65), -1 (>= 0.4), 0 (< 0.3), None (gap)."""
    # >>> TASK 6.2: IoU and sample labels
    if best >= POS_IOU:
        return POSITIVE
    if best >= PART_IOU:
        return PART
    if best < NEG_IOU:
        return NEGATIVE
    return None
    # <<< TASK 6.2


def box_targets(crops, gts):
    """Box targets (K, 4) of crops (K, 4) against their ground truths (K, 4).

    x offsets are divided by the crop width ``x2 - x1``, y offsets by its height (equal for the
    square crops used everywhere here).
    """
    crops = np.asarray(crops, dtype=np.float64).reshape(-1, 4)
    w = crops[:, 2] - crops[:, 0]
    h = crops[:, 3] - crops[:, 1]
    return (np.asarray(gts, dtype=np.float64).reshape(-1, 4) - crops) / np.stack([w, h, w, h], axis=1)


def landmark_targets(crops, points):
    """Planar landmark targets (K, 10) of crops (K, 4) for points (K, 5, 2): ``(x - x1)/w``, ``(y - y1)/h``."""
    crops = np.asarray(crops, dtype=np.float64).reshape(-1, 4)
    w = (crops[:, 2] - crops[:, 0])[:, None]
    h = (crops[:, 3] - crops[:, 1])[:, None]
    p = np.asarray(points, dtype=np.float64).reshape(-1, 5, 2)
    return np.concatenate([(p[:, :, 0] - crops[:, :1]) / w, (p[:, :, 1] - crops[:, 1:2]) / h], axis=1)


def crop_samples(image, crops, size):
    """The pixels of training samples, cut as the detector cuts R/O-Net's crops. Port of: pad.m + imResample.

    Parameters
    ----------
    image : (H, W, 3) uint8
    crops : (K, 4) integer
        ``x1, y1, x2, y2`` in M's 1-based inclusive convention (the cascade's boxes; a crop dict's
        ``crops``), zero-padded where they leave the image.
    size : int
        Output side (12, 24 or 48).

    Returns
    -------
    (K, 3, size, size) uint8
        The resampled values of the detector's crops (:func:`~tinymtcnn.kernels.resample.crop_resize`
        with ``normalise=False``), rounded to the nearest integer once; they are normalised once, at
        batch time (:func:`~.sampleset.normalize_images`), into what the detector would feed the net
        to within the rounding (at most half a grey level).
    """
    crops = np.asarray(crops, dtype=np.int64).reshape(-1, 4)
    if len(crops) == 0:
        return np.zeros((0, 3, size, size), dtype=np.uint8)
    raw = crop_resize(np.ascontiguousarray(image), crops, size, normalise=False)
    return np.clip(np.rint(raw), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class SamplingConfig:
    """Per-photo counts and rules (defaults: A's P-Net script, spec §8.2).

    ``random_negatives`` square crops of side in ``[12, min(W, H)/2)`` anywhere in the photo;
    ``near_negatives`` per face, offset to overlap it; ``face_crops`` per face with side in
    ``[0.8 min(w, h), 1.25 max(w, h))`` and centre jitter ``+-0.2 w``; ``landmark_crops`` jittered
    crops (kept if IoU > 0.65) plus the face box itself, per face with five points. Faces smaller
    than ``min_face`` (larger side) give no positive/part/landmark crops (negatives still avoid them).
    """

    random_negatives: int = 50
    near_negatives: int = 5
    face_crops: int = 20
    landmark_crops: int = 10
    min_face: float = 20.0
    min_landmark_aug_face: float = 40.0


def _square_crop(rng, cx, cy, side):
    x1 = int(np.floor(cx - side / 2))
    y1 = int(np.floor(cy - side / 2))
    s = int(side)
    return [x1, y1, x1 + s, y1 + s]


def photo_crops(photo, rng, cfg=SamplingConfig()):
    """Crop rectangles and targets for one photo (no pixels yet).

    Crops are drawn and labelled in the annotations' 0-based half-open convention (module
    docstring) and converted once, at the end, to the 1-based inclusive boxes that
    :func:`crop_samples` cuts.

    Returns
    -------
    dict with ``crops`` (K, 4) int64 1-based inclusive (M's convention), ``labels`` (K,) int8,
    ``boxes`` (K, 4) float32 and ``landmarks`` (K, 10) float32 targets
    """
    h, w = photo.image.shape[:2]
    gts = np.asarray(photo.boxes, dtype=np.float64).reshape(-1, 4)
    crops, labels, tboxes, tlms = [], [], [], []

    def add(crop, label, gt=None, pts=None):
        crops.append(crop)
        labels.append(label)
        tboxes.append(box_targets([crop], [gt])[0] if gt is not None else np.zeros(4))
        tlms.append(landmark_targets([crop], pts[None])[0] if pts is not None else np.zeros(10))

    short = min(w, h)
    if short > 13:
        for _ in range(cfg.random_negatives):
            side = int(rng.integers(12, max(13, short // 2)))
            x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
            crop = [x, y, x + side, y + side]
            if len(gts) == 0 or iou(crop, gts).max() < NEG_IOU:
                add(crop, NEGATIVE)
    for k, g in enumerate(gts):
        gw, gh = g[2] - g[0], g[3] - g[1]
        if short > 13:
            for _ in range(cfg.near_negatives):
                side = int(rng.integers(12, max(13, short // 2)))
                lo_x, lo_y = max(-side, -g[0]), max(-side, -g[1])
                if lo_x >= gw or lo_y >= gh:  # a box (almost) wholly left of or above the photo
                    continue
                x = int(np.floor(g[0] + rng.uniform(lo_x, gw)))
                y = int(np.floor(g[1] + rng.uniform(lo_y, gh)))
                crop = [x, y, x + side, y + side]
                if x + side <= w and y + side <= h and iou(crop, gts).max() < NEG_IOU:
                    add(crop, NEGATIVE)
        if max(gw, gh) < cfg.min_face or min(gw, gh) <= 0:
            continue
        cx, cy = (g[0] + g[2]) / 2, (g[1] + g[3]) / 2
        for _ in range(cfg.face_crops):
            side = rng.uniform(0.8 * min(gw, gh), 1.25 * max(gw, gh))
            crop = _square_crop(rng, cx + rng.uniform(-0.2, 0.2) * gw, cy + rng.uniform(-0.2, 0.2) * gh, side)
            if crop[2] - crop[0] < 12 or crop[0] < 0 or crop[1] < 0 or crop[2] > w or crop[3] > h:
                continue
            best = iou(crop, g[None])[0]
            if best >= POS_IOU:
                add(crop, POSITIVE, g)
            elif best >= PART_IOU:
                add(crop, PART, g)
        if photo.landmarks is None or cfg.landmark_crops < 0:
            continue
        pts = np.asarray(photo.landmarks[k], dtype=np.float64)
        if not np.all(np.isfinite(pts)):
            continue
        side0 = max(gw, gh)
        add(_square_crop(rng, cx, cy, side0), LANDMARK, g, pts)
        if side0 < cfg.min_landmark_aug_face:
            continue
        for _ in range(cfg.landmark_crops):
            side = rng.uniform(0.8 * min(gw, gh), 1.25 * max(gw, gh))
            crop = _square_crop(rng, cx + rng.uniform(-0.2, 0.2) * gw, cy + rng.uniform(-0.2, 0.2) * gh, side)
            if crop[2] - crop[0] >= 12 and iou(crop, g[None])[0] > POS_IOU:
                add(crop, LANDMARK, g, pts)
    return {"crops": to_one_based(np.array(crops, dtype=np.int64).reshape(-1, 4)),
            "labels": np.array(labels, dtype=np.int8),
            "boxes": np.array(tboxes, dtype=np.float32).reshape(-1, 4),
            "landmarks": np.array(tlms, dtype=np.float32).reshape(-1, 10)}


def make_samples(photo, index, size, crops):
    """Cut the pixels of ``crops`` (a crop dict from :func:`photo_crops` or mining: 1-based inclusive
    ``crops``) into a sample dict; ``sides`` ``S = x2 - x1 + 1``."""
    c = crops["crops"]
    return {"images": crop_samples(photo.image, c, size), "labels": crops["labels"], "boxes": crops["boxes"],
            "landmarks": crops["landmarks"], "sides": (c[:, 2] - c[:, 0] + 1).astype(np.float32),
            "photos": np.full(len(c), index, dtype=np.int32)}
