import numpy as np


def heatmap_to_boxes(prob, reg, scale, threshold):
    """One candidate per cell at or above the threshold, in row-major order."""
    rows, cols = np.where(prob >= threshold)
    count = rows.size
    boxes, scores, offsets = np.empty((count, 4)), np.empty(count), np.empty((count, 4))
    for i in range(count):
        v, u = rows[i], cols[i]
        boxes[i] = [np.fix((2.0 * u + 1) / scale), np.fix((2.0 * v + 1) / scale),
                    np.fix((2.0 * u + 12) / scale), np.fix((2.0 * v + 12) / scale)]
        scores[i] = prob[v, u]
        offsets[i] = reg[:, v, u]
    return boxes, scores, offsets
