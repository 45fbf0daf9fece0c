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
positions (readable; the test oracle) and ``conv2d_forward`` unrolls the windows of
the whole batch with im2col (:mod:`tinymtcnn.kernels.im2col_batch`) so that the layer
is one matrix product, and its backward pass two.
"""
from typing import NamedTuple, Tuple

import numpy as np

from ..kernels.im2col import conv_output_size
from ..kernels.im2col_batch import col2im_batch, im2col_batch
from ..threads import matmul
from ._checks import check_array, check_positive_int


class ConvCache(NamedTuple):
    """What ``conv2d_backward`` needs: the input (or its columns) and the settings."""

    x_shape: Tuple[int, int, int, int]
    x: np.ndarray  # the input (naive) or None
    cols: np.ndarray  # im2col columns (fast) of the whole batch, (C*KH*KW, N*OH*OW), or None
    w: np.ndarray
    stride: int
    pad: int


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
    """Convolution by im2col + one matrix product for the batch (formula in the module docstring).

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
    stride, pad, oh, ow = _check_conv_args(x, w, b, stride, pad)
    f, _, kh, kw = w.shape
    w = w.astype(x.dtype, copy=False)
    n = x.shape[0]
    cols = im2col_batch(x, kh, kw, stride, pad)  # (C*KH*KW, N*OH*OW)
    out = matmul(w.reshape(f, -1), cols).reshape(f, n, oh * ow)  # (F, N, OH*OW)
    out = np.add(out.transpose(1, 0, 2), b.astype(x.dtype, copy=False)[None, :, None], order="C")  # (N, F, OH*OW)
    return out.reshape(n, f, oh, ow), ConvCache(x.shape, None, cols, w, stride, pad)


def conv2d_backward(dout, cache):
    """Gradients of ``conv2d_forward``: returns ``(dx, dw, db)`` shaped like ``x, w, b``."""
    if cache.cols is None:
        return conv2d_backward_naive(dout, cache)
    n, f = dout.shape[:2]
    w = cache.w
    g = dout.reshape(n, f, -1)
    db = g.sum(axis=(0, 2))
    g = np.ascontiguousarray(g.transpose(1, 0, 2)).reshape(f, -1)  # (F, N*OH*OW), the columns' order
    dw = matmul(g, cache.cols.T).reshape(w.shape)  # sum over every (n, oy, ox) in one product
    dcols = matmul(w.reshape(f, -1).T, g)  # (C*KH*KW, N*OH*OW)
    dx = col2im_batch(dcols, cache.x_shape, w.shape[2], w.shape[3], cache.stride, cache.pad)
    return dx, dw, db


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
    return out, ConvCache(x.shape, x, None, w, stride, pad)


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
