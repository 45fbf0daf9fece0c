"""Parametric ReLU with one slope per channel (Caffe ``PReLU``, ``channel_shared: false``).

Shapes (channel first, the package's batch-innermost layout): ``x`` is ``(C, H, W, N)`` or ``(C, N)``
(after a fully connected layer); ``alpha`` is ``(C,)``. ::

    out = x            where x > 0
    out = alpha[c] * x where x <= 0

Backward, with ``g = dL/dout``::

    dx     = g                 where x > 0,  alpha[c] * g  elsewhere
    dalpha[c] = sum over every element of channel c with x <= 0 of  g * x
"""
from typing import NamedTuple

import numpy as np

from ..kernels import prelu as _k
from ._checks import check_array


class PReLUCache(NamedTuple):
    x: np.ndarray
    alpha: np.ndarray


def _check(x, alpha):
    check_array("x", x, (2, 4))
    check_array("alpha", alpha, 1)
    if alpha.shape[0] != x.shape[0]:
        raise ValueError(f"alpha has {alpha.shape[0]} slopes but x has {x.shape[0]} channels (axis 0; x {x.shape})")


def prelu_forward(x, alpha):
    """PReLU in one pass (Numba kernel :func:`tinymtcnn.kernels.prelu.bias_prelu`, no bias, on
    ``x`` as rows ``(C, rest)``). Returns ``(out, cache)``; formula in the module docstring."""
    _check(x, alpha)
    x = np.ascontiguousarray(x)
    rows = x.reshape(x.shape[0], -1)
    out = _k.bias_prelu(rows, None, alpha.astype(x.dtype, copy=False), out=np.empty_like(rows))[1]
    return out.reshape(x.shape), PReLUCache(x, alpha)


def prelu_backward(dout, cache):
    """Returns ``(dx, dalpha)`` (one pass, Numba kernel; ``dalpha`` summed in float64)."""
    x, alpha = cache
    c = x.shape[0]
    dx, _, dalpha = _k.bias_prelu_backward(np.ascontiguousarray(dout).reshape(c, -1), x.reshape(c, -1),
                                          alpha.astype(dout.dtype, copy=False))
    return dx.reshape(x.shape), dalpha


def prelu_forward_naive(x, alpha):
    """Readable PReLU: one channel at a time."""
    _check(x, alpha)
    # >>> TASK 2.3: PReLU forward and backward (naive)
    out = np.empty_like(x)
    for c in range(x.shape[0]):
        xc = x[c]
        out[c] = np.where(xc > 0, xc, alpha[c] * xc)
    # <<< TASK 2.3
    return out, PReLUCache(x, alpha)


def prelu_backward_naive(dout, cache):
    """Readable backward pass, one channel at a time."""
    x, alpha = cache
    # >>> TASK 2.3: PReLU forward and backward (naive)
    dx = np.empty_like(dout)
    dalpha = np.zeros(alpha.shape, dtype=dout.dtype)
    for c in range(x.shape[0]):
        xc, gc = x[c], dout[c]
        dx[c] = np.where(xc > 0, gc, alpha[c] * gc)
        dalpha[c] = np.sum(gc[xc <= 0] * xc[xc <= 0])
    return dx, dalpha
    # <<< TASK 2.3
