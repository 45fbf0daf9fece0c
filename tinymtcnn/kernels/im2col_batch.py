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

The product gives the output as ``(F, N, OH*OW)``; ``columns_to_batch`` turns it into
``(N, F, OH*OW)`` (NCHW) adding the bias, and ``batch_to_columns`` brings an output
gradient back to ``(F, N, OH*OW)`` while summing the bias gradient::

    out[n, f, s] = y[f, n, s] + b[f]              (columns_to_batch)
    g_cols[f, n, s] = g[n, f, s],  db[f] = sum_{n,s} g[n, f, s]   (batch_to_columns)

Both can apply a PReLU that follows the convolution (slopes ``alpha (F,)``, formulas of
kernels/prelu.py) while the data is in cache: ``columns_to_batch`` then also writes
``act = prelu(out)``, and ``batch_to_columns`` takes ``g`` as the gradient of ``act`` and
the pre-activation ``x = out``, and uses ``g * (1 if x > 0 else alpha[f])`` as the
convolution's output gradient, also returning ``dalpha[f] = sum_{x <= 0} g * x``.

``*_reference`` are the readable twins (the im2col ones built on the per-image twins of
kernels/im2col.py); the others are Numba kernels, single-threaded and without the GIL
(``conv2d_forward`` runs groups of images on several threads).
"""
import numpy as np

from ._jit import jit
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


def columns_to_batch_reference(y, b, alpha=None):
    """Readable twin: ``y (F, N, S)``, ``b (F,)`` -> ``out (N, F, S)`` with ``b`` added; with ``alpha``,
    ``(out, prelu(out))`` (module docstring)."""
    out = np.ascontiguousarray(y.transpose(1, 0, 2)) + b.astype(y.dtype)[None, :, None]
    if alpha is None:
        return out
    return out, np.where(out > 0, out, alpha.astype(y.dtype)[None, :, None] * out)


def batch_to_columns_reference(g, x=None, alpha=None):
    """Readable twin: ``g (N, F, S)`` -> ``(g_cols (F, N, S), db (F,))``, ``db`` summed in float64;
    with the pre-activation ``x`` and ``alpha``, ``(g_cols, db, dalpha)`` through the PReLU."""
    if x is not None:
        a = alpha.astype(g.dtype)[None, :, None]
        dalpha = np.where(x > 0, 0, g.astype(np.float64) * x).sum(axis=(0, 2)).astype(g.dtype)
        g = np.where(x > 0, g, a * g)
    cols = np.ascontiguousarray(g.transpose(1, 0, 2))
    db = g.sum(axis=(0, 2), dtype=np.float64).astype(g.dtype)
    return (cols, db) if x is None else (cols, db, dalpha)


# --------------------------------------------------------------------------- Numba kernels
# Serial and nogil: conv2d_forward/backward (tinymtcnn.layers.conv) run groups of images on
# several Python threads.
@jit(nogil=True)
def _columns_to_batch_loop(y, b, out, alpha, act, with_prelu):
    f_n, n_n, s_n = y.shape
    for n in range(n_n):
        for f in range(f_n):
            src = y[f, n]
            dst = out[n, f]
            bias = b[f]
            for s in range(s_n):
                dst[s] = src[s] + bias
            if with_prelu:
                a = alpha[f]
                dst2 = act[n, f]
                for s in range(s_n):
                    v = dst[s]
                    dst2[s] = v if v > 0 else a * v


@jit(nogil=True, fastmath={"reassoc", "contract"})  # the float64 sums may be reassociated to vectorise
def _batch_to_columns_loop(g, x, alpha, out, db, dalpha, with_prelu):
    n_n, f_n, s_n = g.shape
    for f in range(f_n):
        acc = 0.0
        acc_a = 0.0
        a = alpha[f] if with_prelu else 1.0
        for n in range(n_n):
            src = g[n, f]
            dst = out[f, n]
            if with_prelu:
                xs = x[n, f]
                for s in range(s_n):  # selects, no branches: the signs of x are unpredictable
                    v = xs[s]
                    gv = src[s]
                    d = gv if v > 0 else a * gv
                    dst[s] = d
                    acc += np.float64(d)
                    acc_a += 0.0 if v > 0 else np.float64(gv) * np.float64(v)
            else:
                for s in range(s_n):
                    v = src[s]
                    dst[s] = v
                    acc += np.float64(v)
        db[f] = acc
        dalpha[f] = acc_a


@jit(nogil=True)
def _im2col_batch_loop(x, kh, kw, stride, pad, oh, ow, cols):
    n_n, c_n, h, w = x.shape
    for c in range(c_n):
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


@jit(nogil=True)
def _col2im_batch_loop(cols, kh, kw, stride, pad, oh, ow, x):
    n_n, c_n, h, w = x.shape
    for c in range(c_n):
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
    _im2col_batch_loop(np.ascontiguousarray(x), kh, kw, stride, pad, oh, ow, cols)
    return cols


def col2im_batch(cols, x_shape, kh, kw, stride=1, pad=0, out=None):
    """Numba twin of :func:`col2im_batch_reference`; adds into ``out`` (C-contiguous) when given."""
    n, c, h, w = x_shape
    oh = conv_output_size(h, kh, stride, pad)
    ow = conv_output_size(w, kw, stride, pad)
    assert cols.shape == (c * kh * kw, n * oh * ow)
    x = np.zeros(x_shape, dtype=cols.dtype) if out is None else out
    assert x.shape == tuple(x_shape) and x.flags.c_contiguous
    _col2im_batch_loop(np.ascontiguousarray(cols), kh, kw, stride, pad, oh, ow, x)
    return x


def columns_to_batch(y, b, out=None, alpha=None, act=None):
    """Numba twin of :func:`columns_to_batch_reference`, into ``out`` (and ``act``; C-contiguous)
    when given. Returns ``out``, or ``(out, act)`` with ``alpha``."""
    shape = (y.shape[1], y.shape[0], y.shape[2])
    out = np.empty(shape, dtype=y.dtype) if out is None else out
    assert out.shape == shape and out.flags.c_contiguous
    with_prelu = alpha is not None
    if with_prelu:
        act = np.empty(shape, dtype=y.dtype) if act is None else act
        assert act.shape == shape and act.flags.c_contiguous
    _columns_to_batch_loop(np.ascontiguousarray(y), b.astype(y.dtype, copy=False), out,
                           alpha.astype(y.dtype, copy=False) if with_prelu else b[:0].astype(y.dtype),
                           act if with_prelu else out[:0], with_prelu)
    return (out, act) if with_prelu else out


def batch_to_columns(g, x=None, alpha=None):
    """Numba twin of :func:`batch_to_columns_reference`: ``(g_cols (F, N, S), db (F,))``, or
    ``(g_cols, db, dalpha)`` through a PReLU (pre-activation ``x``, slopes ``alpha``)."""
    n, f, s = g.shape
    out = np.empty((f, n, s), dtype=g.dtype)
    db, dalpha = np.empty(f, dtype=np.float64), np.empty(f, dtype=np.float64)
    with_prelu = x is not None
    g = np.ascontiguousarray(g)
    _batch_to_columns_loop(g, np.ascontiguousarray(x) if with_prelu else g[:0],
                           alpha.astype(g.dtype, copy=False) if with_prelu else np.zeros(f, g.dtype),
                           out, db, dalpha, with_prelu)
    if with_prelu:
        return out, db.astype(g.dtype), dalpha.astype(g.dtype)
    return out, db.astype(g.dtype)
