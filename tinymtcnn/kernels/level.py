"""One P-Net pyramid level in one pass: resample, normalise and lay out channel-first.

Port of: detect_face.m (stage-1 loop: ``imResample`` of the ORIGINAL image, then
``(im_data - 127.5) * 0.0078125`` in single precision, then the transpose to Caffe's
layout). The resampling is :func:`tinymtcnn.kernels.resample.resample`'s, and the
normalisation :func:`tinymtcnn.detect.pyramid.normalize`'s, in float32::

    level[c, y, x] = (float32(resample(img)[y, x, c]) - 127.5f) * 0.0078125f        (C, out_h, out_w)

so the result equals ``normalize(resample(img, out_h, out_w)).transpose(2, 0, 1)`` bit for bit,
without the HWC float32 intermediate, the separate normalising passes and the strided reads
that a transposed view costs P-Net.

``pyramid_level_reference`` is the readable twin; ``pyramid_level`` the Numba kernel.
"""
import numpy as np

from ._jit import PARALLEL_MIN_WORK, get_num_threads, jit, parallel_build, prange
from .resample import NORM_MEAN, NORM_SCALE, _check_size, axis_taps, check_image, resample_reference
from .resample_rows import _acc_like, _resample_row, _tap_runs


# --------------------------------------------------------------------------- plain twin
def pyramid_level_reference(img, out_h, out_w):
    """Readable twin: ``img (H, W, C)`` -> ``(C, out_h, out_w)`` float32, resampled then normalised."""
    x = resample_reference(img, out_h, out_w)
    x = (x - np.float32(NORM_MEAN)) * np.float32(NORM_SCALE)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


# --------------------------------------------------------------------------- Numba kernel
_ROW_BLOCK = 16  # output rows per task of the parallel loop (one scratch row buffer each)


def _level_rows(src, yfirst, yrun, yspan, xfirst, xrun, acc_like, out):
    h, w, c_n = src.shape
    out_h, out_w = out.shape[1], out.shape[2]
    mean = np.float32(NORM_MEAN)
    scale = np.float32(NORM_SCALE)
    for blk in prange((out_h + _ROW_BLOCK - 1) // _ROW_BLOCK):
        rowbuf = np.zeros((w + xrun.shape[1], c_n))
        acc = np.empty(w * c_n, dtype=acc_like.dtype)
        out_row = np.empty((out_w, c_n))
        for b in range(blk * _ROW_BLOCK, min((blk + 1) * _ROW_BLOCK, out_h)):
            _resample_row(src, 0, 0, h, w, yfirst, yrun, yspan, xfirst, xrun, b, rowbuf, acc, out_row)
            for c in range(c_n):
                dst = out[c, b]
                for xb in range(out_w):
                    dst[xb] = (np.float32(out_row[xb, c]) - mean) * scale


_level_loop_serial = jit(nogil=True)(_level_rows)  # nogil: levels may be built on several Python threads
_level_loop = parallel_build(_level_rows)  # a cache entry of its own (see _jit.parallel_build)


def pyramid_level(img, out_h, out_w):
    """Numba twin of :func:`pyramid_level_reference`: ``img (H, W, C)`` uint8 or float -> ``(C, out_h, out_w)``
    float32, C-contiguous. Runs on Numba's threads when the level is big and more than one is allowed."""
    img = check_image(img)
    if img.ndim != 3:
        raise ValueError(f"image must have shape (H, W, C), got {img.shape}")
    out_h, out_w = _check_size(out_h, out_w)
    src = np.ascontiguousarray(img)
    yi, yw = axis_taps(src.shape[0], out_h)
    xi, xw = axis_taps(src.shape[1], out_w)
    out = np.empty((src.shape[2], out_h, out_w), dtype=np.float32)
    work = out_h * (src.shape[1] * yi.shape[1] + out_w * xi.shape[1]) * src.shape[2]
    run = _level_loop if work >= PARALLEL_MIN_WORK and get_num_threads() > 1 else _level_loop_serial
    run(src, *_tap_runs(yi, yw), *_tap_runs(xi, xw)[:2], _acc_like(src), out)
    return out
