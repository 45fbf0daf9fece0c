"""Hard examples between stages (paper §III-A, spec §8.2): run the trained cascade on the photos.

R-Net's samples come from P-Net's proposals (:func:`tinymtcnn.detect.stages.propose`), O-Net's from
P-Net followed by R-Net (:func:`~tinymtcnn.detect.stages.refine`). As in A's
``gen_hard_example.py``: each detection (already squared by the stage) is truncated to integers,
detections smaller than ``min_side`` pixels or crossing the photo border are skipped, and the rest
are labelled by their best IoU with the ground truth (< 0.3 negative, at most ``max_negatives`` per
photo; >= 0.65 positive; >= 0.4 part), with box targets relative to the detection and its best
ground truth. Crops are the detection's pixels resampled to 24 or 48, exactly as at detection time.

The stages return M's 1-based inclusive boxes, and those are the crops (a crop dict's ``crops``,
cut by :func:`~.samples.crop_samples` as they are). Only the filters, labels and targets, which
compare with the 0-based annotations, use their 0-based half-open form ``(x1 - 1, y1 - 1, x2, y2)``
(the same pixels, :func:`~tinymtcnn.detect.boxes.to_zero_based`).
"""
import hashlib

import numpy as np

from ..detect.boxes import to_zero_based, truncate_boxes
from ..detect.stages import propose, refine
from .samples import NEGATIVE, iou, label_for_iou, box_targets


def concat_crops(parts):
    """Concatenate crop dicts (``crops``, ``labels``, ``boxes``, ``landmarks``)."""
    return {k: np.concatenate([p[k] for p in parts]) for k in ("crops", "labels", "boxes", "landmarks")}


def _net_digest(net):
    h = hashlib.sha1()
    for k, v in sorted(net.params.items()):
        h.update(k.encode())
        h.update(np.ascontiguousarray(v).tobytes())
    return h.hexdigest()[:16]


class HardExampleMiner:
    """Detections of the previous stages on a photo, turned into labelled crops.

    Parameters
    ----------
    pnet : trained PNet
    rnet : trained RNet or None (None: R-Net samples; given: O-Net samples)
    min_face_size, scale_factor : the pyramid (spec §4)
    thresholds : (P-Net, R-Net) face thresholds; A mines with (0.3, 0.1): low, to keep many candidates
    max_negatives : negatives kept per photo (A: 60)
    min_side : smallest detection side kept (A: 20 px)
    """

    def __init__(self, pnet, rnet=None, *, min_face_size=20.0, scale_factor=0.709, thresholds=(0.3, 0.1),
                 max_negatives=60, min_side=20):
        self.pnet, self.rnet = pnet, rnet
        self.min_face_size, self.scale_factor = float(min_face_size), float(scale_factor)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.max_negatives, self.min_side = int(max_negatives), int(min_side)
        self.fingerprint = (f"mine:p={_net_digest(pnet)}:r={_net_digest(rnet) if rnet is not None else None}:"
                            f"min={self.min_face_size}:f={self.scale_factor}:t={self.thresholds}:"
                            f"neg={self.max_negatives}:side={self.min_side}")

    def __getstate__(self):  # nets without their forward caches (pickled to worker processes)
        state = dict(self.__dict__)
        for key in ("pnet", "rnet"):
            net = state[key]
            if net is not None:
                state[key] = (type(net), dict(net.params), tuple(net.heads))
        return state

    def __setstate__(self, state):
        for key in ("pnet", "rnet"):
            if state[key] is not None:
                cls, params, heads = state[key]
                net = cls(landmark_head="landmarks" in heads)
                state[key] = net.load_params(params)
        self.__dict__.update(state)

    def detections(self, image):
        """Candidate boxes of the previous stage(s): (K, 4) integer, M's 1-based convention."""
        s = propose(image, self.pnet, min_face_size=self.min_face_size, scale_factor=self.scale_factor,
                    threshold=self.thresholds[0])
        boxes = s.boxes
        if self.rnet is not None and len(boxes):
            boxes = truncate_boxes(refine(image, boxes, self.rnet, threshold=self.thresholds[1]).boxes)
        return boxes

    def photo_crops(self, photo, rng):
        """Labelled crops of one photo (the dict of :func:`~.samples.photo_crops`): ``crops`` (K, 4) int64
        are the detections themselves, 1-based inclusive."""
        h, w = photo.image.shape[:2]
        gts = np.asarray(photo.boxes, dtype=np.float64).reshape(-1, 4)
        det = self.detections(photo.image).astype(np.int64).reshape(-1, 4)  # M's 1-based: the crops
        zb = to_zero_based(det)  # the same pixels, 0-based half-open like gts: filters, labels, targets
        side = np.minimum(zb[:, 2] - zb[:, 0], zb[:, 3] - zb[:, 1])
        ok = (side >= self.min_side) & (zb[:, 0] >= 0) & (zb[:, 1] >= 0) & (zb[:, 2] <= w) & (zb[:, 3] <= h)
        det, zb = det[ok], zb[ok]
        crops, labels, targets = [], [], []
        negatives = []
        for c, c0 in zip(det, zb):
            overlaps = iou(c0, gts) if len(gts) else np.zeros(1)
            best = int(np.argmax(overlaps))
            label = label_for_iou(overlaps[best])
            if label is None:
                continue
            if label == NEGATIVE:
                negatives.append(c)
                continue
            crops.append(c)
            labels.append(label)
            targets.append(box_targets([c0], [gts[best]])[0])
        if len(negatives) > self.max_negatives:
            negatives = [negatives[i] for i in np.sort(rng.choice(len(negatives), self.max_negatives, replace=False))]
        crops += negatives
        labels += [NEGATIVE] * len(negatives)
        targets += [np.zeros(4)] * len(negatives)
        n = len(crops)
        return {"crops": np.array(crops, dtype=np.int64).reshape(n, 4), "labels": np.array(labels, dtype=np.int8),
                "boxes": np.array(targets, dtype=np.float32).reshape(n, 4),
                "landmarks": np.zeros((n, 10), dtype=np.float32)}
