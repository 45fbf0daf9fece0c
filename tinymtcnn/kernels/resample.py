"""The authors' image resampler: Piotr Dollar's ``imResample(A, [h w], 'bilinear')``.

Port of: imResampleMex.cpp (``resampleCoef`` + ``resample``), as called by M for
the pyramid and for the R-Net/O-Net crops (spec §3.2, §3.3). Separable: each
axis has its own weights ``w[b, a]`` (output index ``b``, source index ``a``)::

    out[yb, xb, c] = sum_ya sum_xa  wy[yb, ya] * wx[xb, xa] * img[ya, xa, c]

Weights along an axis of ``n_in`` source and ``n_out`` output pixels,
``s = n_out / n_in`` and ``s_inv = 1 / s``:

* **shrink** (``n_in > n_out``), exact area weights: output ``b`` averages the
  source interval ``[b*s_inv, b*s_inv + s_inv)``; source pixel ``a`` (the
  interval ``[a, a+1)``) gets ``s * overlap``, so fractional ends get fractional
  weights. As in the C++, pieces with weight ``<= 1e-3*s`` are dropped, and the
  weights of one output are divided by their sum only when that sum exceeds 1.
* **enlarge or equal** (``n_in <= n_out``), bilinear with half-pixel centres:
  ``f = (b + 0.5)*s_inv - 0.5``, ``a = floor(f)``; weights ``1 - (f - a)`` on
  ``a`` and ``f - a`` on ``a + 1``; if ``a < 0`` or ``a >= n_in - 1`` the
  output copies the clamped edge pixel (weight 1). Equal sizes give the identity.

Precision and deliberate differences from the C++:

* Weights and sums are computed in **float64**; the result is returned as
  **float32** (M computes the pyramid in float32 and the crops in float64, so the
  results agree with M to float32 rounding).
* The C++ multiplies every output by ``1/(1 + 1e-6)`` (a guard for its uint8
  rounding); that ~1e-6 relative darkening is NOT reproduced, so a constant
  image stays constant and equal sizes are exactly the identity (which is also
  what ``imResample`` does when the size does not change).
* The C++ resamples along x (columns) first, then y. The reference twin does the
  same; the Numba kernel does y first, one output row at a time (bounded
  memory for big photos), and sums the source rows of equal weight (the whole
  pixels of an area average) before multiplying once, exactly in int32 for uint8
  images (:mod:`tinymtcnn.kernels.resample_rows`). Both are float64 and agree to ~1e-12.

One kernel, :func:`_resample_windows`, serves every use: it resamples zero-padded windows of an
image, a whole image (:func:`resample`, a pyramid level in :mod:`tinymtcnn.kernels.level`) being
the window of its own size, and writes raw, pyramid-normalised or crop-normalised values.

``resample_naive`` / ``resample``: readable (dense weight matrices) and Numba
twins. ``crop_resize``: the R-Net/O-Net crop stage, zero-padded box crops resampled
to ``size x size`` and normalised; its readable twin, written with the port of pad.m,
is :func:`tinymtcnn.detect.crops.crop_and_resize_naive`.
"""
import math

import numpy as np

from ._jit import jit, parallel_chunks
from .resample_rows import _acc_like, _resample_row, _tap_runs

NORM_MEAN = 127.5
NORM_SCALE = 0.0078125  # 1/128


def check_image(img, *, channels=None):
    """``img`` as an array ``(H, W)`` or ``(H, W, C)`` (``(H, W, channels)`` when ``channels`` is
    given), uint8 or floating, with at least one pixel; otherwise ``ValueError`` (shape) or
    ``TypeError`` (dtype) naming it. The one image check of the resampler, pyramid and crops."""
    img = np.asarray(img)
    if channels is not None and (img.ndim != 3 or img.shape[2] != channels):
        raise ValueError(f"image must have shape (H, W, {channels}), got {img.shape}")
    if img.ndim not in (2, 3):
        raise ValueError(f"image must have shape (H, W) or (H, W, C), got {img.shape}")
    if not (img.dtype == np.uint8 or np.issubdtype(img.dtype, np.floating)):
        raise TypeError(f"image dtype must be uint8 or floating, got {img.dtype}")
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"image must have at least one pixel, got {img.shape}")
    return img


def _check_size(out_h, out_w):
    if int(out_h) != out_h or int(out_w) != out_w or out_h < 1 or out_w < 1:
        raise ValueError(f"output size must be positive integers, got ({out_h}, {out_w})")
    return int(out_h), int(out_w)


# --------------------------------------------------------------------------- plain twins
def axis_weights_naive(n_in, n_out):
    """Dense weights ``(n_out, n_in)`` float64 along one axis (module docstring), numpy."""
    b = np.arange(n_out, dtype=np.float64)[:, None]
    a = np.arange(n_in, dtype=np.float64)[None, :]
    s = n_out / n_in
    s_inv = 1.0 / s
    if n_in > n_out:
        lo = b * s_inv
        hi = lo + s_inv
        overlap = np.minimum(a + 1, hi) - np.maximum(a, lo)  # length of [a, a+1) & [lo, hi)
        wts = np.maximum(overlap, 0.0) * s
        wts[wts <= 1e-3 * s] = 0.0
        total = wts.sum(axis=1, keepdims=True)
        return np.where(total > 1, wts / total, wts)
    f = (b[:, 0] + 0.5) * s_inv - 0.5
    lo = np.floor(f)
    inner = (lo >= 0) & (lo < n_in - 1)
    wt = np.where(inner, 1 - (f - lo), 1.0)
    first = np.clip(lo, 0, n_in - 1).astype(np.int64)
    wts = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    wts[rows, first] = wt
    wts[rows[inner], first[inner] + 1] = 1 - wt[inner]
    return wts


def resample_naive(img, out_h, out_w, dtype=np.float32):
    """Resample ``img`` (H, W, C) or (H, W) to ``(out_h, out_w[, C])`` float32 (or ``dtype``); readable twin.

    Port of: imResampleMex.cpp. x (columns) first, then y, as the C++; float64 inside.
    """
    img = check_image(img)
    out_h, out_w = _check_size(out_h, out_w)
    return _resample_float64_naive(img.astype(np.float64), out_h, out_w).astype(dtype, copy=False)


def _resample_float64_naive(a, out_h, out_w):
    """Float64 resampling of ``a`` (H, W[, C]): along x (columns) first, then y, as the C++."""
    wy = axis_weights_naive(a.shape[0], out_h)
    wx = axis_weights_naive(a.shape[1], out_w)
    cols = np.einsum("xa,ya...->yx...", wx, a)  # along x
    return np.einsum("yb,bx...->yx...", wy, cols)  # then along y


# --------------------------------------------------------------------------- Numba kernels
@jit
def axis_taps(n_in, n_out):
    """Sparse form of the axis weights: ``(index (n_out, T) int64, weight (n_out, T) float64)``.

    Port of: resampleCoef in imResampleMex.cpp. Unused taps have weight 0 (index 0).
    """
    s = n_out / n_in
    s_inv = 1.0 / s
    if n_in > n_out:
        taps = int(math.ceil(s_inv)) + 2
        idx = np.zeros((n_out, taps), dtype=np.int64)
        wts = np.zeros((n_out, taps), dtype=np.float64)
        wt0 = 1e-3 * s
        for b in range(n_out):
            lo = b * s_inv
            hi = lo + s_inv
            a0 = int(math.ceil(lo))
            a1 = int(hi)
            n = 0
            total = 0.0
            for a in range(a0 - 1, a1 + 1):
                wt = s
                if a == a0 - 1:
                    wt = (a0 - lo) * s
                elif a == a1:
                    wt = (hi - a1) * s
                if wt > wt0 and a >= 0 and a < n_in:
                    idx[b, n] = a
                    wts[b, n] = wt
                    n += 1
                    total += wt
            if total > 1:
                for t in range(n):
                    wts[b, t] /= total
        return idx, wts
    idx = np.zeros((n_out, 2), dtype=np.int64)
    wts = np.zeros((n_out, 2), dtype=np.float64)
    for b in range(n_out):
        f = (0.5 + b) * s_inv - 0.5
        a = int(math.floor(f))
        if a >= 0 and a < n_in - 1:
            wt = 1 - (f - a)
            idx[b, 0] = a
            wts[b, 0] = wt
            idx[b, 1] = a + 1
            wts[b, 1] = 1 - wt
        else:
            idx[b, 0] = min(max(a, 0), n_in - 1)
            wts[b, 0] = 1.0
    return idx, wts


_ROW_BLOCK = 16  # output rows per block: threads take chunks of blocks of one big window (a pyramid level)
RAW, LEVEL, CROP = 0, 1, 2  # what _resample_windows writes: see its docstring


@jit
def _resample_windows(src, boxes, acc_like, mode, out, k0, k1, blk0, blk1):
    """Windows ``k0 .. k1-1`` of ``src (H, W, C)`` resampled into ``out (K, C, out_h, out_w)``: the
    one resampling kernel of the package (pyramid levels, R-Net/O-Net crops, :func:`resample`).

    ``boxes (K, 4)`` are 1-based inclusive ``x1, y1, x2, y2`` windows; source pixels outside the
    image count as 0 (black), an empty window (``x2 < x1`` or ``y2 < y1``) gives an all-black
    result. Only the output rows of blocks ``[blk0, blk1)`` of ``_ROW_BLOCK`` rows are written.
    ``mode``: ``RAW`` the resampled values ``v``; ``LEVEL`` ``(float32(v) - 127.5f) * 0.0078125f`` in
    float32 (M's pyramid); ``CROP`` ``(v - 127.5) * 0.0078125`` in float64 (M's double crops), then
    ``out``'s dtype.
    """
    h, w, c_n = src.shape
    out_h, out_w = out.shape[2], out.shape[3]
    mean32, scale32 = np.float32(NORM_MEAN), np.float32(NORM_SCALE)
    b0, b1 = blk0 * _ROW_BLOCK, min(blk1 * _ROW_BLOCK, out_h)
    for k in range(k0, k1):
        x1, y1, x2, y2 = boxes[k, 0], boxes[k, 1], boxes[k, 2], boxes[k, 3]
        bw, bh = x2 - x1 + 1, y2 - y1 + 1
        dst = out[k]
        if bw < 1 or bh < 1:
            black = 0.0 if mode == RAW else (0.0 - NORM_MEAN) * NORM_SCALE
            dst[:, b0:b1, :] = black
            continue
        yi, yw = axis_taps(bh, out_h)
        xi, xw = axis_taps(bw, out_w)
        yfirst, yrun, yspan = _tap_runs(yi, yw)
        xfirst, xrun, _ = _tap_runs(xi, xw)
        rowbuf = np.zeros((bw + xi.shape[1], c_n))
        acc = np.empty(bw * c_n, dtype=acc_like.dtype)
        out_row = np.empty((out_w, c_n))
        for b in range(b0, b1):
            _resample_row(src, y1 - 1, x1 - 1, h, w, yfirst, yrun, yspan, xfirst, xrun, b, rowbuf, acc, out_row)
            for c in range(c_n):
                row = dst[c, b]
                if mode == LEVEL:
                    for xb in range(out_w):
                        row[xb] = (np.float32(out_row[xb, c]) - mean32) * scale32
                elif mode == CROP:
                    for xb in range(out_w):
                        row[xb] = (out_row[xb, c] - NORM_MEAN) * NORM_SCALE
                else:
                    for xb in range(out_w):
                        row[xb] = out_row[xb, c]


def resample_windows(src, boxes, out_h, out_w, mode, dtype=np.float32):
    """``(K, C, out_h, out_w)`` array of ``dtype``: the windows ``boxes (K, 4)`` (1-based inclusive
    ``x1, y1, x2, y2``, zero-padded outside the image) of ``src (H, W, C)`` resampled
    (:func:`_resample_windows`, ``mode`` RAW, LEVEL or CROP).

    Port of: imResampleMex.cpp (``resample``), applied as M applies it: to the whole image for a
    pyramid level (detect_face.m), to pad.m's zero-padded box for a crop. One window (a pyramid level, a whole
    image) is shared out over threads by blocks of rows, several windows (crops) by windows, when the
    work is large and more than one thread is allowed."""
    src = np.ascontiguousarray(src)
    boxes = np.ascontiguousarray(np.asarray(boxes, dtype=np.int64).reshape(-1, 4))
    out = np.empty((len(boxes), src.shape[2], out_h, out_w), dtype=dtype)
    blocks = (out_h + _ROW_BLOCK - 1) // _ROW_BLOCK
    acc_like = _acc_like(src)
    if len(boxes) == 1:
        x1, y1, x2, y2 = boxes[0]
        bw, bh = max(x2 - x1 + 1, 1), max(y2 - y1 + 1, 1)
        work = out_h * (bw * (bh // out_h + 2) + bw + 2 * out_w) * src.shape[2]  # the two passes' multiply-adds
        parallel_chunks(lambda b0, b1: _resample_windows(src, boxes, acc_like, mode, out, 0, 1, b0, b1), blocks, work)
    else:  # each crop is ~0.05 ms of work: from 32 crops on several threads
        parallel_chunks(lambda k0, k1: _resample_windows(src, boxes, acc_like, mode, out, k0, k1, 0, blocks),
                        len(boxes), len(boxes) << 15)
    return out


def resample(img, out_h, out_w):
    """Resample ``img`` (H, W, C) or (H, W), uint8 or float, to float32 ``(out_h, out_w[, C])``.

    Port of: imResampleMex.cpp. Numba kernel; same results as :func:`resample_naive`.
    """
    img = check_image(img)
    out_h, out_w = _check_size(out_h, out_w)
    src = img[:, :, None] if img.ndim == 2 else img
    out = resample_windows(src, [[1, 1, src.shape[1], src.shape[0]]], out_h, out_w, RAW)[0]
    return out[0] if img.ndim == 2 else np.ascontiguousarray(out.transpose(1, 2, 0))


def crop_resize(image, boxes, size, *, normalise=True):
    """Zero-padded crops of 1-based inclusive integer ``boxes`` resampled to ``size``.

    ``image`` (H, W, C) raw 0..255 values (uint8 or float); ``boxes`` (K, 4) integer
    ``x1, y1, x2, y2``. Returns (K, C, size, size) float32 ``(v - 127.5) * 0.0078125`` computed in
    float64 (as M: crop in double, normalise, then Caffe's float32), or with ``normalise=False`` the
    resampled values ``v`` themselves in float64 (training samples store them rounded to uint8:
    normalised once, at batch time). Pixels of the box outside the image are 0 (black) before
    resampling; an empty box (``x2 < x1`` or ``y2 < y1``) gives an all-black crop. Readable twin:
    :func:`tinymtcnn.detect.crops.crop_and_resize_naive`.
    """
    if normalise:
        return resample_windows(image, boxes, size, size, CROP)
    return resample_windows(image, boxes, size, size, RAW, np.float64)
