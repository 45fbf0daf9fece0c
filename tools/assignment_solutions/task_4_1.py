"""Task 4.1, greedy NMS: a list of survivors and one pair at a time, from the formulas of kernels/nms.py."""
import numpy as np


def nms_naive(boxes, scores, threshold, mode="union"):
    """Body of the region (after the copy's input checks: float64 arrays, ``mode`` "union" or "min")."""
    areas = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    waiting = [int(i) for i in np.argsort(scores, kind="stable")]  # ascending; the best is last
    chosen = []
    while waiting:
        top = waiting.pop()
        chosen.append(top)
        kept = []
        for other in waiting:
            across = min(boxes[top, 2], boxes[other, 2]) - max(boxes[top, 0], boxes[other, 0]) + 1
            down = min(boxes[top, 3], boxes[other, 3]) - max(boxes[top, 1], boxes[other, 1]) + 1
            shared = max(0.0, across) * max(0.0, down)
            if mode == "min":
                below = min(areas[top], areas[other])
            else:
                below = areas[top] + areas[other] - shared
            with np.errstate(divide="ignore", invalid="ignore"):
                overlap = np.float64(shared) / np.float64(below)
            if overlap <= threshold:  # NaN is never <=: it suppresses
                kept.append(other)
        waiting = kept
    return np.array(chosen, dtype=np.int64)
