"""im2col / col2im with the batch inside the column axis: one matrix product per layer.

``im2col`` (kernels/im2col.py) gives every image its own ``(C*KH*KW, OH*OW)`` block,
so a convolution over a batch is ``N`` small products. Here the columns of all
images sit side by side::

    x     : (N, C, H, W)
    cols  : (C*KH*KW, N*OH*OW)
    row    r = (c*KH + i)*KW + j,   column p = (n*OH + oy)*OW + ox
    cols[r, p] = x[n, c, oy*stride - pad + i, ox*stride - pad + j]   (0 outside the image)

so that ``W (F, C*KH*KW) @ cols`` is the whole layer, ``dW = G @ cols.T`` and
``dcols = W.T @ G`` its backward pass (``G`` the output gradient as ``(F, N*OH*OW)``),
each one product. ``col2im_batch`` folds ``dcols`` back, summing overlaps.

``im2col_batch_reference`` / ``col2im_batch_reference`` are the readable twins (built
on the per-image twins of kernels/im2col.py); ``im2col_batch`` / ``col2im_batch`` the
Numba kernels (one task per input channel, so parallel tasks never write the same cell).
"""
import numpy as np

from ._jit import jit_serial_or_parallel, prange
from .im2col import col2im_reference, conv_output_size, im2col_reference


# --------------------------------------------------------------------------- plain twins
def im2col_batch_reference(x, kh, kw, stride, pad):
    """Readable twin: ``x (N, C, H, W)`` -> ``(C*KH*KW, N*OH*OW)`` (module docstring)."""
    cols = im2col_reference(x, kh, kw, stride, pad)  # (N, C*KH*KW, OH*OW)
    return np.ascontiguousarray(cols.transpose(1, 0, 2).reshape(cols.shape[1], -1))


def col2im_batch_reference(cols, x_shape, kh, kw, stride, pad):
    """Readable twin: fold ``(C*KH*KW, N*OH*OW)`` columns back into an ``x_shape`` array."""
    n = x_shape[0]
    per_image = cols.reshape(cols.shape[0], n, -1).transpose(1, 0, 2)
    return col2im_reference(np.ascontiguousarray(per_image), x_shape, kh, kw, stride, pad)


# --------------------------------------------------------------------------- Numba kernels
@jit_serial_or_parallel
def _im2col_batch_loop(x, kh, kw, stride, pad, oh, ow, cols):
    n_n, c_n, h, w = x.shape
    for c in prange(c_n):
        for i in range(kh):
            for j in range(kw):
                r = (c * kh + i) * kw + j
                if stride == 1 and pad == 0:  # every MTCNN layer: one (OH, OW) block per image
                    for n in range(n_n):
                        dst = cols[r, n * oh * ow:(n + 1) * oh * ow]
                        src = x[n, c]
                        for oy in range(oh):
                            for ox in range(ow):
                                dst[oy * ow + ox] = src[oy + i, ox + j]
                    continue
                lo = max(0, (pad - j + stride - 1) // stride)  # first ox inside the image
                hi = min(ow, (w + pad - j + stride - 1) // stride)  # one past the last
                for n in range(n_n):
                    for oy in range(oh):
                        dst = cols[r, (n * oh + oy) * ow:(n * oh + oy + 1) * ow]
                        y = oy * stride - pad + i
                        if y < 0 or y >= h or lo >= hi:
                            for ox in range(ow):
                                dst[ox] = 0.0
                            continue
                        src = x[n, c, y]
                        for ox in range(lo):
                            dst[ox] = 0.0
                        for ox in range(lo, hi):
                            dst[ox] = src[ox * stride - pad + j]
                        for ox in range(hi, ow):
                            dst[ox] = 0.0


@jit_serial_or_parallel
def _col2im_batch_loop(cols, kh, kw, stride, pad, oh, ow, x):
    n_n, c_n, h, w = x.shape
    for c in prange(c_n):
        for i in range(kh):
            for j in range(kw):
                r = (c * kh + i) * kw + j
                if stride == 1 and pad == 0:
                    for n in range(n_n):
                        src = cols[r, n * oh * ow:(n + 1) * oh * ow]
                        dst = x[n, c]
                        for oy in range(oh):
                            for ox in range(ow):
                                dst[oy + i, ox + j] += src[oy * ow + ox]
                    continue
                lo = max(0, (pad - j + stride - 1) // stride)
                hi = min(ow, (w + pad - j + stride - 1) // stride)
                for n in range(n_n):
                    for oy in range(oh):
                        y = oy * stride - pad + i
                        if y < 0 or y >= h:
                            continue
                        src = cols[r, (n * oh + oy) * ow:(n * oh + oy + 1) * ow]
                        dst = x[n, c, y]
                        for ox in range(lo, hi):
                            dst[ox * stride - pad + j] += src[ox]


def im2col_batch(x, kh, kw, stride=1, pad=0):
    """Numba twin of :func:`im2col_batch_reference`."""
    assert x.ndim == 4
    n, c, h, w = x.shape
    oh = conv_output_size(h, kh, stride, pad)
    ow = conv_output_size(w, kw, stride, pad)
    cols = np.empty((c * kh * kw, n * oh * ow), dtype=x.dtype)
    _im2col_batch_loop(cols.size, np.ascontiguousarray(x), kh, kw, stride, pad, oh, ow, cols)
    return cols


def col2im_batch(cols, x_shape, kh, kw, stride=1, pad=0):
    """Numba twin of :func:`col2im_batch_reference`."""
    n, c, h, w = x_shape
    oh = conv_output_size(h, kh, stride, pad)
    ow = conv_output_size(w, kw, stride, pad)
    assert cols.shape == (c * kh * kw, n * oh * ow)
    x = np.zeros(x_shape, dtype=cols.dtype)
    _col2im_batch_loop(cols.size, np.ascontiguousarray(cols), kh, kw, stride, pad, oh, ow, x)
    return x
