"""``Detections``: what the detector returns for one image."""
from dataclasses import dataclass

import numpy as np

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


@dataclass(frozen=True)
class Detections:
    """Faces found in one image, sorted by score (highest first).

    Attributes
    ----------
    boxes : ndarray (N, 4) float64
        ``x1, y1, x2, y2`` in 0-based pixel coordinates; a box covers the columns
        ``x1 <= x < x2`` and rows ``y1 <= y < y2``, so ``x2 - x1`` is its width.
        (``x1, y1`` are the authors' MATLAB values minus 1; ``x2, y2`` equal them.)
        Boxes are not clipped: they may reach outside the image.
    scores : ndarray (N,) float64
        O-Net face probability.
    landmarks : ndarray (N, 5, 2) float64
        ``(x, y)`` of left eye, right eye, nose, mouth left, mouth right, where left is
        the image's left (smaller x). 0-based pixel positions: they equal the MATLAB
        release's values, whose decoding ``x1 + w*l - 1`` is already 0-based.

    ``N == 0`` when there is no face (never ``None``).
    """

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray

    def __post_init__(self):
        n = len(self.scores)
        if self.boxes.shape != (n, 4) or self.landmarks.shape != (n, 5, 2):
            raise ValueError(f"inconsistent detections: boxes {self.boxes.shape}, scores {self.scores.shape}, "
                             f"landmarks {self.landmarks.shape}")

    @classmethod
    def empty(cls):
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)))

    def __len__(self):
        return len(self.scores)

    def to_dicts(self):
        """JSON-ready list: ``[{"box": [x1, y1, x2, y2], "score": s, "landmarks": {"left_eye": [x, y], ...}}]``."""
        return [{"box": [float(v) for v in b], "score": float(s),
                 "landmarks": {name: [float(p[0]), float(p[1])] for name, p in zip(LANDMARK_NAMES, lm)}}
                for b, s, lm in zip(self.boxes, self.scores, self.landmarks)]

    def __repr__(self):
        return f"Detections(N={len(self)}, scores={np.round(self.scores, 4).tolist()})"
