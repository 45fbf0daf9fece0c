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
``W.T @ g`` + col2im (dx) backward, ``g`` the output gradient as ``(F, OH*OW*N)``. The columns are
not kept: the backward pass builds them again (cheaper than holding them in memory). Bias and
PReLU are added in one pass over the product (:mod:`tinymtcnn.kernels.prelu`). The products run
on several threads through :func:`tinymtcnn.threads.matmul` (blocks cut by shape, never by thread
count: the results do not depend on it).
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


class _ColumnScratch(threading.local):
    """One grow-only array per thread for the im2col columns, which every call builds, uses and drops:
    a fresh multi-megabyte array each time would cost a page fault per 4 KB written (measured: as
    much time as the products themselves on R-Net batches)."""

    def __init__(self):
        self.buffer = np.empty(0, np.float32)

    def columns(self, x, kh, kw, stride, pad):
        """``im2col(x, ...)`` into this thread's scratch (valid until its next call on this thread)."""
        c, h, w, n = x.shape
        shape = (c * kh * kw, conv_output_size(h, kh, stride, pad) * conv_output_size(w, kw, stride, pad) * n)
        size = shape[0] * shape[1]
        if self.buffer.size < size or self.buffer.dtype != x.dtype:
            self.buffer = np.empty(size, x.dtype)
        return im2col(x, kh, kw, stride, pad, out=self.buffer[:size].reshape(shape))


_scratch = _ColumnScratch()


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


def conv2d_prelu_forward(x, w, b, alpha, *, stride=1, pad=0):
    """``conv2d_forward`` followed by a PReLU with slopes ``alpha (F,)`` (formulas of
    :mod:`tinymtcnn.layers.prelu`), added in the same pass as the bias.

    Returns ``(act, pre, cache)``: the activation, the convolution's output (the PReLU's
    input, for :func:`conv2d_prelu_backward`) and the convolution's cache.
    """
    return _forward(x, w, b, alpha, stride, pad)


def _forward(x, w, b, alpha, stride, pad):
    # >>> STUDENT-FAST 2.1: return _forward_naive(x, w, b, alpha, stride, pad)
    stride, pad, oh, ow = _check_conv_args(x, w, b, stride, pad)
    f, c, kh, kw = w.shape
    n = x.shape[3]
    x = np.ascontiguousarray(x)
    w2 = w.astype(x.dtype, copy=False).reshape(f, -1)
    y = threads.matmul(w2, _scratch.columns(x, kh, kw, stride, pad))  # (F, OH*OW*N)
    act = None if alpha is None else np.empty_like(y)
    pre, act = bias_prelu(y, b.astype(x.dtype, copy=False), alpha, out=act)
    cache = ConvCache(x.shape, x, w2.reshape(w.shape), stride, pad)
    shape = (f, oh, ow, n)
    return (pre.reshape(shape), None, cache) if alpha is None else (act.reshape(shape), pre.reshape(shape), cache)
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


def _weight_gradient(g, cols):
    """``g (F, M) @ cols.T (M, K)``, summed over blocks of the long axis ``M`` cut by shape (never by
    thread count: the sum's order, and so its bits, do not depend on it) on the threads."""
    blocks = threads.column_blocks(g.shape[0], cols.shape[0], g.shape[1])
    if len(blocks) == 1 or not threads.blas_single_threaded():
        return g @ cols.T
    parts = threads.parallel_map(lambda r: g[:, r[0]:r[1]] @ cols[:, r[0]:r[1]].T, blocks)
    total = parts[0]
    for part in parts[1:]:
        total += part
    return total


def _backward(dout, cache, input_grad, pre, alpha):
    # >>> STUDENT-FAST 2.2: return _backward_naive(dout, cache, input_grad, pre, alpha)
    x, w, stride, pad = cache.x, cache.w, cache.stride, cache.pad
    f, c, kh, kw = w.shape
    g = np.ascontiguousarray(dout, dtype=x.dtype).reshape(f, -1)
    g, db, dalpha = bias_prelu_backward(g, None if pre is None else pre.reshape(f, -1), alpha)
    cols = _scratch.columns(x, kh, kw, stride, pad)  # built again
    dw = _weight_gradient(g, cols).reshape(w.shape)
    dx = col2im(threads.matmul(w.reshape(f, -1).T, g), x.shape, kh, kw, stride, pad) if input_grad else None
    return dx, dw, db, dalpha
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
