"""The three stages of the cascade, each a small function returning its candidates.

Port of: detect_face.m (MTCNNv1 2016 = MTCNNv2 stages 1-3; spec §5). Boxes and landmarks stay
in M's 1-based convention throughout (see :mod:`tinymtcnn.detect.boxes`); ``detector.MTCNN``
converts both to 0-based at the end, nothing here does. Every function takes the
image as ``(H, W, 3)`` uint8 RGB and returns plain arrays, so a notebook can draw
the candidates after every step.

NMS schedule (spec §5.7): 0.5 'union' per pyramid level, 0.7 'union' across levels,
0.7 'union' after R-Net, 0.7 'min' after O-Net.
"""
from typing import NamedTuple

import numpy as np

from ..kernels.level import pyramid_level
from ..kernels.nms import nms
from ..threads import get_num_threads, limit_threads, parallel_map
from .boxes import (apply_box_regression, decode_landmarks, heatmap_to_boxes, mirror_landmarks, square_boxes,
                    truncate_boxes)
from .crops import crop_and_resize
from .pyramid import iter_pyramid, level_size, pyramid_scales

# 24x24 crops per forward pass of R-Net / LNet (O-Net's 48x48: a quarter as many): bounds memory
CHUNK = 256


class Candidates(NamedTuple):
    """Candidates after a stage, M's 1-based boxes ``(K, 4)`` and scores ``(K,)``."""

    boxes: np.ndarray
    scores: np.ndarray


def _empty_stage():
    return Candidates(np.zeros((0, 4)), np.zeros(0))


def _forward_in_chunks(net, crops, keys):
    """Run ``net`` on ``crops`` in chunks of ``CHUNK`` 24x24 crops (or as many pixels); returns the
    ``keys`` outputs as float64."""
    chunk = max(16, CHUNK * 24 * 24 // (crops.shape[2] * crops.shape[3]))
    parts = {k: [] for k in keys}
    for i in range(0, len(crops), chunk):
        out = net.infer(crops[i:i + chunk])
        for k in keys:
            parts[k].append(np.asarray(out[k], dtype=np.float64))
    return {k: np.concatenate(v) for k, v in parts.items()}


def pnet_level(level, scale, pnet, threshold):
    """P-Net on one normalised pyramid level, its cells turned into boxes, NMS 0.5 'union'.

    Port of: detect_face.m (stage-1 loop body) + generateBoundingBox.m.

    Parameters
    ----------
    level : (hs, ws, 3) float32, normalised
    scale : float, the level's nominal scale
    pnet : PNet
    threshold : float, cells with ``prob >= threshold`` are kept

    Returns
    -------
    boxes (K, 4), scores (K,), offsets (K, 4), prob map (h', w')
    """
    return _pnet_on_channels(level.transpose(2, 0, 1), scale, pnet, threshold)


def _pnet_on_channels(level, scale, pnet, threshold):
    """:func:`pnet_level` on a channel-first ``(3, hs, ws)`` level."""
    out = pnet.infer(level[None])
    prob = out["face_prob"][0]
    boxes, scores, offsets = heatmap_to_boxes(prob, out["box_reg"][0], scale, threshold)
    keep = nms(boxes, scores, 0.5, "union")
    return boxes[keep], scores[keep], offsets[keep], prob


def _scan_level(image, scale, pnet, threshold):
    """Build level ``scale`` of ``image`` in one pass (resampled, normalised, channel-first: the
    same values as :func:`~tinymtcnn.detect.pyramid.iter_pyramid`'s) and run :func:`pnet_level` on it."""
    level = pyramid_level(image, *level_size(image.shape[0], image.shape[1], scale))
    return _pnet_on_channels(level, scale, pnet, threshold)[:3]


def propose(image, pnet, *, min_face_size=20, scale_factor=0.709, threshold=0.6, on_level=None):
    """Stage 1: P-Net over the pyramid, NMS across levels, regression, squaring, ``fix``.

    Port of: detect_face.m (first stage). Levels are built and processed one at a
    time, so memory stays bounded on large photos; each is resampled, normalised and laid
    out channel-first in one pass (:func:`~tinymtcnn.kernels.level.pyramid_level`; with
    ``on_level``, as the readable :func:`~tinymtcnn.detect.pyramid.iter_pyramid` +
    :func:`pnet_level`: the same values). With several threads (and no ``on_level``), each
    thread builds and scans whole levels, largest first: the first level is about half the
    work, so two threads share it out evenly without a single parallel region; the
    candidates are gathered in level order, as sequentially.

    Regression here uses ``w = x2 - x1`` (no +1), as M; then ``square_boxes`` (rerec.m)
    and truncation toward zero.

    Parameters
    ----------
    image : (H, W, 3) uint8
    on_level : optional callable ``(scale, level, prob_map) -> None`` (used by ``trace``)

    Returns
    -------
    Candidates with integer-valued boxes, ready to crop.
    """
    levels = iter_pyramid(image, min_face_size, scale_factor)  # validates the arguments
    if on_level is not None:  # the readable path, showing each level
        found = []
        for scale, level in levels:
            boxes, scores, offsets, prob = pnet_level(level, scale, pnet, threshold)
            on_level(scale, level, prob)
            found.append((boxes, scores, offsets))
    else:
        image = np.asarray(image)
        scales = pyramid_scales(image.shape[0], image.shape[1], min_face_size, scale_factor)
        threads = get_num_threads()
        if threads > 1:
            with limit_threads(1, blas=1):  # one level per thread, serial kernels inside
                found = parallel_map(lambda s: _scan_level(image, s, pnet, threshold), scales, threads)
        else:
            found = [_scan_level(image, s, pnet, threshold) for s in scales]
    if sum(len(scores) for _, scores, _ in found) == 0:  # also: no level at all
        return _empty_stage()
    boxes, scores, offsets = (np.concatenate(part) for part in zip(*found))  # in level order
    keep = nms(boxes, scores, 0.7, "union")
    boxes = apply_box_regression(boxes[keep], offsets[keep], plus_one=False)
    return Candidates(truncate_boxes(square_boxes(boxes)), scores[keep])


def refine(image, boxes, rnet, *, threshold=0.7):
    """Stage 2: R-Net on 24x24 crops, threshold (strict ``>``), NMS 0.7 'union', regression (+1), squaring.

    Port of: detect_face.m (second stage), pad.m, bbreg.m, rerec.m.

    Parameters
    ----------
    image : (H, W, 3) uint8
    boxes : (K, 4) integer-valued 1-based boxes from :func:`propose`

    Returns
    -------
    Candidates (float boxes; stage 3 truncates them)
    """
    if len(boxes) == 0:
        return _empty_stage()
    crops = crop_and_resize(image, boxes, 24)
    out = _forward_in_chunks(rnet, crops, ("face_prob", "box_reg"))
    passed = out["face_prob"] > threshold
    boxes, scores, offsets = boxes[passed], out["face_prob"][passed], out["box_reg"][passed]
    if len(boxes) == 0:
        return _empty_stage()
    keep = nms(boxes, scores, 0.7, "union")
    boxes = apply_box_regression(boxes[keep], offsets[keep], plus_one=True)
    return Candidates(square_boxes(boxes), scores[keep])


class FinalFaces(NamedTuple):
    """Final faces of stage 3, all in M's 1-based convention (:mod:`tinymtcnn.detect.boxes`).

    ``boxes`` (K, 4) after O-Net's regression, ``scores`` (K,), ``landmarks`` (K, 5, 2) 1-based
    points (:func:`~tinymtcnn.detect.boxes.decode_landmarks`), ``input_boxes`` (K, 4) the integer
    O-Net input boxes the landmarks were decoded in.
    """

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray
    input_boxes: np.ndarray


def output(image, boxes, onet, *, threshold=0.7, mirror=False, pixel_flip=False):
    """Stage 3: O-Net on 48x48 crops, threshold (``>``), landmarks, regression (+1), NMS 0.7 'min'.

    Port of: detect_face.m (third stage). Landmarks are decoded relative to the O-Net
    *input* box (before regression), as M. With ``mirror=True`` O-Net also runs on the
    horizontally flipped crops of the surviving faces and the two landmark estimates are
    averaged (MTCNNv1 after 2017, spec §5.5); boxes and scores are unchanged. ``pixel_flip=True``
    maps the mirrored estimate back with the pixel-centre flip (:func:`mirror_landmarks` with the
    boxes' widths; ``landmarks="tuned"``) instead of the authors' ``1 - x``.

    Parameters
    ----------
    image : (H, W, 3) uint8
    boxes : (K, 4) 1-based boxes from :func:`refine` (truncated here)

    Returns
    -------
    FinalFaces
        Boxes and landmarks both 1-based.
    """
    if len(boxes) == 0:
        return FinalFaces(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)), np.zeros((0, 4)))
    boxes = truncate_boxes(boxes)
    crops = crop_and_resize(image, boxes, 48)
    out = _forward_in_chunks(onet, crops, ("face_prob", "box_reg", "landmarks"))
    passed = out["face_prob"] > threshold
    in_boxes, scores = boxes[passed], out["face_prob"][passed]
    lmk, offsets, crops = out["landmarks"][passed], out["box_reg"][passed], crops[passed]
    final = apply_box_regression(in_boxes, offsets, plus_one=True)
    keep = nms(final, scores, 0.7, "min")
    in_boxes, lmk = in_boxes[keep], lmk[keep]
    if mirror and len(keep):
        flipped = _forward_in_chunks(onet, np.ascontiguousarray(crops[keep][..., ::-1]), ("landmarks",))
        widths = in_boxes[:, 2] - in_boxes[:, 0] + 1 if pixel_flip else None
        lmk = 0.5 * (lmk + mirror_landmarks(flipped["landmarks"], widths))
    return FinalFaces(final[keep], scores[keep], decode_landmarks(in_boxes, lmk), in_boxes)


def refine_landmarks(image, boxes, landmarks, lnet):
    """MTCNNv2's extended stage: LNet moves each landmark within a patch around it.

    Port of: MTCNNv2/detect_face.m (extended stage, spec §5.6). With the final boxes'
    ``P = fix(0.25 * max(w, h))`` (+1 if odd, ``w = x2 - x1 + 1``), patch ``k`` is the
    zero-padded 1-based box ``[fix(X - 1 - P/2), fix(Y - 1 - P/2), ... + P, ... + P]`` resampled
    to 24x24; LNet gives ``(ox, oy)`` per point, reset to 0.5 when either is more than 0.35 from
    0.5, and the point becomes ``X - P/2 + ox * P``, ``Y - P/2 + oy * P``. ``X - 1`` is M's point
    (M decodes with ``- 1``, :func:`~tinymtcnn.detect.boxes.decode_landmarks`), so the patches are
    M's, which start one pixel left of (and above) a patch centred on the point.

    Parameters
    ----------
    image : (H, W, 3) uint8
    boxes : (K, 4) final boxes, 1-based (M's convention)
    landmarks : (K, 5, 2) decoded O-Net landmarks, 1-based

    Returns
    -------
    (K, 5, 2) float64 refined landmarks, 1-based
    """
    if len(boxes) == 0:
        return landmarks
    side = np.maximum(boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1)
    patch = np.fix(0.25 * side)
    patch = patch + (np.mod(patch, 2) == 1)
    stacks = []
    for k in range(5):
        x1 = np.fix(landmarks[:, k, 0] - 1 - 0.5 * patch)  # M's fix(X_M - P/2), X_M = X - 1 exactly
        y1 = np.fix(landmarks[:, k, 1] - 1 - 0.5 * patch)
        stacks.append(crop_and_resize(image, np.stack([x1, y1, x1 + patch, y1 + patch], axis=1), 24))
    offsets = _forward_in_chunks(lnet, np.concatenate(stacks, axis=1), ("landmark_offsets",))["landmark_offsets"]
    too_far = np.any(np.abs(offsets - 0.5) > 0.35, axis=2, keepdims=True)  # "do not make a large movement"
    offsets = np.where(too_far, 0.5, offsets)
    return landmarks - 0.5 * patch[:, None, None] + offsets * patch[:, None, None]
