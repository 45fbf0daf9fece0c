"""Greedy non-maximum suppression exactly as the authors' ``nms.m`` (spec §6).

Definitions (M's **+1 pixel-count convention**; boxes are ``x1, y1, x2, y2``)::

    A_i   = (x2_i - x1_i + 1) * (y2_i - y1_i + 1)
    inter = max(0, min(x2_i, x2_j) - max(x1_i, x1_j) + 1) * max(0, min(y2_i, y2_j) - max(y1_i, y1_j) + 1)
    "union": o = inter / ((A_i + A_j) - inter)
    "min"  : o = inter / min(A_i, A_j)

Algorithm: sort the scores ascending with a **stable** sort (MATLAB ``sort``), then
repeatedly take the last remaining candidate (the highest score; among equal
scores the one with the HIGHEST index), record it, and keep only the remaining
candidates with ``o <= threshold``. A candidate is therefore dropped when
``not (o <= threshold)``: an overlap of NaN (``0/0`` with degenerate boxes of
zero or negative area) suppresses, exactly as MATLAB's ``find(o<=threshold)``.
Degenerate boxes are not rejected: their (possibly negative) areas enter the
formulas as they are, as in M.

``nms_naive`` is the readable numpy twin (a line-by-line transcription of
``nms.m``); ``nms`` is the Numba loop (same picks, same order). Both return the
picked indices as int64, in pick order (descending score).
"""
import numpy as np

from ._jit import jit

_MODES = {"union": 0, "min": 1}


def _check_inputs(boxes, scores, mode):
    boxes = np.asarray(boxes, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {boxes.shape}")
    if scores.shape != (boxes.shape[0],):
        raise ValueError(f"scores must have shape ({boxes.shape[0]},), got {scores.shape}")
    key = str(mode).lower()
    if key not in _MODES:
        raise ValueError(f"mode must be 'union' or 'min', got {mode!r}")
    return np.ascontiguousarray(boxes), np.ascontiguousarray(scores), key


# --------------------------------------------------------------------------- plain twin
def nms_naive(boxes, scores, threshold, mode="union"):
    """Greedy NMS, readable numpy version. Port of: nms.m.

    Parameters
    ----------
    boxes : (N, 4) array_like
        ``x1, y1, x2, y2`` (any real dtype; computed in float64).
    scores : (N,) array_like
    threshold : float
        A candidate survives iff its overlap with every picked box is ``<= threshold``.
    mode : {"union", "min"}
        Overlap measure (module docstring). Case-insensitive ("Union"/"Min" as in M).

    Returns
    -------
    (P,) int64
        Indices into ``boxes`` in pick order (descending score; ties: highest index first).
    """
    boxes, scores, mode = _check_inputs(boxes, scores, mode)
    # >>> TASK 4.1: greedy NMS
    if boxes.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    x1, y1, x2, y2 = boxes.T
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(scores, kind="stable")  # ascending; equal scores keep index order
    pick = []
    with np.errstate(divide="ignore", invalid="ignore"):
        while order.size > 0:
            i = order[-1]
            pick.append(i)
            rest = order[:-1]
            w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
            h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
            inter = w * h
            if mode == "min":
                o = inter / np.minimum(area[i], area[rest])
            else:
                o = inter / (area[i] + area[rest] - inter)
            order = rest[o <= threshold]
    return np.asarray(pick, dtype=np.int64)
    # <<< TASK 4.1


# --------------------------------------------------------------------------- Numba kernel
@jit(error_model="numpy")
def _nms_loop(boxes, order, threshold, use_min, pick):
    """Greedy NMS over ``order`` (ascending scores); writes picks, returns their count."""
    n = order.shape[0]
    area = np.empty(boxes.shape[0])
    for k in range(boxes.shape[0]):
        area[k] = (boxes[k, 2] - boxes[k, 0] + 1) * (boxes[k, 3] - boxes[k, 1] + 1)
    alive = np.ones(n, dtype=np.bool_)
    count = 0
    for top in range(n - 1, -1, -1):
        if not alive[top]:
            continue
        i = order[top]
        pick[count] = i
        count += 1
        for pos in range(top):
            if not alive[pos]:
                continue
            j = order[pos]
            w = min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]) + 1
            h = min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]) + 1
            inter = max(0.0, w) * max(0.0, h)
            if use_min:
                o = inter / min(area[i], area[j])
            else:
                o = inter / (area[i] + area[j] - inter)
            if not (o <= threshold):  # NaN suppresses, as find(o<=threshold) in M
                alive[pos] = False
    return count


def nms(boxes, scores, threshold, mode="union"):
    """Greedy NMS (Numba kernel); same contract and results as :func:`nms_naive`.

    Port of: nms.m. Instead of shrinking the candidate list it walks the
    ascending-score order from the top with an "alive" flag per candidate, which
    picks the same boxes in the same order.
    """
    boxes, scores, mode = _check_inputs(boxes, scores, mode)
    # >>> STUDENT-FAST 4.1: return nms_naive(boxes, scores, threshold, mode)
    if boxes.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(scores, kind="stable").astype(np.int64)
    pick = np.empty(boxes.shape[0], dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):  # only matters when JIT is disabled
        count = _nms_loop(boxes, order, float(threshold), mode == "min", pick)
    return pick[:count].copy()
    # <<< STUDENT-FAST 4.1
