"""``SampleSet``: the sample arrays of one stage (see :mod:`.samples` for the keys) and batches.

Mixing to the paper's ratio, photo-level train/validation splits, and training batches with random
horizontal flips (:func:`flip_targets`).
"""
import numpy as np

from ..atomic import atomic_savez
from ..detect.boxes import MIRROR_ORDER
from ..kernels.resample import NORM_MEAN, NORM_SCALE
from .losses import LANDMARK, NEGATIVE, PART, POSITIVE

KEYS = ("images", "labels", "boxes", "landmarks", "sides", "photos")


def normalize_images(images_uint8):
    """uint8 (N, 3, s, s) -> float32 ``(v - 127.5) * 0.0078125``, the nets' input."""
    return (images_uint8.astype(np.float32) - np.float32(NORM_MEAN)) * np.float32(NORM_SCALE)


def denormalize_images(images):
    """The inverse of :func:`normalize_images` for storing crops: ``v / 0.0078125 + 127.5`` rounded and
    clipped to uint8 (the nets' inputs from :func:`~tinymtcnn.detect.crops.crop_and_resize`, any shape)."""
    return np.clip(np.rint(images / NORM_SCALE + NORM_MEAN), 0, 255).astype(np.uint8)


class SampleSet:
    """A dict of equally long sample arrays (module docstring) with helpers."""

    def __init__(self, arrays, size=None):
        missing = [k for k in KEYS if k not in arrays]
        if missing:
            raise ValueError(f"sample arrays lack {missing}")
        n = len(arrays["labels"])
        bad = [k for k in KEYS if len(arrays[k]) != n]
        if bad:
            raise ValueError(f"sample arrays {bad} do not have {n} rows")
        self.arrays = {k: np.asarray(arrays[k]) for k in KEYS}
        self.size = int(self.arrays["images"].shape[-1]) if size is None else int(size)

    @classmethod
    def empty(cls, size):
        return cls({"images": np.zeros((0, 3, size, size), np.uint8), "labels": np.zeros(0, np.int8),
                    "boxes": np.zeros((0, 4), np.float32), "landmarks": np.zeros((0, 10), np.float32),
                    "sides": np.zeros(0, np.float32), "photos": np.zeros(0, np.int32)}, size)

    @classmethod
    def concat(cls, sets, size):
        sets = [s for s in sets if len(s)]
        if not sets:
            return cls.empty(size)
        return cls({k: np.concatenate([s.arrays[k] for s in sets]) for k in KEYS}, size)

    def __len__(self):
        return len(self.arrays["labels"])

    def __getitem__(self, key):
        return self.arrays[key]

    def subset(self, idx):
        return SampleSet({k: v[idx] for k, v in self.arrays.items()}, self.size)

    def counts(self):
        """``{"negative": n, "positive": n, "part": n, "landmark": n}``."""
        lab = self.arrays["labels"]
        return {name: int(np.sum(lab == v)) for name, v in
                (("negative", NEGATIVE), ("positive", POSITIVE), ("part", PART), ("landmark", LANDMARK))}

    def mix(self, ratio=(3, 1, 1, 2), rng=None, *, max_repeat=1.0):
        """Resample to ``negative : positive : part : landmark = ratio`` (paper: 3:1:1:2).

        Types without samples (e.g. no landmark photos) are left out of the ratio. The type that is
        scarcest relative to its share sets the scale, after allowing every type to be repeated up to
        ``max_repeat`` times (1: pure subsampling; 4: a scarce type may appear up to 4 times, which
        random flips then vary). Deterministic for a seeded ``rng``.
        """
        rng = np.random.default_rng(0) if rng is None else rng
        lab = self.arrays["labels"]
        pools = [np.flatnonzero(lab == v) for v in (NEGATIVE, POSITIVE, PART, LANDMARK)]
        present = [(p, r) for p, r in zip(pools, ratio) if len(p) and r > 0]
        if not present:
            return self.subset(np.zeros(0, dtype=np.int64))
        unit = min(max(1.0, max_repeat) * len(p) / r for p, r in present)
        keep = []
        for p, r in present:
            need = int(np.floor(unit * r))
            copies, rest = divmod(need, len(p))
            keep += [p] * copies + [rng.choice(p, rest, replace=False)]
        return self.subset(np.sort(np.concatenate(keep)))

    def split(self, val_fraction, seed=0):
        """Photo-level split: ``(train, val)``, every sample of a photo on the same side."""
        photos = np.unique(self.arrays["photos"])
        if val_fraction <= 0 or len(photos) < 2:
            return self, self.subset(np.zeros(0, dtype=np.int64))
        rng = np.random.default_rng(seed)
        n_val = max(1, int(round(val_fraction * len(photos))))
        val_photos = rng.choice(photos, n_val, replace=False)
        is_val = np.isin(self.arrays["photos"], val_photos)
        return self.subset(np.flatnonzero(~is_val)), self.subset(np.flatnonzero(is_val))

    def batch(self, idx, *, flip=None):
        """A training batch dict: normalised float32 ``images`` and the targets; ``flip`` (len(idx),) bool
        mirrors those samples horizontally (see :func:`flip_targets`)."""
        images = self.arrays["images"][idx]
        boxes = self.arrays["boxes"][idx].astype(np.float32)
        lms = self.arrays["landmarks"][idx].astype(np.float32)
        if flip is not None and np.any(flip):
            images = images.copy()
            images[flip] = images[flip][..., ::-1]
            boxes[flip], lms[flip] = flip_targets(boxes[flip], lms[flip], self.arrays["sides"][idx][flip])
        return {"images": normalize_images(images), "labels": self.arrays["labels"][idx].astype(np.int64),
                "boxes": boxes, "landmarks": lms}

    def save(self, path):
        """Write the arrays to ``path`` (``.npz``) atomically."""
        atomic_savez(path, self.arrays)



def flip_targets(boxes, landmarks, sides):
    """Targets of horizontally mirrored crops.

    Box: the left edge becomes the mirrored right edge, ``t1' = -t3``, ``t3' = -t1``. Landmarks:
    pixel centre ``j`` of an ``S``-pixel crop goes to ``S - 1 - j``, i.e. ``l' = (S - 1)/S - l``,
    with the eyes and the mouth corners swapped (left stays image-left).
    """
    b = boxes.copy()
    b[:, 0], b[:, 2] = -boxes[:, 2], -boxes[:, 0]
    shift = ((sides - 1) / sides)[:, None]
    xs = shift - landmarks[:, :5][:, MIRROR_ORDER]
    ys = landmarks[:, 5:][:, MIRROR_ORDER]
    return b, np.concatenate([xs, ys], axis=1).astype(landmarks.dtype)
