"""2-D convolution (Caffe/PyTorch cross-correlation), forward and backward.

Shapes::

    x (N, C, H, W),  w (F, C, KH, KW),  b (F,)
    out (N, F, OH, OW),  OH = (H + 2*pad - KH) // stride + 1,  OW likewise
    out[n, f, oy, ox] = b[f] + sum_{c,i,j} w[f, c, i, j] * xp[n, c, oy*stride + i, ox*stride + j]

where ``xp`` is ``x`` zero-padded by ``pad`` on every side.

Backward, with ``g = dL/dout``::

    db[f]          = sum_{n,oy,ox} g[n, f, oy, ox]
    dw[f, c, i, j] = sum_{n,oy,ox} g[n, f, oy, ox] * xp[n, c, oy*stride + i, ox*stride + j]
    dxp[n, c, y, x] = sum over every (f, oy, ox, i, j) that read (y, x) of g[n, f, oy, ox] * w[f, c, i, j]

Two versions with the same signature: ``conv2d_forward_naive`` loops over output
positions (readable; the test oracle) and ``conv2d_forward`` unrolls the windows with
im2col (:mod:`tinymtcnn.kernels.im2col_batch`) so that the layer is matrix products:
``W (F, C*KH*KW) @ cols`` forward, ``cols @ G.T`` (dw, transposed) and ``W.T @ G`` +
col2im (dx) backward, ``G`` the output gradient in the columns' order. It works on
groups of images whose columns fit in a core's cache (about a megabyte, at least ~1024
columns per product): the columns are built, used and dropped group by group (and built
again in the backward pass, cheaper than keeping every group's columns in memory), and
the groups go to :func:`tinymtcnn.threads.parallel_map` inside ``limit_threads(n,
blas=1)`` (the Numba kernels release the GIL; BLAS is single-threaded there: OpenBLAS's
own threads must not be entered from several threads at once), else run in turn. A
group's products and sums do not depend on the thread count, so neither do the results.
"""
from typing import NamedTuple, Tuple

import numpy as np

from ..kernels.im2col import conv_output_size
from ..kernels.im2col_batch import batch_to_columns, col2im_batch, columns_to_batch, im2col_batch
from .. import threads
from ._checks import check_array, check_positive_int


class ConvCache(NamedTuple):
    """What ``conv2d_backward`` needs: the input and the settings."""

    x_shape: Tuple[int, int, int, int]
    x: np.ndarray  # the input
    cols: np.ndarray  # unused (None): the fast path builds its columns again, group by group
    w: np.ndarray
    stride: int
    pad: int
    groups: tuple = None  # image ranges ((lo, hi), ...) of the fast path; None: the naive one


GROUP_COLUMNS = 1024  # columns (images x output positions) per product, at least ...
GROUP_BYTES = 1 << 20  # ... unless a group's columns would outgrow this (about a core's L2 cache)


def image_groups(n, rows, positions, itemsize):
    """Split ``n`` images into ranges ``(lo, hi)`` whose im2col columns (``rows x positions``
    per image) make products of about ``GROUP_COLUMNS`` columns within ``GROUP_BYTES``."""
    size = -(-GROUP_COLUMNS // positions)
    size = max(1, min(n, size, GROUP_BYTES // max(1, rows * positions * itemsize)))
    return tuple((lo, min(n, lo + size)) for lo in range(0, n, size))


def _map_groups(fn, groups, work):
    """``[fn(g) for g in groups]``, on several threads only where BLAS is single-threaded and the
    layer has ``work >= threads.MATMUL_MIN_WORK`` multiply-adds (about a millisecond): below that,
    handing groups to threads costs more than it saves (measured: a P-Net x256 training step 1.4x
    slower on 2 threads than on 1)."""
    parallel = threads.blas_single_threaded() and work >= threads.MATMUL_MIN_WORK
    return threads.parallel_map(fn, groups, n=None if parallel else 1)


def _check_conv_args(x, w, b, stride, pad):
    check_array("x", x, 4)
    check_array("w", w, 4)
    check_array("b", b, 1)
    stride = check_positive_int("stride", stride, 1)
    pad = check_positive_int("pad", pad, 0)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels but w expects {w.shape[1]} (x {x.shape}, w {w.shape})")
    if b.shape != (w.shape[0],):
        raise ValueError(f"b must have shape ({w.shape[0]},), got {b.shape}")
    oh = conv_output_size(x.shape[2], w.shape[2], stride, pad)
    ow = conv_output_size(x.shape[3], w.shape[3], stride, pad)
    if oh < 1 or ow < 1:
        raise ValueError(f"input {x.shape[2:]} (pad {pad}) is smaller than the kernel {w.shape[2:]}")
    return stride, pad, oh, ow


def conv2d_forward(x, w, b, *, stride=1, pad=0):
    """Convolution by im2col + matrix products over groups of images (module docstring).

    Parameters
    ----------
    x : ndarray (N, C, H, W), float
    w : ndarray (F, C, KH, KW)
    b : ndarray (F,)
    stride, pad : int

    Returns
    -------
    out : ndarray (N, F, OH, OW), dtype of ``x``
    cache : ConvCache
    """
    out, _, cache = _forward(x, w, b, None, stride, pad)
    return out, cache


def conv2d_prelu_forward(x, w, b, alpha, *, stride=1, pad=0):
    """``conv2d_forward`` followed by a PReLU with slopes ``alpha (F,)`` (formulas of
    :mod:`tinymtcnn.layers.prelu`), applied group by group while the output is in cache.

    Returns ``(act, pre, cache)``: the activation, the convolution's output (the PReLU's
    input, for :func:`conv2d_prelu_backward`) and the convolution's cache.
    """
    return _forward(x, w, b, alpha, stride, pad)


def _forward(x, w, b, alpha, stride, pad):
    # >>> STUDENT-FAST 2.1: return _forward_naive(x, w, b, alpha, stride, pad)
    stride, pad, oh, ow = _check_conv_args(x, w, b, stride, pad)
    f, c, kh, kw = w.shape
    x = np.ascontiguousarray(x)
    w = w.astype(x.dtype, copy=False)
    w2, bias = w.reshape(f, -1), b.astype(x.dtype, copy=False)
    n, s = x.shape[0], oh * ow
    out = np.empty((n, f, s), dtype=x.dtype)
    act = None if alpha is None else np.empty((n, f, s), dtype=x.dtype)
    groups = image_groups(n, c * kh * kw, s, x.itemsize)

    def run(group):
        lo, hi = group
        y = (w2 @ im2col_batch(x[lo:hi], kh, kw, stride, pad)).reshape(f, hi - lo, s)  # (F, G, S)
        if alpha is None:
            columns_to_batch(y, bias, out=out[lo:hi])  # (G, F, S) + bias
        else:
            columns_to_batch(y, bias, out=out[lo:hi], alpha=alpha, act=act[lo:hi])

    _map_groups(run, groups, n * s * f * c * kh * kw)
    cache = ConvCache(x.shape, x, None, w, stride, pad, groups)
    out = out.reshape(n, f, oh, ow)
    return (out, None, cache) if alpha is None else (act.reshape(n, f, oh, ow), out, cache)
    # <<< STUDENT-FAST 2.1


def conv2d_backward(dout, cache, *, input_grad=True):
    """Gradients of ``conv2d_forward``: returns ``(dx, dw, db)`` shaped like ``x, w, b``.

    ``input_grad=False``: ``dx`` is None and not computed (no ``W.T @ G`` product, no col2im).
    """
    if cache.groups is None:
        dx, dw, db = conv2d_backward_naive(dout, cache)
        return (dx if input_grad else None), dw, db
    return _backward(dout, cache, input_grad, None, None)[:3]


def conv2d_prelu_backward(dact, cache, pre, alpha, *, input_grad=True):
    """Gradients of :func:`conv2d_prelu_forward` from ``dact = dL/dact``: ``(dx, dw, db, dalpha)``
    (``dx`` None with ``input_grad=False``); the PReLU's backward pass runs group by group."""
    return _backward(dact, cache, input_grad, pre, alpha)


def _backward(dout, cache, input_grad, pre, alpha):
    # >>> STUDENT-FAST 2.2: return _backward_naive(dout, cache, input_grad, pre, alpha)
    x, w, stride, pad = cache.x, cache.w, cache.stride, cache.pad
    n, f = dout.shape[:2]
    kh, kw = w.shape[2:]
    w2 = w.reshape(f, -1)
    s = dout.shape[2] * dout.shape[3]
    g3 = np.ascontiguousarray(dout, dtype=x.dtype).reshape(n, f, s)
    pre3 = None if pre is None else np.ascontiguousarray(pre).reshape(n, f, s)
    dx = np.zeros(x.shape, dtype=x.dtype) if input_grad else None

    def run(group):
        lo, hi = group
        cols = im2col_batch(x[lo:hi], kh, kw, stride, pad)  # (C*KH*KW, G*S), built again
        if pre3 is None:
            g, db = batch_to_columns(g3[lo:hi])  # (F, G, S): the columns' order; db summed
            da = None
        else:
            g, db, da = batch_to_columns(g3[lo:hi], pre3[lo:hi], alpha)  # through the PReLU
        g = g.reshape(f, -1)
        if input_grad:
            col2im_batch(w2.T @ g, (hi - lo,) + x.shape[1:], kh, kw, stride, pad, out=dx[lo:hi])
        return cols @ g.T, db, da  # this group's sums over (n, oy, ox): dw.T (faster than g @ cols.T)

    parts = _map_groups(run, cache.groups, g3.size * w2.shape[1])
    if not parts:  # an empty batch
        return dx, np.zeros(w.shape, x.dtype), np.zeros(f, x.dtype), np.zeros(f, x.dtype)
    dw_t = parts[0][0]
    for part in parts[1:]:
        dw_t += part[0]
    db = np.sum([p[1] for p in parts], axis=0, dtype=np.float64).astype(x.dtype)
    da = None if pre3 is None else np.sum([p[2] for p in parts], axis=0, dtype=np.float64).astype(x.dtype)
    return dx, np.ascontiguousarray(dw_t.T).reshape(w.shape), db, da
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
    dx, dw, db = conv2d_backward_naive(dout, cache._replace(groups=None))
    return (dx if input_grad else None), dw, db, dalpha


def conv2d_forward_naive(x, w, b, *, stride=1, pad=0):
    """Readable convolution: one loop over output positions (same result as ``conv2d_forward``)."""
    stride, pad, oh, ow = _check_conv_args(x, w, b, stride, pad)
    # >>> TASK 2.1: conv forward (naive loops)
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.empty((x.shape[0], f, oh, ow), dtype=x.dtype)
    for oy in range(oh):
        for ox in range(ow):
            window = xp[:, :, oy * stride:oy * stride + kh, ox * stride:ox * stride + kw]  # (N, C, KH, KW)
            out[:, :, oy, ox] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
    # <<< TASK 2.1
    return out, ConvCache(x.shape, x, None, w, stride, pad, None)


def conv2d_backward_naive(dout, cache):
    """Readable backward pass: for each output position, push its gradient to the window it read."""
    x, w, stride, pad = cache.x, cache.w, cache.stride, cache.pad
    # >>> TASK 2.2: conv backward (naive loops)
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w, dtype=dout.dtype)
    for oy in range(dout.shape[2]):
        for ox in range(dout.shape[3]):
            ys, xs = slice(oy * stride, oy * stride + kh), slice(ox * stride, ox * stride + kw)
            g = dout[:, :, oy, ox]  # (N, F)
            dw += np.tensordot(g, xp[:, :, ys, xs], axes=([0], [0]))
            dxp[:, :, ys, xs] += np.tensordot(g, w, axes=([1], [0]))
    h, wd = x.shape[2], x.shape[3]
    return dxp[:, :, pad:pad + h, pad:pad + wd], dw, dout.sum(axis=(0, 2, 3))
    # <<< TASK 2.2
