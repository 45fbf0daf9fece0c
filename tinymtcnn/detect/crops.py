"""Box crops for R-Net (24x24) and O-Net (48x48) (spec §3.3, §5.2 step 9).

Boxes are integer boxes in M's 1-based inclusive convention (see
:mod:`tinymtcnn.detect.boxes`). M copies the in-image part of each box into a
``zeros(tmph, tmpw, 3)`` array (raw value 0 = black where the box leaves the
image), resamples it with the authors' resampler (area average when shrinking,
bilinear when enlarging) and normalises afterwards.

``crop_and_resize_naive`` does exactly that, box by box, with :func:`pad_boxes` (the
port of pad.m) and the readable resampler: it is the specification and the test
oracle of ``crop_and_resize``, whose Numba kernel (:func:`~tinymtcnn.kernels.resample.crop_resize`)
pads as it reads instead of building ``tmp``.
"""
from typing import NamedTuple

import numpy as np

from ..kernels.resample import NORM_MEAN, NORM_SCALE, check_image, crop_resize, resample_naive


class PadRegions(NamedTuple):
    """Index rectangles from :func:`pad_boxes`, all (K,) int64, 1-based inclusive (M's names).

    ``image[y:ey, x:ex]`` (source, the box clipped to the image) is copied to
    ``crop[dy:edy, dx:edx]`` of a ``crop_height x crop_width`` zero array. In 0-based numpy
    slices: ``crop[dy-1:edy, dx-1:edx] = image[y-1:ey, x-1:ex]``. Source and destination
    always have the same extent; it is ``<= 0`` (empty) when the box misses the image.
    """

    dy: np.ndarray
    edy: np.ndarray
    dx: np.ndarray
    edx: np.ndarray
    y: np.ndarray
    ey: np.ndarray
    x: np.ndarray
    ex: np.ndarray
    crop_width: np.ndarray
    crop_height: np.ndarray


def _integer_boxes(boxes):
    arr = np.asarray(boxes)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"boxes must have shape (K, 4), got {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"boxes must be integer or float with integer values, got {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.fix(arr)):
            raise ValueError("boxes must hold integer values (truncate them with truncate_boxes first)")
    return arr.astype(np.int64)


def pad_boxes(boxes, height, width):
    """Source/destination rectangles for zero-padded crops. Port of: pad.m.

    Parameters
    ----------
    boxes : (K, 4) integer (or integral float)
        ``x1, y1, x2, y2``, 1-based inclusive.
    height, width : int
        Image size.

    Returns
    -------
    PadRegions
        With ``crop_width = x2 - x1 + 1`` and ``crop_height = y2 - y1 + 1``::

            x  = max(x1, 1)     dx  = 2 - x1 if x1 < 1 else 1
            ex = min(x2, W)     edx = crop_width - (x2 - W) if x2 > W else crop_width

        and likewise for y. For boxes partly outside the image this is M's padding; for a box
        entirely outside, ``ex - x + 1 = edx - dx + 1 <= 0`` (an empty copy, as in M).
    """
    b = _integer_boxes(boxes)
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    crop_w = x2 - x1 + 1
    crop_h = y2 - y1 + 1
    edx = np.where(x2 > width, crop_w - (x2 - width), crop_w)
    edy = np.where(y2 > height, crop_h - (y2 - height), crop_h)
    ex = np.minimum(x2, width)
    ey = np.minimum(y2, height)
    dx = np.where(x1 < 1, 2 - x1, 1)
    dy = np.where(y1 < 1, 2 - y1, 1)
    x = np.maximum(x1, 1)
    y = np.maximum(y1, 1)
    return PadRegions(dy, edy, dx, edx, y, ey, x, ex, crop_w, crop_h)


def crop_and_resize(image, boxes, size, *, normalise=True):
    """Zero-padded crops resampled to ``size x size``, normalised, NCHW.

    Port of: detect_face.m (stage 2/3 crop loop, with pad.m and imResample).

    Parameters
    ----------
    image : (H, W, 3) float32 raw 0..255 values (uint8 accepted), RGB
    boxes : (K, 4) integer (or integral float)
        ``x1, y1, x2, y2`` 1-based inclusive, e.g. after :func:`~tinymtcnn.detect.boxes.truncate_boxes`.
    size : int
        Output side (24 for R-Net, 48 for O-Net).
    normalise : bool
        False: the resampled raw values in float64, not normalised (training samples).

    Returns
    -------
    (K, 3, size, size) float32
        ``(v - 127.5) * 0.0078125`` of the resampled crop (computed in float64, as M's double
        crops). Pixels of the box outside the image are raw 0 (black, normalised
        -0.99609375) before resampling. A box entirely outside the image, or an empty box
        (``x2 < x1`` or ``y2 < y1``, where M would fail), gives an all-black crop.
        ``K = 0`` gives a ``(0, 3, size, size)`` array.
    """
    image, b, size = _check_crop_args(image, boxes, size)
    return crop_resize(image, b, size, normalise=normalise)


def crop_and_resize_naive(image, boxes, size, *, normalise=True):
    """Readable twin of :func:`crop_and_resize` (same contract: ``image (H, W, 3)``, ``boxes (K, 4)``
    1-based inclusive integers -> ``(K, 3, size, size)``), as M writes it: per box, a
    ``zeros(tmph, tmpw, 3)`` array, the in-image part copied in with :func:`pad_boxes`' rectangles,
    resampled (:func:`~tinymtcnn.kernels.resample.resample_naive`, float64), then normalised.

    Port of: detect_face.m (stage 2/3 crop loop) with pad.m and imResample."""
    image, b, size = _check_crop_args(image, boxes, size)
    image = image.astype(np.float64)
    regions = pad_boxes(b, image.shape[0], image.shape[1])
    out = np.empty((len(b), 3, size, size), dtype=np.float32 if normalise else np.float64)
    for k in range(len(b)):
        r = [int(v[k]) for v in regions]  # dy, edy, dx, edx, y, ey, x, ex, crop_w, crop_h
        dy, edy, dx, edx, y, ey, x, ex, crop_w, crop_h = r
        if crop_w < 1 or crop_h < 1:  # an empty box: M would fail; here all black
            crop = np.zeros((size, size, 3))
        else:
            tmp = np.zeros((crop_h, crop_w, 3))
            if ey >= y and ex >= x:  # 1-based inclusive ranges as 0-based slices
                tmp[dy - 1:edy, dx - 1:edx] = image[y - 1:ey, x - 1:ex]
            crop = resample_naive(tmp, size, size, dtype=np.float64)
        if normalise:
            crop = (crop - NORM_MEAN) * NORM_SCALE
        out[k] = crop.transpose(2, 0, 1)
    return out


def _check_crop_args(image, boxes, size):
    """``(image, boxes (K, 4) int64, size int)`` checked (ValueError/TypeError naming the bad one)."""
    image = check_image(image, channels=3)
    if int(size) != size or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    b = _integer_boxes(np.asarray(boxes).reshape(-1, 4) if np.size(boxes) == 0 else boxes)
    return image, b, int(size)
