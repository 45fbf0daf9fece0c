"""Batch-innermost layout ``(C, H, W, N)`` for inference: one matrix product per layer.

R-Net and O-Net run on hundreds of 24x24 / 48x48 crops. With the batch as the
innermost axis, a convolution over the whole batch is ONE product ``W (F, K) @ cols
(K, OH*OW*N)`` whose result ``(F, OH*OW*N)`` is already the next layer's
``(F, OH, OW, N)`` input, and every other loop (im2col copies, pooling) runs over
contiguous runs of ``N`` values, so it vectorises however small the maps are.

Layout (stride 1, no padding: every MTCNN convolution)::

    x     : (C, H, W, N)
    cols  : (C*KH*KW, OH*OW*N)
    row    r = (c*KH + i)*KW + j,   column p = (oy*OW + ox)*N + n
    cols[r, p] = x[c, oy + i, ox + j, n]

``bias_prelu_rows``: ``y[f, p] += b[f]``, then ``y = y if y > 0 else alpha[f] * y``.
``maxpool_chwn``: Caffe ceil-mode max pooling over the ``H, W`` axes (windows at the
bottom/right edge may be partial): the values of :func:`~tinymtcnn.kernels.maxpool.maxpool_forward`.

Each ``*_reference`` function is the readable numpy twin of the Numba kernel of the
same name without the suffix; they give the same values bit for bit.
"""
import numpy as np

from ._jit import jit_serial_or_parallel, prange
from .maxpool import pool_output_size


# --------------------------------------------------------------------------- plain twins
def im2col_chwn_reference(x, kh, kw):
    """Readable twin: ``x (C, H, W, N)`` -> ``(C*KH*KW, OH*OW*N)`` (module docstring)."""
    c, h, w, n = x.shape
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))  # (C, OH, OW, N, KH, KW)
    return np.ascontiguousarray(win.transpose(0, 4, 5, 1, 2, 3).reshape(c * kh * kw, -1))


def bias_prelu_rows_reference(y, b, alpha):
    """Readable twin: ``y (F, P) + b[:, None]``, then PReLU with one slope per row (None: no PReLU)."""
    # >>> STUDENT-FAST 2.3: return _student_bias_prelu(y, b, alpha)
    z = y + b.astype(y.dtype)[:, None]
    if alpha is None:
        return z
    return np.where(z > 0, z, alpha.astype(y.dtype)[:, None] * z)
    # <<< STUDENT-FAST 2.3


def maxpool_chwn_reference(x, kernel, stride, ceil_mode=True):
    """Readable twin: ``x (C, H, W, N)`` -> ``(C, OH, OW, N)``, the max of each window (partial at the edges)."""
    # >>> STUDENT-FAST 2.4: return _student_maxpool(x, kernel, stride, ceil_mode)
    c, h, w, n = x.shape
    oh = pool_output_size(h, kernel, stride, ceil_mode)
    ow = pool_output_size(w, kernel, stride, ceil_mode)
    out = np.empty((c, oh, ow, n), dtype=x.dtype)
    for oy in range(oh):
        for ox in range(ow):
            window = x[:, oy * stride:oy * stride + kernel, ox * stride:ox * stride + kernel]
            out[:, oy, ox] = window.max(axis=(1, 2))
    return out
    # <<< STUDENT-FAST 2.4


# the student copy's readable twins (STUDENT-FAST above, tools/assignment_source.py): the student's functions
def _student_maxpool(x, kernel, stride, ceil_mode):
    """:func:`maxpool_chwn_reference` by the student's ``maxpool_forward_reference`` on ``(N, C, H, W)``."""
    from .maxpool import maxpool_forward_reference

    nchw = np.ascontiguousarray(x.transpose(3, 0, 1, 2))
    return np.ascontiguousarray(maxpool_forward_reference(nchw, kernel, stride, ceil_mode)[0].transpose(1, 2, 3, 0))


def _student_bias_prelu(y, b, alpha):
    """:func:`bias_prelu_rows_reference` by the student's ``prelu_forward_naive`` (rows as channels)."""
    from ..layers.prelu import prelu_forward_naive  # (imported late: layers import kernels)

    z = y + b.astype(y.dtype)[:, None]
    return z if alpha is None else prelu_forward_naive(z[None, :, :, None], alpha.astype(y.dtype))[0][0, :, :, 0]


# --------------------------------------------------------------------------- Numba kernels
@jit_serial_or_parallel
def _im2col_chwn_loop(x3, kh, kw, n_n, ow, cols):
    """``x3`` is ``x`` viewed as ``(C, H, W*N)``; one contiguous copy of ``OW*N`` values per (row, oy)."""
    c_n, h = x3.shape[0], x3.shape[1]
    oh = h - kh + 1
    run = ow * n_n
    for r in prange(c_n * kh * kw):
        c = r // (kh * kw)
        i = (r // kw) % kh
        j = r % kw
        for oy in range(oh):
            dst = cols[r, oy * run:(oy + 1) * run]
            src = x3[c, oy + i, j * n_n:j * n_n + run]
            for t in range(run):  # an element loop: a slice assignment would allocate a temporary
                dst[t] = src[t]


@jit_serial_or_parallel
def _bias_prelu_rows_loop(y, b, alpha, use_alpha):
    f_n, p_n = y.shape
    for f in prange(f_n):
        bf = b[f]
        a = alpha[f]
        row = y[f]
        if use_alpha:
            for p in range(p_n):
                v = row[p] + bf
                row[p] = v if v > 0 else a * v
        else:
            for p in range(p_n):
                row[p] += bf


@jit_serial_or_parallel
def _maxpool_chwn_loop(x3, kernel, stride, w, n_n, out3):
    """``x3``/``out3`` are ``(C, H, W*N)`` / ``(C, OH, OW*N)`` views; max over runs of ``N`` values.

    Separable: the max over the window's rows first (one pass over whole rows of ``W*N``
    values, which vectorises whatever ``N``), then over its columns.
    """
    c_n, h = x3.shape[0], x3.shape[1]
    oh = out3.shape[1]
    ow = out3.shape[2] // n_n
    run = w * n_n
    for c in prange(c_n):
        rows = np.empty(run, dtype=x3.dtype)
        for oy in range(oh):
            y0 = oy * stride
            y1 = min(y0 + kernel, h)
            first = x3[c, y0]
            for j in range(run):
                rows[j] = first[j]
            for yy in range(y0 + 1, y1):
                src = x3[c, yy]
                for j in range(run):
                    v = src[j]
                    best = rows[j]
                    rows[j] = v if v > best else best
            dst = out3[c, oy]
            for ox in range(ow):
                x0 = ox * stride
                x1 = min(x0 + kernel, w)
                d = dst[ox * n_n:(ox + 1) * n_n]  # views of N values: these loops vectorise
                col = rows[x0 * n_n:(x0 + 1) * n_n]
                for n in range(n_n):
                    d[n] = col[n]
                for xx in range(x0 + 1, x1):
                    col = rows[xx * n_n:(xx + 1) * n_n]
                    for n in range(n_n):
                        v = col[n]
                        best = d[n]
                        d[n] = v if v > best else best


def _out_array(out, shape, dtype):
    if out is None:
        return np.empty(shape, dtype=dtype)
    assert out.shape == shape and out.dtype == dtype and out.flags.c_contiguous
    return out


def im2col_chwn(x, kh, kw, out=None):
    """Numba twin of :func:`im2col_chwn_reference`; writes into ``out`` when given (a C-contiguous
    array of the right shape and dtype, e.g. reused scratch)."""
    assert x.ndim == 4
    c, h, w, n = x.shape
    oh, ow = h - kh + 1, w - kw + 1
    assert oh >= 1 and ow >= 1
    x = np.ascontiguousarray(x)
    cols = _out_array(out, (c * kh * kw, oh * ow * n), x.dtype)
    _im2col_chwn_loop(cols.size, x.reshape(c, h, w * n), kh, kw, n, ow, cols)
    return cols


def bias_prelu_rows(y, b, alpha):
    """In place on ``y (F, P)`` (C-contiguous): add ``b[f]`` to row ``f``, then PReLU (``alpha=None``: none).

    Returns ``y``; same values as :func:`bias_prelu_rows_reference`.
    """
    assert y.ndim == 2 and y.flags.c_contiguous and b.shape == (y.shape[0],)
    use_alpha = alpha is not None
    a = np.asarray(alpha if use_alpha else b, dtype=y.dtype)
    _bias_prelu_rows_loop(y.size, y, b.astype(y.dtype, copy=False), a, use_alpha)
    return y


def maxpool_chwn(x, kernel, stride, ceil_mode=True, out=None):
    """Numba twin of :func:`maxpool_chwn_reference`: ``(C, H, W, N)`` -> ``(C, OH, OW, N)``
    (into ``out`` when given, as :func:`im2col_chwn`)."""
    assert x.ndim == 4
    c, h, w, n = x.shape
    oh = pool_output_size(h, kernel, stride, ceil_mode)
    ow = pool_output_size(w, kernel, stride, ceil_mode)
    x = np.ascontiguousarray(x)
    out = _out_array(out, (c, oh, ow, n), x.dtype)
    _maxpool_chwn_loop(x.size, x.reshape(c, h, w * n), kernel, stride, w, n, out.reshape(c, oh, ow * n))
    return out
