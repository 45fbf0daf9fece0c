"""Crowds and small faces made from the photos there are: mosaics, blur of small faces, joined sets.

Each class here is a *photo sequence* (``len``, ``photos[i]`` -> :class:`~.readers.Photo`, a stable
``fingerprint``), like :class:`~.readers.PhotoList` and :class:`~.cascade.FirstPhotos`, so it goes
wherever training photos go: :func:`~.dataset.build_samples` (random crops), the hard-example miner
(which then mines negatives between the faces of a mosaic) and the sample cache (``--resume``).

* :class:`MosaicPhotos`: ``count`` scenes, each a ``g x g`` grid of square cells (``g`` drawn in
  ``grid``); every cell holds a window of one training photo scaled so that its largest face has a
  side drawn uniformly in ``face_sides`` (12-40 px by default), so the scene shows several small
  faces side by side. Boxes and five points follow the pixels; a face the window cuts is erased
  (its visible pixels set to 0) rather than left unannotated; photos without faces fill a cell at a
  random scale (background only).
* :func:`blur_image` / :class:`BlurredPhotos`: downscale by a random factor, then upscale back: the
  blur and lost detail of a small face seen at its native resolution (applied per mosaic cell with
  probability ``blur`` too).
* :class:`JoinedPhotos`: several sequences one after the other.

Determinism: scene ``i`` is drawn with ``numpy.random.default_rng([seed, i])`` (as samples are), so
``photos[i]`` is the same on every call, in every worker process, in any order.
"""
import math

import numpy as np

from ..kernels.resample import resample
from .readers import Photo


def _fingerprint(photos):
    return getattr(photos, "fingerprint", repr(photos))


def _pair(value, name, low):
    lo, hi = (float(v) for v in value)
    if not (math.isfinite(lo) and math.isfinite(hi) and low <= lo <= hi):
        raise ValueError(f"{name} must be two finite numbers {low} <= low <= high, got {tuple(value)}")
    return lo, hi


def scale_image(image, height, width):
    """``image`` (H, W, 3) uint8 resampled to ``(height, width)`` (the detector's resampler), uint8."""
    out = resample(np.ascontiguousarray(image), max(1, int(height)), max(1, int(width)))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def blur_image(image, factor):
    """Downscale ``image`` by ``factor`` (>= 1), then upscale back to its size: the same frame, less detail."""
    factor = float(factor)
    if not (math.isfinite(factor) and factor >= 1):
        raise ValueError(f"blur factor must be a finite number >= 1, got {factor!r}")
    h, w = image.shape[:2]
    small = scale_image(image, max(1, round(h / factor)), max(1, round(w / factor)))
    return scale_image(small, h, w)


class JoinedPhotos:
    """Photo sequences one after the other (``photos[i]`` of the first, then of the next...)."""

    def __init__(self, *parts):
        self.parts = [p for p in parts if len(p)]
        self.starts = np.cumsum([0] + [len(p) for p in self.parts])
        self.fingerprint = "+".join(f"({_fingerprint(p)})" for p in parts)

    def __len__(self):
        return int(self.starts[-1])

    def __getitem__(self, i):
        if not 0 <= i < len(self):
            raise IndexError(i)
        k = int(np.searchsorted(self.starts, i, side="right")) - 1
        return self.parts[k][i - int(self.starts[k])]


class BlurredPhotos:
    """``photos`` with a share ``share`` of them blurred (:func:`blur_image`, factor drawn in ``factors``)."""

    def __init__(self, photos, *, seed=0, share=0.5, factors=(1.5, 3.0)):
        if not 0 <= float(share) <= 1:
            raise ValueError(f"share must be between 0 and 1, got {share!r}")
        self.photos, self.seed, self.share = photos, int(seed), float(share)
        self.factors = _pair(factors, "factors", 1.0)
        self.fingerprint = f"blurred({_fingerprint(photos)}):seed={self.seed}:share={self.share}:f={self.factors}"

    def __len__(self):
        return len(self.photos)

    def __getitem__(self, i):
        photo = self.photos[i]
        rng = np.random.default_rng([self.seed, 1, i])
        if rng.random() >= self.share:
            return photo
        image = blur_image(photo.image, rng.uniform(*self.factors))
        return Photo(image, photo.boxes, photo.landmarks, photo.name + ":blurred")


class MosaicPhotos:
    """``count`` mosaic scenes of small faces made from ``photos`` (see the module docstring).

    Parameters
    ----------
    photos : photo sequence (at least one photo)
    count : number of scenes
    seed : scene ``i`` uses ``default_rng([seed, i])``
    grid : ``(low, high)`` cells per side, drawn per scene
    cell : side of a cell in pixels (larger than ``face_sides[1]``)
    face_sides : ``(low, high)``: the largest face of each cell gets a side drawn in this range
    blur : probability that a cell is blurred (:func:`blur_image`, factor drawn in ``blur_factors``)
    """

    def __init__(self, photos, count, *, seed=0, grid=(2, 3), cell=96, face_sides=(12.0, 40.0), blur=0.5,
                 blur_factors=(1.5, 3.0)):
        if len(photos) == 0:
            raise ValueError("mosaics need at least one photo to draw from")
        if int(count) < 0:
            raise ValueError(f"count must be >= 0, got {count!r}")
        g_lo, g_hi = (int(g) for g in grid)
        if not 1 <= g_lo <= g_hi:
            raise ValueError(f"grid must be (low, high) with 1 <= low <= high, got {tuple(grid)}")
        self.face_sides = _pair(face_sides, "face_sides", 1.0)
        if int(cell) < self.face_sides[1] + 2:
            raise ValueError(f"cell ({cell}) must exceed the largest face side {self.face_sides[1]} by 2 px")
        if not 0 <= float(blur) <= 1:
            raise ValueError(f"blur must be a probability between 0 and 1, got {blur!r}")
        self.photos, self.count, self.seed = photos, int(count), int(seed)
        self.grid, self.cell, self.blur = (g_lo, g_hi), int(cell), float(blur)
        self.blur_factors = _pair(blur_factors, "blur_factors", 1.0)
        self.fingerprint = (f"mosaic({_fingerprint(photos)}):n={self.count}:seed={self.seed}:grid={self.grid}:"
                            f"cell={self.cell}:faces={self.face_sides}:blur={self.blur}:f={self.blur_factors}")

    def __len__(self):
        return self.count

    def __getitem__(self, i):
        if not 0 <= i < self.count:
            raise IndexError(i)
        rng = np.random.default_rng([self.seed, i])
        g = int(rng.integers(self.grid[0], self.grid[1] + 1))
        c = self.cell
        canvas = np.zeros((g * c, g * c, 3), dtype=np.uint8)
        boxes, points = [], []
        for row in range(g):
            for col in range(g):
                source = self.photos[int(rng.integers(len(self.photos)))]
                tile, b, p = self._cell(source, rng)
                canvas[row * c:(row + 1) * c, col * c:(col + 1) * c] = tile
                shift = np.array([col * c, row * c], dtype=np.float64)
                boxes.append(b + np.tile(shift, 2))
                points.append(p + shift)
        boxes, points = np.concatenate(boxes), np.concatenate(points)
        landmarks = points if np.isfinite(points).any() else None
        return Photo(canvas, boxes, landmarks, f"mosaic:{self.seed}:{i}")

    def _cell(self, photo, rng):
        """One cell: ``(tile (c, c, 3) uint8, boxes (K, 4), points (K, 5, 2), NaN where unknown)``."""
        c = self.cell
        h, w = photo.image.shape[:2]
        gts = np.asarray(photo.boxes, dtype=np.float64).reshape(-1, 4)
        pts = np.full((len(gts), 5, 2), np.nan) if photo.landmarks is None else \
            np.asarray(photo.landmarks, dtype=np.float64).reshape(-1, 5, 2)
        sides = np.maximum(gts[:, 2] - gts[:, 0], gts[:, 3] - gts[:, 1])
        if len(gts):
            big = int(np.argmax(sides))
            scale = rng.uniform(*self.face_sides) / sides[big]
        else:  # background only: the photo's short side between the cell and 3 cells
            scale = rng.uniform(1.0, 3.0) * c / min(h, w)
        new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
        sx, sy = new_w / w, new_h / h
        image = scale_image(photo.image, new_h, new_w)
        gts = gts * np.array([sx, sy, sx, sy])
        pts = pts * np.array([sx, sy])
        if len(gts):  # a window of side c that holds the largest face whole, inside the photo if it can
            f = gts[big]
            x_lo, x_hi = max(f[2] - c, min(0, new_w - c)), min(f[0], max(0, new_w - c))
            y_lo, y_hi = max(f[3] - c, min(0, new_h - c)), min(f[1], max(0, new_h - c))
            if x_lo > x_hi:
                x_lo, x_hi = f[2] - c, f[0]
            if y_lo > y_hi:
                y_lo, y_hi = f[3] - c, f[1]
            x0 = int(rng.integers(math.ceil(x_lo), math.floor(x_hi) + 1))
            y0 = int(rng.integers(math.ceil(y_lo), math.floor(y_hi) + 1))
        else:
            x0 = int(rng.integers(0, max(0, new_w - c) + 1))
            y0 = int(rng.integers(0, max(0, new_h - c) + 1))
        tile = np.zeros((c, c, 3), dtype=np.uint8)
        sx0, sy0 = max(0, x0), max(0, y0)
        sx1, sy1 = min(new_w, x0 + c), min(new_h, y0 + c)
        if sx1 > sx0 and sy1 > sy0:
            tile[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[sy0:sy1, sx0:sx1]
        if rng.random() < self.blur:
            tile = blur_image(tile, rng.uniform(*self.blur_factors))
        gts = gts - np.array([x0, y0, x0, y0], dtype=np.float64)
        pts = pts - np.array([x0, y0], dtype=np.float64)
        inside = (gts[:, 0] >= 0) & (gts[:, 1] >= 0) & (gts[:, 2] <= c) & (gts[:, 3] <= c)
        kept = tile.copy()
        for b in gts[~inside]:  # a face the window cuts: erase what shows of it
            x1, y1, x2, y2 = _pixels(b, c)
            tile[y1:y2, x1:x2] = 0
        for b in gts[inside]:  # ... but never a face that is kept (overlapping boxes)
            x1, y1, x2, y2 = _pixels(b, c)
            tile[y1:y2, x1:x2] = kept[y1:y2, x1:x2]
        return tile, gts[inside], pts[inside]


def _pixels(box, side):
    """The integer pixel rectangle ``(x1, y1, x2, y2)`` covering ``box``, clipped to ``[0, side]``."""
    x1, y1 = max(0, math.floor(box[0])), max(0, math.floor(box[1]))
    return x1, y1, max(x1, min(side, math.ceil(box[2]))), max(y1, min(side, math.ceil(box[3])))
