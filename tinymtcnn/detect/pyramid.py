"""Image pyramid for the P-Net stage (spec §3, §4).

Port of: the pyramid part of detect_face.m (M). With ``m = 12 / min_face_size``
the levels are ``m * factor**k`` for ``k = 0, 1, ...`` while the running minimum
side ``min(H, W) * m * factor**k`` (accumulated by repeated multiplication, as M)
is ``>= 12``; level ``k`` has size ``(ceil(H*s), ceil(W*s))`` in float64 (M's
``ceil(h*scale)``), is resampled from the ORIGINAL image with the authors'
resampler (area average when shrinking, bilinear when enlarging, see
:mod:`tinymtcnn.kernels.resample`) and then normalised ``(x - 127.5) * 0.0078125``.
Cells are mapped back with the nominal scale ``s``, not ``hs / H``.

``min_face_size < 12`` gives a first scale above 1: those levels are enlarged.
"""
import math

import numpy as np

from ..kernels.resample import NORM_MEAN, NORM_SCALE, resample
from ..kernels.resample import check_image as check_resample_input

PNET_CELL = 12


def _check_params(min_face_size, scale_factor):
    if not np.isfinite(min_face_size) or min_face_size < 1:
        raise ValueError(f"min_face_size must be >= 1 pixel, got {min_face_size!r}")
    if not (0 < scale_factor < 1):
        raise ValueError(f"scale_factor must satisfy 0 < scale_factor < 1, got {scale_factor!r}")


def pyramid_scales(height, width, min_face_size=20, scale_factor=0.709):
    """Scales of the pyramid levels, largest first. Port of: detect_face.m (scale loop).

    Parameters
    ----------
    height, width : int
        Image size in pixels.
    min_face_size : float
        Smallest face side to detect (M's ``minsize``); ``>= 1``.
    scale_factor : float
        Ratio between consecutive levels (M's ``factor``); ``0 < f < 1``.

    Returns
    -------
    list of float
        ``[m * f**k for k = 0..K-1]`` with ``m = 12 / min_face_size``; empty when
        ``min(height, width) < min_face_size``. ``K = floor(ln(min_side/min_face_size)
        / ln(1/f)) + 1`` up to float rounding at exact boundaries.
    """
    _check_params(min_face_size, scale_factor)
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got ({height}, {width})")
    m = PNET_CELL / min_face_size
    min_side = min(height, width) * m
    scales = []
    k = 0
    while min_side >= PNET_CELL:
        scales.append(m * scale_factor**k)
        min_side *= scale_factor
        k += 1
    return scales


def level_size(h, w, scale):
    """Size of a pyramid level: ``(ceil(h*scale), ceil(w*scale))``, float64 products as M.

    Port of: detect_face.m (``hs=ceil(h*scale); ws=ceil(w*scale);``).
    """
    return int(math.ceil(h * scale)), int(math.ceil(w * scale))


def normalize(img):
    """``(x - 127.5) * 0.0078125`` as float32 (computed in float32, as M's ``single`` pyramid).

    Maps 0 -> -0.99609375 and 255 -> 0.99609375. Any shape; returns a new array.
    """
    x = np.asarray(img, dtype=np.float32)
    return (x - np.float32(NORM_MEAN)) * np.float32(NORM_SCALE)


def _check_image(image):
    """The resampler's checks (dtype, at least one pixel) plus three channels."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must have shape (H, W, 3), got {image.shape}")
    return check_resample_input(image)


def iter_pyramid(image, min_face_size=20, scale_factor=0.709):
    """Yield the pyramid one level at a time: ``(scale, level)``.

    Port of: detect_face.m (stage-1 loop, ``fastresize = false``). Only one level is
    alive at a time (plus the caller's image), so big photos run in bounded memory.

    Parameters
    ----------
    image : (H, W, 3) uint8 (or float with 0..255 values), RGB
    min_face_size, scale_factor : see :func:`pyramid_scales`

    Returns
    -------
    iterator of (float, ndarray)
        Pairs ``(scale, level)``: ``scale`` is the nominal scale ``s`` of the level (used to
        map cells back); ``level`` is the resampled then normalised image, HWC float32 of
        shape ``(ceil(H*s), ceil(W*s), 3)``. Arguments are validated at the call, not at the
        first ``next()``.
    """
    image = _check_image(image)  # validated now, not at the first next()
    scales = pyramid_scales(image.shape[0], image.shape[1], min_face_size, scale_factor)
    return _levels(image, scales)


def _levels(image, scales):
    h, w = image.shape[:2]
    for scale in scales:
        level = resample(image, *level_size(h, w, scale))
        level -= np.float32(NORM_MEAN)  # float32 arithmetic, as M's single pyramid
        level *= np.float32(NORM_SCALE)
        yield scale, level


def build_pyramid(image, min_face_size=20, scale_factor=0.709):
    """All pyramid levels as a list of ``(scale, level)``; see :func:`iter_pyramid`."""
    return list(iter_pyramid(image, min_face_size, scale_factor))
