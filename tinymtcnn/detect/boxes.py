"""Box arithmetic of the detection cascade (spec §5), all in float64.

Coordinate convention: inside the cascade boxes **and landmarks** stay in **M's 1-based pixel
convention**. A box ``(x1, y1, x2, y2)`` covers the pixels ``x1..x2``, ``y1..y2`` (1-based,
inclusive), i.e. ``x2 - x1 + 1`` columns; a point ``(X, Y)`` is the 1-based pixel whose centre it
marks (pixel ``x1`` of a box has its centre at ``X = x1``). Every formula below is M's, in M's order
of floating-point operations. Only at the very end (``detector.MTCNN``, ``trace``,
``eval.landmarks.detect_all_modes``) do :func:`to_zero_based` and :func:`points_to_zero_based`
convert both, together, to the public convention (0-based, a box covers ``x1 <= x < x2``, pixel ``i``
has its centre at ``i``). M's own landmark decoding ``x1 + w*l - 1`` is the two steps at once: the
``- 1`` is that conversion, so the public points equal M's values bit for bit.

Boxes are ``(K, 4)``, scores ``(K,)``, regression offsets ``(K, 4)`` as
``(dx1, dy1, dx2, dy2)``, landmarks ``(K, 10)`` planar ``(x1..x5, y1..y5)`` in box units (O-Net's
output) or ``(K, 5, 2)`` points in pixels (decoded).
"""
import numpy as np

PNET_STRIDE = 2
PNET_CELL = 12


def _boxes(boxes, name="boxes"):
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name} must have shape (K, 4), got {boxes.shape}")
    return boxes


def heatmap_to_boxes(prob, reg, scale, threshold):
    """Candidate boxes from one P-Net output map. Port of: generateBoundingBox.m.

    Parameters
    ----------
    prob : (h, w) array
        Face probability per cell, indexed ``(y, x)`` (natural image orientation).
    reg : (4, h, w) array
        Regression channels ``(dx1, dy1, dx2, dy2)``, indexed like ``prob``.
    scale : float
        Nominal pyramid scale ``s`` of the level.
    threshold : float
        Cells with ``prob >= threshold`` become candidates (M's ``>=``).

    Returns
    -------
    boxes : (K, 4) float64
        For cell ``(u, v)`` (0-based column, row), in M's 1-based convention::

            x1 = fix((2u + 1) / s)     y1 = fix((2v + 1) / s)
            x2 = fix((2u + 12) / s)    y2 = fix((2v + 12) / s)

    scores : (K,) float64
        ``prob`` at the cells.
    offsets : (K, 4) float64
        ``reg[:, v, u]``.

    Notes
    -----
    Candidate order matters for NMS ties (stable sort, highest index first).
    M (MTCNNv2 and MTCNNv1 before its 2016 simplification) transposes the map to
    ``(x, y)`` and calls ``find``, which is column-major over ``(x, y)``: x varies
    fastest, then y. That is row-major (C) order over the natural ``(y, x)`` map, i.e.
    ``np.nonzero(prob >= threshold)``'s order: sorted by ``v`` then ``u``.
    (The later MTCNNv1 file drops the transpose and so orders by ``u`` then ``v``;
    the geometry is identical.)
    """
    prob = np.asarray(prob, dtype=np.float64)
    reg = np.asarray(reg, dtype=np.float64)
    if prob.ndim != 2:
        raise ValueError(f"prob must have shape (h, w), got {prob.shape}")
    if reg.shape != (4,) + prob.shape:
        raise ValueError(f"reg must have shape (4, {prob.shape[0]}, {prob.shape[1]}), got {reg.shape}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    # >>> TASK 3.1: heat map to boxes
    v, u = np.nonzero(prob >= threshold)
    cells = np.stack([u, v], axis=1).astype(np.float64)  # (K, 2) as (x, y), 0-based
    top_left = np.fix((PNET_STRIDE * cells + 1) / scale)
    bottom_right = np.fix((PNET_STRIDE * cells + PNET_CELL) / scale)
    boxes = np.concatenate([top_left, bottom_right], axis=1).reshape(-1, 4)
    scores = prob[v, u]
    offsets = reg[:, v, u].T.reshape(-1, 4).copy()
    return boxes, scores, offsets
    # <<< TASK 3.1


def apply_box_regression(boxes, offsets, plus_one):
    """Move each edge by its offset times the box size. Port of: bbreg.m (and stage 1 of detect_face.m).

    ``w = x2 - x1 (+ 1)``, ``h = y2 - y1 (+ 1)``; returns (K, 4) float64::

        x1 + dx1*w,  y1 + dy1*h,  x2 + dx2*w,  y2 + dy2*h

    Parameters
    ----------
    boxes, offsets : (K, 4)
    plus_one : bool
        ``False`` for stage 1 (M uses ``w = x2 - x1`` there), ``True`` for stages 2 and 3.
    """
    boxes = _boxes(boxes)
    offsets = _boxes(offsets, "offsets")
    if offsets.shape != boxes.shape:
        raise ValueError(f"offsets shape {offsets.shape} does not match boxes shape {boxes.shape}")
    # >>> TASK 4.2: box regression
    extra = 1.0 if plus_one else 0.0
    w = boxes[:, 2] - boxes[:, 0] + extra
    h = boxes[:, 3] - boxes[:, 1] + extra
    size = np.stack([w, h, w, h], axis=1)
    return boxes + offsets * size
    # <<< TASK 4.2


def square_boxes(boxes):
    """Grow each box to a square around its centre. Port of: rerec.m.

    ``w = x2 - x1``, ``h = y2 - y1``, ``L = max(w, h)``; returns (K, 4) float64::

        x1' = x1 + w*0.5 - L*0.5,  y1' = y1 + h*0.5 - L*0.5,  x2' = x1' + L,  y2' = y1' + L
    """
    boxes = _boxes(boxes)
    # >>> TASK 4.3: square boxes
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    x1 = boxes[:, 0] + w * 0.5 - side * 0.5
    y1 = boxes[:, 1] + h * 0.5 - side * 0.5
    return np.stack([x1, y1, x1 + side, y1 + side], axis=1)
    # <<< TASK 4.3


def truncate_boxes(boxes):
    """Round coordinates toward zero (MATLAB ``fix``), as M before cropping; (K, 4) float64."""
    return np.fix(_boxes(boxes))


def decode_landmarks(boxes, landmarks):
    """O-Net landmark outputs to 1-based image points. Port of: detect_face.m (stage 3, spec §5.4 step 14).

    ``boxes`` (K, 4) are the O-Net input boxes (before regression, M's 1-based convention),
    ``landmarks`` (K, 10) planar ``(x1..x5, y1..y5)`` in box units. With ``w = x2 - x1 + 1``,
    ``h = y2 - y1 + 1``::

        X_j = w * l_j + x1,   Y_j = h * l_{5+j} + y1

    so ``l = 0`` is the centre of the box's first pixel. Returns (K, 5, 2) float64
    ``[..., 0] = X``, ``[..., 1] = Y`` in the order left eye, right eye, nose, mouth left, mouth
    right, in the cascade's 1-based convention (the same as ``boxes``). M writes
    ``w * l + x1 - 1``: its ``- 1`` is :func:`points_to_zero_based`, applied at the end.
    """
    boxes = _boxes(boxes)
    lmk = np.asarray(landmarks, dtype=np.float64)
    if lmk.shape != (boxes.shape[0], 10):
        raise ValueError(f"landmarks must have shape ({boxes.shape[0]}, 10), got {lmk.shape}")
    w = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
    h = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
    xs = w * lmk[:, :5] + boxes[:, 0:1]
    ys = h * lmk[:, 5:] + boxes[:, 1:2]
    return np.stack([xs, ys], axis=2)


#: Landmark order of a horizontally mirrored face: the eyes and the mouth corners swap (left stays
#: image-left). Used by detection's mirror mode and by training's flipped samples.
MIRROR_ORDER = np.array([1, 0, 2, 4, 3])


def mirror_landmarks(landmarks_mirrored, widths=None):
    """Map O-Net landmarks of a horizontally flipped crop back to the unflipped crop.

    Port of: detect_face.m (MTCNNv1 HEAD, spec §5.5). For the planar (K, 10) vector ``m``::

        (1 - m2, 1 - m1, 1 - m3, 1 - m5, 1 - m4,  m7, m6, m8, m10, m9)     (1-based)

    i.e. ``x -> 1 - x`` with left/right eyes and left/right mouth corners swapped. Returns
    (K, 10) float64. It is an involution: applying it twice gives the input back.

    ``widths`` (K,), the boxes' widths ``w`` in pixels, gives the pixel-centre flip instead: in box
    units (:func:`decode_landmarks`) the first pixel's centre is ``x = 0`` and the last one's
    ``(w - 1)/w``, so flipping maps ``x -> (w - 1)/w - x`` (the flip of the training samples,
    :func:`tinymtcnn.train.sampleset.flip_targets`). ``landmarks="tuned"`` uses it; the authors'
    modes keep ``1 - x``, which places the mirrored estimate ``1/w`` to the right.
    """
    m = np.asarray(landmarks_mirrored, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] != 10:
        raise ValueError(f"landmarks must have shape (K, 10), got {m.shape}")
    right = 1.0
    if widths is not None:
        w = np.asarray(widths, dtype=np.float64).reshape(-1, 1)
        if w.shape[0] != m.shape[0]:
            raise ValueError(f"widths must have one entry per row of landmarks ({m.shape[0]}), got {w.shape[0]}")
        right = (w - 1) / w
    return np.concatenate([right - m[:, MIRROR_ORDER], m[:, 5 + MIRROR_ORDER]], axis=1)


def to_zero_based(boxes):
    """M's 1-based inclusive boxes to the public 0-based half-open convention; (K, 4) float64.

    ``(x1 - 1, y1 - 1, x2, y2)``: the box covers the 0-based columns ``x1' <= x < x2'``
    (and rows likewise), e.g. M's ``[1, 1, 12, 12]`` becomes ``[0, 0, 12, 12]``.
    """
    boxes = _boxes(boxes)
    return boxes - np.array([1.0, 1.0, 0.0, 0.0])


def to_one_based(boxes):
    """Public 0-based half-open boxes to M's 1-based inclusive ones, the inverse of :func:`to_zero_based`.

    ``(x1 + 1, y1 + 1, x2, y2)``: the same pixels, e.g. ``[0, 0, 12, 12]`` becomes M's
    ``[1, 1, 12, 12]``. Integer boxes stay integer (int64; crops for the resampler), others are
    float64; (K, 4).
    """
    arr = np.asarray(boxes)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"boxes must have shape (K, 4), got {arr.shape}")
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64) + np.array([1, 1, 0, 0], dtype=np.int64)
    return _boxes(arr) + np.array([1.0, 1.0, 0.0, 0.0])


def points_to_zero_based(points):
    """The cascade's 1-based points to the public 0-based ones: ``(X - 1, Y - 1)``; float64, same shape.

    ``points`` (..., 2), e.g. (K, 5, 2) from :func:`decode_landmarks`. Applied together with
    :func:`to_zero_based` at the end; ``(w * l + x1) - 1`` is M's ``w * l + x1 - 1`` bit for bit.
    """
    p = np.asarray(points, dtype=np.float64)
    if p.ndim < 1 or p.shape[-1] != 2:
        raise ValueError(f"points must have shape (..., 2), got {p.shape}")
    return p - 1.0
