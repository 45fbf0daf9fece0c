"""2-D convolution (Caffe/PyTorch cross-correlation) on batch-innermost arrays, forward and backward.

Shapes (the package's one internal layout, ``(C, H, W, N)``: see ``docs/engine_room.md``)::

    x (C, H, W, N),  w (F, C, KH, KW),  b (F,)
    out (F, OH, OW, N),  OH = (H + 2*pad - KH) // stride + 1,  OW likewise
    out[f, oy, ox, n] = b[f] + sum_{c,i,j} w[f, c, i, j] * xp[c, oy*stride + i, ox*stride + j, n]

where ``xp`` is ``x`` zero-padded by ``pad`` on the two spatial axes.

Backward, with ``g = dL/dout``::

    db[f]          = sum_{oy,ox,n} g[f, oy, ox, n]
    dw[f, c, i, j] = sum_{oy,ox,n} g[f, oy, ox, n] * xp[c, oy*stride + i, ox*stride + j, n]
    dxp[c, y, x, n] = sum over every (f, oy, ox, i, j) that read (y, x) of g[f, oy, ox, n] * w[f, c, i, j]

Two versions with the same signature: ``conv2d_forward_naive`` loops over output positions
(readable; the test oracle) and ``conv2d_forward`` unrolls the windows with im2col
(:mod:`tinymtcnn.kernels.im2col`) so that the layer is matrix products over the whole batch:
``W (F, C*KH*KW) @ cols`` forward (its result already is ``out``), ``g @ cols.T`` (dw) and
``W.T @ g`` + col2im (dx) backward, ``g`` the output gradient as ``(F, OH*OW*N)``. The columns of
a band of output rows are a contiguous range of that matrix; they are built, used and dropped band
by band (about a megabyte each, so they stay in a core's cache, :func:`row_bands`), and built again
in the backward pass (cheaper than keeping them). Bias and PReLU are added to each band in the same
pass (:mod:`tinymtcnn.kernels.prelu`). With several threads (inside ``limit_threads(n, blas=1)``:
BLAS single-threaded) the bands are shared out by :func:`tinymtcnn.threads.parallel_map`; the
bands depend on the shapes only, and the backward pass adds the bands' input gradients in phases
of bands that touch no common input row, so the results do not depend on the thread count.
"""
import threading
from typing import NamedTuple, Tuple

import numpy as np

from .. import threads
from ..kernels.im2col import col2im, conv_output_size, im2col
from ..kernels.prelu import bias_prelu, bias_prelu_backward
from ._checks import check_array, check_positive_int


class ConvCache(NamedTuple):
    """What ``conv2d_backward`` needs: the input and the settings."""

    x_shape: Tuple[int, int, int, int]
    x: np.ndarray  # the input (C, H, W, N)
    w: np.ndarray
    stride: int
    pad: int


BAND_BYTES = 1 << 20  # columns per band: about a core's L2 cache


def row_bands(oh, row_bytes):
    """Bands ``[(oy0, oy1), ...]`` of output rows whose columns take about ``BAND_BYTES`` (one row at least)."""
    per = max(1, BAND_BYTES // max(1, row_bytes))
    return [(lo, min(oh, lo + per)) for lo in range(0, oh, per)]


class _ColumnScratch(threading.local):
    """One grow-only array per thread for the im2col columns, which every band builds, uses and drops:
    a fresh array each time would cost a page fault per 4 KB written."""

    def __init__(self):
        self.buffer = np.empty(0, np.float32)

    def columns(self, x, kh, kw, stride, pad, rows):
        """``im2col(x, ..., rows=rows)`` into this thread's scratch (valid until its next call here)."""
        c, _, w, n = x.shape
        shape = (c * kh * kw, (rows[1] - rows[0]) * conv_output_size(w, kw, stride, pad) * n)
        size = shape[0] * shape[1]
        if self.buffer.size < size or self.buffer.dtype != x.dtype:
            self.buffer = np.empty(size, x.dtype)
        return im2col(x, kh, kw, stride, pad, out=self.buffer[:size].reshape(shape), rows=rows)


_scratch = _ColumnScratch()


def _map_bands(fn, bands, work):
    """``[fn(band) for band in bands]``, on several threads only where BLAS is single-threaded and the
    layer has ``work >= threads.MATMUL_MIN_WORK`` multiply-adds (below that, waking threads costs more)."""
    parallel = threads.blas_single_threaded() and work >= threads.MATMUL_MIN_WORK
    return threads.parallel_map(fn, bands, n=None if parallel else 1)


def _check_conv_args(x, w, b, stride, pad):
    check_array("x", x, 4)
    check_array("w", w, 4)
    check_array("b", b, 1)
    stride = check_positive_int("stride", stride, 1)
    pad = check_positive_int("pad", pad, 0)
    if x.shape[0] != w.shape[1]:
        raise ValueError(f"x has {x.shape[0]} channels (axis 0 of (C, H, W, N)) but w expects {w.shape[1]} "
                         f"(x {x.shape}, w {w.shape})")
    if b.shape != (w.shape[0],):
        raise ValueError(f"b must have shape ({w.shape[0]},), got {b.shape}")
    oh = conv_output_size(x.shape[1], w.shape[2], stride, pad)
    ow = conv_output_size(x.shape[2], w.shape[3], stride, pad)
    if oh < 1 or ow < 1:
        raise ValueError(f"input {x.shape[1:3]} (pad {pad}) is smaller than the kernel {w.shape[2:]}")
    return stride, pad, oh, ow


def conv2d_forward(x, w, b, *, stride=1, pad=0):
    """Convolution by im2col + one matrix product over the batch (module docstring).

    Parameters
    ----------
    x : ndarray (C, H, W, N), float
    w : ndarray (F, C, KH, KW)
    b : ndarray (F,)
    stride, pad : int

    Returns
    -------
    out : ndarray (F, OH, OW, N), dtype of ``x``
    cache : ConvCache
    """
    out, _, cache = _forward(x, w, b, None, stride, pad)
    return out, cache


def conv2d_prelu_forward(x, w, b, alpha, *, stride=1, pad=0, keep_pre=True):
    """``conv2d_forward`` followed by a PReLU with slopes ``alpha (F,)`` (formulas of
    :mod:`tinymtcnn.layers.prelu`), added in the same pass as the bias.

    Returns ``(act, pre, cache)``: the activation, the convolution's output (the PReLU's
    input, for :func:`conv2d_prelu_backward`) and the convolution's cache. ``keep_pre=False``
    (inference: no backward pass follows) writes the activation over the convolution's output
    and may return ``pre`` as None.
    """
    check_array("alpha", alpha, 1)
    if alpha.shape != (w.shape[0],):
        raise ValueError(f"alpha must have shape ({w.shape[0]},), one slope per filter of w {w.shape}; "
                         f"got {alpha.shape}")
    return _forward(x, w, b, alpha, stride, pad, keep_pre)


def _forward(x, w, b, alpha, stride, pad, keep_pre=True):
    # >>> STUDENT-FAST 2.1: return _forward_naive(x, w, b, alpha, stride, pad)
    stride, pad, oh, ow = _check_conv_args(x, w, b, stride, pad)
    f, c, kh, kw = w.shape
    n = x.shape[3]
    x = np.ascontiguousarray(x)
    w2 = w.astype(x.dtype, copy=False).reshape(f, -1)
    bias = b.astype(x.dtype, copy=False)
    y = np.empty((f, oh * ow * n), dtype=x.dtype)
    act = np.empty_like(y) if alpha is not None and keep_pre else y  # (in place when pre is not kept)
    step = ow * n

    def run(band):
        q0, q1 = band[0] * step, band[1] * step
        np.matmul(w2, _scratch.columns(x, kh, kw, stride, pad, band), out=y[:, q0:q1])
        bias_prelu(y, bias, alpha, out=act, columns=(q0, q1))

    _map_bands(run, row_bands(oh, c * kh * kw * step * x.itemsize), y.size * w2.shape[1])
    cache = ConvCache(x.shape, x, w2.reshape(w.shape), stride, pad)
    shape = (f, oh, ow, n)
    if alpha is None:
        return y.reshape(shape), None, cache
    return act.reshape(shape), (y.reshape(shape) if keep_pre else None), cache
    # <<< STUDENT-FAST 2.1


def conv2d_backward(dout, cache, *, input_grad=True):
    """Gradients of ``conv2d_forward``: returns ``(dx, dw, db)`` shaped like ``x, w, b``.

    ``input_grad=False``: ``dx`` is None and not computed (no ``W.T @ g`` product, no col2im).
    """
    return _backward(dout, cache, input_grad, None, None)[:3]


def conv2d_prelu_backward(dact, cache, pre, alpha, *, input_grad=True):
    """Gradients of :func:`conv2d_prelu_forward` from ``dact = dL/dact``: ``(dx, dw, db, dalpha)``
    (``dx`` None with ``input_grad=False``); the PReLU's backward pass and ``db`` in one pass."""
    return _backward(dact, cache, input_grad, pre, alpha)


def _backward(dout, cache, input_grad, pre, alpha):
    # >>> STUDENT-FAST 2.2: return _backward_naive(dout, cache, input_grad, pre, alpha)
    x, w, stride, pad = cache.x, cache.w, cache.stride, cache.pad
    f, c, kh, kw = w.shape
    oh, ow = dout.shape[1], dout.shape[2]
    step = ow * x.shape[3]
    w2 = w.reshape(f, -1)
    g = np.ascontiguousarray(dout, dtype=x.dtype).reshape(f, -1)
    pre = None if pre is None else np.ascontiguousarray(pre, dtype=x.dtype).reshape(f, -1)
    dx = np.zeros(x.shape, dtype=x.dtype) if input_grad else None
    bands = row_bands(oh, c * kh * kw * step * x.itemsize)

    def run(band):
        q0, q1 = band[0] * step, band[1] * step
        gb, db, dalpha = bias_prelu_backward(g, pre, alpha, columns=(q0, q1))
        dw = gb @ _scratch.columns(x, kh, kw, stride, pad, band).T  # columns built again
        if input_grad:
            col2im(w2.T @ gb, x.shape, kh, kw, stride, pad, out=dx, rows=band)
        return dw, db, dalpha

    # bands that share input rows must not add into dx at once: phases of bands far enough apart
    rows = min(hi - lo for lo, hi in bands)
    phases = 1 + -(-max(0, kh - stride) // (rows * stride)) if input_grad else 1
    parts = [None] * len(bands)
    for phase in range(phases):
        picked = list(range(phase, len(bands), phases))
        for i, part in zip(picked, _map_bands(run, [bands[i] for i in picked], g.size * w2.shape[1])):
            parts[i] = part
    dw = parts[0][0]
    for part in parts[1:]:  # in band order, whatever the thread count
        dw += part[0]
    db = np.sum([p[1] for p in parts], axis=0, dtype=np.float64).astype(x.dtype)
    dalpha = None if alpha is None else np.sum([p[2] for p in parts], axis=0, dtype=np.float64).astype(x.dtype)
    return dx, dw.reshape(w.shape), db, dalpha
    # <<< STUDENT-FAST 2.2


# the student copy's fast paths (STUDENT-FAST above, tools/assignment_source.py): the readable functions
def _forward_naive(x, w, b, alpha, stride, pad):
    """:func:`_forward` by ``conv2d_forward_naive`` (and ``prelu_forward_naive`` when ``alpha`` is given)."""
    from .prelu import prelu_forward_naive

    out, cache = conv2d_forward_naive(x, w, b, stride=stride, pad=pad)
    return (out, None, cache) if alpha is None else (prelu_forward_naive(out, alpha)[0], out, cache)


def _backward_naive(dout, cache, input_grad, pre, alpha):
    """:func:`_backward` by ``conv2d_backward_naive`` (after ``prelu_backward_naive`` when ``pre`` is given)."""
    from .prelu import PReLUCache, prelu_backward_naive

    dalpha = None
    if pre is not None:
        dout, dalpha = prelu_backward_naive(dout, PReLUCache(pre, alpha))
    dx, dw, db = conv2d_backward_naive(dout, cache)
    return (dx if input_grad else None), dw, db, dalpha


def conv2d_forward_naive(x, w, b, *, stride=1, pad=0):
    """Readable convolution: one loop over output positions (same result as ``conv2d_forward``)."""
    stride, pad, oh, ow = _check_conv_args(x, w, b, stride, pad)
    # >>> TASK 2.1: conv forward (naive loops)
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    out = np.empty((f, oh, ow, x.shape[3]), dtype=x.dtype)
    for oy in range(oh):
        for ox in range(ow):
            window = xp[:, oy * stride:oy * stride + kh, ox * stride:ox * stride + kw]  # (C, KH, KW, N)
            out[:, oy, ox] = np.tensordot(w, window, axes=([1, 2, 3], [0, 1, 2])) + b[:, None]  # (F, N)
    # <<< TASK 2.1
    return out, ConvCache(x.shape, x, w, stride, pad)


def conv2d_backward_naive(dout, cache):
    """Readable backward pass: for each output position, push its gradient to the window it read."""
    x, w, stride, pad = cache.x, cache.w, cache.stride, cache.pad
    # >>> TASK 2.2: conv backward (naive loops)
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w, dtype=dout.dtype)
    for oy in range(dout.shape[1]):
        for ox in range(dout.shape[2]):
            ys, xs = slice(oy * stride, oy * stride + kh), slice(ox * stride, ox * stride + kw)
            g = dout[:, oy, ox]  # (F, N)
            dw += np.tensordot(g, xp[:, ys, xs], axes=([1], [3]))  # (F, C, KH, KW)
            dxp[:, ys, xs] += np.tensordot(w, g, axes=([0], [0]))  # (C, KH, KW, N)
    h, wd = x.shape[1], x.shape[2]
    return dxp[:, pad:pad + h, pad:pad + wd], dw, dout.sum(axis=(1, 2, 3))
    # <<< TASK 2.2
