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

:func:`pyramid_cost` estimates, in closed form and before anything is allocated, what
stage 1 will cost; :func:`check_pyramid_cost` refuses settings beyond a budget
(``MTCNN(max_memory=..., max_pyramid_pixels=...)``, see docs/pipeline.md).
"""
import math
from typing import NamedTuple

import numpy as np

from ..kernels.resample import NORM_MEAN, NORM_SCALE, resample
from ..kernels.resample import check_image as check_resample_input
from ..layers._checks import check_number
from .boxes import PNET_CELL

#: Stage-1 working memory per pixel of a level being scanned: the level (float32, channel-first),
#: P-Net's trunk and heads, the probability map. 29-30 B measured on a 2000 x 2000 level.
PNET_BYTES_PER_PIXEL = 32
#: The fixed cost of one level (a P-Net call, NMS, Python) in pixels of work: 1,204 levels of a
#: 40 x 40 image take about 0.3 s, of which about 0.1 ms per level beyond the pixels.
LEVEL_OVERHEAD_PIXELS = 1024
#: Default budget of stage-1 working memory, bytes (``MTCNN(max_memory=...)``). An 8000 x 6000
#: photo at the default settings needs about 0.83 GB with two threads (0.87 GB peak RSS in all).
MAX_MEMORY = 1_500_000_000
#: Default budget of stage-1 work, pixels of all levels plus :data:`LEVEL_OVERHEAD_PIXELS` per
#: level (``MTCNN(max_pyramid_pixels=...)``): about a minute on two cores (4-5 M pixels/s).
MAX_PYRAMID_PIXELS = 250_000_000


def _check_params(min_face_size, scale_factor):
    min_face_size = check_number("min_face_size", min_face_size, low=1)
    scale_factor = check_number("scale_factor", scale_factor, low=0, high=1, low_open=True, high_open=True)
    return min_face_size, scale_factor


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
    min_face_size, scale_factor = _check_params(min_face_size, scale_factor)
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


class PyramidCost(NamedTuple):
    """What stage 1 costs on one image (:func:`pyramid_cost`)."""

    levels: int  #: number of pyramid levels
    pixels: float  #: pixels of all levels together (an upper bound: each side rounded up)
    work: float  #: ``pixels + levels * LEVEL_OVERHEAD_PIXELS``, proportional to the time
    memory: float  #: bytes of working memory: P-Net on the ``threads`` largest levels at once


def pyramid_cost(height, width, min_face_size=20, scale_factor=0.709, threads=1):
    """Estimate stage 1's cost in closed form, without building the pyramid.

    With ``m = 12 / min_face_size``, the number of levels is
    ``K = floor(ln(min(H, W) * m / 12) / ln(1 / f)) + 1`` (0 when ``min(H, W) * m < 12``), the
    pixels of all levels are bounded by ``sum_k (H s_k + 1)(W s_k + 1)`` with ``s_k = m f^k``,
    a geometric sum, and the memory is :data:`PNET_BYTES_PER_PIXEL` times the pixels of the
    ``threads`` largest levels (each thread scans a whole level). ``K`` may differ by one from
    :func:`pyramid_scales` when a level lands exactly on 12 px; the time taken does not depend
    on ``K`` (``scale_factor = 0.999999`` gives ``K`` in the millions, estimated at once).

    Parameters
    ----------
    height, width : int
        Image size in pixels.
    min_face_size, scale_factor : see :func:`pyramid_scales`
    threads : int
        Threads scanning levels at once.

    Returns
    -------
    PyramidCost
    """
    min_face_size, scale_factor = _check_params(min_face_size, scale_factor)
    threads = check_number("threads", threads, low=1, integer=True)
    m = PNET_CELL / min_face_size
    top = min(height, width) * m
    if top < PNET_CELL:
        return PyramidCost(0, 0.0, 0.0, 0.0)
    log_f = math.log(scale_factor)
    levels = math.floor(math.log(top / PNET_CELL) / -log_f) + 1
    area = height * width * m * m * -math.expm1(2 * levels * log_f) / -math.expm1(2 * log_f)
    sides = (height + width) * m * -math.expm1(levels * log_f) / -math.expm1(log_f)
    pixels = area + sides + levels
    largest = sum(math.prod(level_size(height, width, m * scale_factor**k)) for k in range(min(threads, levels)))
    return PyramidCost(levels, pixels, pixels + levels * LEVEL_OVERHEAD_PIXELS, float(largest * PNET_BYTES_PER_PIXEL))


def suggest_budget(x):
    """``x`` rounded up to two significant digits: the budget a refusal suggests."""
    step = 10.0 ** (math.floor(math.log10(x)) - 1)
    return math.ceil(x / step) * step


def check_pyramid_cost(height, width, min_face_size=20, scale_factor=0.709, *, threads=1, max_memory=MAX_MEMORY,
                       max_pyramid_pixels=MAX_PYRAMID_PIXELS):
    """Refuse a detection whose stage 1 would exceed the memory or work budget.

    Parameters
    ----------
    height, width, min_face_size, scale_factor, threads : see :func:`pyramid_cost`
    max_memory : float
        Bytes of stage-1 working memory allowed (``math.inf``: no limit).
    max_pyramid_pixels : float
        Stage-1 work allowed, :attr:`PyramidCost.work` (``math.inf``: no limit).

    Returns
    -------
    PyramidCost
        The estimate, when within both budgets.

    Raises
    ------
    ValueError
        Over a budget: the message gives the estimate and the keyword that allows it.
    """
    cost = pyramid_cost(height, width, min_face_size, scale_factor, threads)
    over, allow = [], []
    if cost.memory > max_memory:
        over.append(f"about {cost.memory / 1e9:.3g} GB of memory (P-Net on the {min(threads, cost.levels)} "
                    f"largest level(s) at once; budget max_memory={max_memory:.3g} bytes)")
        allow.append(f"max_memory={suggest_budget(cost.memory):.2g}")
    if cost.work > max_pyramid_pixels:
        over.append(f"about {cost.work / 1e6:,.0f} M pixels of work ({cost.levels:,} levels, "
                    f"{cost.pixels / 1e6:,.0f} M pixels; budget max_pyramid_pixels={max_pyramid_pixels:.3g}, "
                    f"about a minute on two cores)")
        allow.append(f"max_pyramid_pixels={suggest_budget(cost.work):.2g}")
    if over:
        raise ValueError(f"detection on a {height}x{width} image with min_face_size={min_face_size:g}, "
                         f"scale_factor={scale_factor:g} would need {' and '.join(over)}. Raise min_face_size "
                         f"or lower scale_factor, or allow it with MTCNN({', '.join(allow)}) "
                         f"(command line: {' '.join('--' + a.replace('_', '-').replace('=', ' ') for a in allow)})")
    return cost


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
    image = check_resample_input(image, channels=3)  # validated now, not at the first next()
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
