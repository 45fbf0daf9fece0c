import numpy as np


def iou(box, boxes):
    """Intersection over union with continuous areas; 0 where the union is empty."""
    left = np.maximum(box[0], boxes[:, 0])
    top = np.maximum(box[1], boxes[:, 1])
    right = np.minimum(box[2], boxes[:, 2])
    bottom = np.minimum(box[3], boxes[:, 3])
    inter = np.maximum(right - left, 0.0) * np.maximum(bottom - top, 0.0)
    union = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    result = np.zeros(boxes.shape[0])
    nonempty = union > 0
    result[nonempty] = inter[nonempty] / union[nonempty]
    return result


def label_for_iou(best):
    """1 from 0.65 up, -1 from 0.4 up, 0 under 0.3, None in the gap."""
    if best >= 0.65:
        return 1
    if best >= 0.4:
        return -1
    if best < 0.3:
        return 0
    return None
