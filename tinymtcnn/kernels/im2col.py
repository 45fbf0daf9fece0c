"""im2col and col2im on batch-innermost ``(C, H, W, N)`` arrays: a convolution as one product.

Every net of the package runs on the batch-innermost layout (``docs/engine_room.md`` says why:
measured, it serves both training and inference). A convolution over the whole batch is then ONE
product ``W (F, C*KH*KW) @ cols (C*KH*KW, OH*OW*N)`` whose result ``(F, OH*OW*N)`` already is the
next layer's ``(F, OH, OW, N)`` input, and every copy below moves runs of ``N`` (or ``OW*N``)
contiguous values, which vectorises however small the maps are. Layout, with ``xp`` the input
zero-padded by ``pad`` on the two spatial axes::

    x     : (C, H, W, N)
    cols  : (C*KH*KW, OH*OW*N)
    row    r = (c*KH + i)*KW + j,   column q = (oy*OW + ox)*N + n
    cols[r, q] = xp[c, oy*stride + i, ox*stride + j, n]
    OH = (H + 2*pad - KH) // stride + 1,  OW likewise

``col2im`` is its adjoint (the input gradient of a convolution): every column value is added back
to the input cell it was copied from (cells in the padding are dropped).

``im2col_naive`` / ``col2im_naive`` are the readable twins (numpy slices, the specification);
``im2col`` / ``col2im`` the Numba kernels; they give the same values bit for bit. The kernels also
work on a band of output rows ``[oy0, oy1)`` (``rows=``): its columns are the contiguous range
``oy0*OW*N .. oy1*OW*N`` of the whole matrix, so a layer can build, use and drop them band by band
while they are in cache.
"""
import numpy as np

from ._jit import jit


def conv_output_size(size, kernel, stride, pad):
    """Output length of a convolution along one axis: ``(size + 2*pad - kernel) // stride + 1``."""
    return (size + 2 * pad - kernel) // stride + 1


# --------------------------------------------------------------------------- plain twins
def im2col_naive(x, kh, kw, stride=1, pad=0):
    """Readable twin: ``x (C, H, W, N)`` -> ``cols (C*KH*KW, OH*OW*N)`` (module docstring)."""
    c, h, w, n = x.shape
    oh, ow = conv_output_size(h, kh, stride, pad), conv_output_size(w, kw, stride, pad)
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    cols = np.empty((c * kh * kw, oh * ow * n), dtype=x.dtype)
    for ch in range(c):
        for i in range(kh):
            for j in range(kw):
                window = xp[ch, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]
                cols[(ch * kh + i) * kw + j] = window.reshape(-1)  # (OH, OW, N) in the columns' order
    return cols


def col2im_naive(cols, x_shape, kh, kw, stride=1, pad=0):
    """Readable twin of ``col2im``: add every column value back to its input cell -> ``x_shape``."""
    c, h, w, n = x_shape
    oh, ow = conv_output_size(h, kh, stride, pad), conv_output_size(w, kw, stride, pad)
    xp = np.zeros((c, h + 2 * pad, w + 2 * pad, n), dtype=cols.dtype)
    for ch in range(c):
        for i in range(kh):
            for j in range(kw):
                xp[ch, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride] += \
                    cols[(ch * kh + i) * kw + j].reshape(oh, ow, n)
    return xp[:, pad:pad + h, pad:pad + w]


# --------------------------------------------------------------------------- Numba kernels
@jit
def _im2col_loop(x3, kh, kw, stride, pad, oy0, oy1, ow, n_n, w, cols):
    """Output rows ``[oy0, oy1)``; ``x3`` is ``x`` viewed as ``(C, H, W*N)``. One column row per
    iteration, copied in runs of ``N`` values (one run of ``OW*N`` when stride 1, no padding)."""
    c_n, h = x3.shape[0], x3.shape[1]
    run = ow * n_n
    for r in range(c_n * kh * kw):
        c = r // (kh * kw)
        i = (r // kw) % kh
        j = r % kw
        for oy in range(oy0, oy1):
            y = oy * stride + i - pad
            dst = cols[r, (oy - oy0) * run:(oy - oy0 + 1) * run]
            if y < 0 or y >= h:
                for t in range(run):  # element loops: a slice assignment would allocate a temporary
                    dst[t] = 0
                continue
            src = x3[c, y]
            if stride == 1 and pad == 0:  # the whole output row is one contiguous run
                s = src[j * n_n:j * n_n + run]
                for t in range(run):
                    dst[t] = s[t]
                continue
            for ox in range(ow):
                xx = ox * stride + j - pad
                d = dst[ox * n_n:(ox + 1) * n_n]
                if 0 <= xx < w:
                    s = src[xx * n_n:(xx + 1) * n_n]
                    for t in range(n_n):
                        d[t] = s[t]
                else:
                    for t in range(n_n):
                        d[t] = 0


@jit
def _col2im_loop(cols, kh, kw, stride, pad, oy0, oy1, ow, n_n, w, x3):
    """Output rows ``[oy0, oy1)``; adds into ``x3``, ``x (C, H, W, N)`` viewed as ``(C, H, W*N)``;
    one channel per iteration (its rows touch only that channel)."""
    c_n, h = x3.shape[0], x3.shape[1]
    run = ow * n_n
    for c in range(c_n):
        for i in range(kh):
            for j in range(kw):
                r = (c * kh + i) * kw + j
                for oy in range(oy0, oy1):
                    y = oy * stride + i - pad
                    if y < 0 or y >= h:
                        continue
                    src = cols[r, (oy - oy0) * run:(oy - oy0 + 1) * run]
                    dst = x3[c, y]
                    if stride == 1 and pad == 0:
                        d = dst[j * n_n:j * n_n + run]
                        for t in range(run):
                            d[t] += src[t]
                        continue
                    for ox in range(ow):
                        xx = ox * stride + j - pad
                        if 0 <= xx < w:
                            d = dst[xx * n_n:(xx + 1) * n_n]
                            s = src[ox * n_n:(ox + 1) * n_n]
                            for t in range(n_n):
                                d[t] += s[t]


def im2col(x, kh, kw, stride=1, pad=0, out=None, rows=None):
    """Numba twin of :func:`im2col_naive`; into ``out`` (C-contiguous, right shape) when given;
    ``rows=(oy0, oy1)``: only those output rows' columns, ``(C*KH*KW, (oy1-oy0)*OW*N)``."""
    assert x.ndim == 4
    c, h, w, n = x.shape
    oh, ow = conv_output_size(h, kh, stride, pad), conv_output_size(w, kw, stride, pad)
    assert oh >= 1 and ow >= 1
    oy0, oy1 = (0, oh) if rows is None else rows
    x = np.ascontiguousarray(x)
    shape = (c * kh * kw, (oy1 - oy0) * ow * n)
    cols = np.empty(shape, dtype=x.dtype) if out is None else out
    assert cols.shape == shape and cols.flags.c_contiguous
    _im2col_loop(x.reshape(c, h, w * n), kh, kw, stride, pad, oy0, oy1, ow, n, w, cols)
    return cols


def col2im(cols, x_shape, kh, kw, stride=1, pad=0, out=None, rows=None):
    """Numba twin of :func:`col2im_naive`: a new ``x_shape`` array, or added into ``out`` (C-contiguous);
    ``rows=(oy0, oy1)``: ``cols`` holds only those output rows' columns."""
    c, h, w, n = x_shape
    oh, ow = conv_output_size(h, kh, stride, pad), conv_output_size(w, kw, stride, pad)
    oy0, oy1 = (0, oh) if rows is None else rows
    assert cols.shape == (c * kh * kw, (oy1 - oy0) * ow * n)
    x = np.zeros(x_shape, dtype=cols.dtype) if out is None else out
    assert x.shape == tuple(x_shape) and x.flags.c_contiguous
    _col2im_loop(np.ascontiguousarray(cols), kh, kw, stride, pad, oy0, oy1, ow, n, w, x.reshape(c, h, w * n))
    return x
