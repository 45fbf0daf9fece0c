"""Parametric ReLU with one slope per channel (Caffe ``PReLU``, ``channel_shared: false``).

Shapes: ``x`` is ``(N, C, H, W)`` or ``(N, C)``; ``alpha`` is ``(C,)``. ::

    out = x            where x > 0
    out = alpha[c] * x where x <= 0

Backward, with ``g = dL/dout``::

    dx     = g                 where x > 0,  alpha[c] * g  elsewhere
    dalpha[c] = sum over every element of channel c with x <= 0 of  g * x
"""
from typing import NamedTuple

import numpy as np

from ._checks import check_array


class PReLUCache(NamedTuple):
    x: np.ndarray
    alpha: np.ndarray


def _check(x, alpha):
    check_array("x", x, (2, 4))
    check_array("alpha", alpha, 1)
    if alpha.shape[0] != x.shape[1]:
        raise ValueError(f"alpha has {alpha.shape[0]} slopes but x has {x.shape[1]} channels (x {x.shape})")


def _per_channel(alpha, ndim, dtype):
    """Reshape (C,) so it broadcasts along axis 1 of an ndim-array."""
    return alpha.astype(dtype, copy=False).reshape((1, -1) + (1,) * (ndim - 2))


def prelu_forward(x, alpha):
    """Vectorised PReLU. Returns ``(out, cache)``; formula in the module docstring."""
    _check(x, alpha)
    a = _per_channel(alpha, x.ndim, x.dtype)
    return np.where(x > 0, x, a * x), PReLUCache(x, alpha)


def prelu_backward(dout, cache):
    """Returns ``(dx, dalpha)``."""
    x, alpha = cache
    a = _per_channel(alpha, x.ndim, x.dtype)
    positive = x > 0
    dx = np.where(positive, dout, a * dout)
    axes = (0,) + tuple(range(2, x.ndim))
    dalpha = np.where(positive, 0, dout * x).sum(axis=axes)
    return dx, dalpha


def prelu_forward_naive(x, alpha):
    """Readable PReLU: one channel at a time."""
    _check(x, alpha)
    out = np.empty_like(x)
    for c in range(x.shape[1]):
        xc = x[:, c]
        out[:, c] = np.where(xc > 0, xc, alpha[c] * xc)
    return out, PReLUCache(x, alpha)


def prelu_backward_naive(dout, cache):
    """Readable backward pass, one channel at a time."""
    x, alpha = cache
    dx = np.empty_like(dout)
    dalpha = np.zeros(alpha.shape, dtype=dout.dtype)
    for c in range(x.shape[1]):
        xc, gc = x[:, c], dout[:, c]
        dx[:, c] = np.where(xc > 0, gc, alpha[c] * gc)
        dalpha[c] = np.sum(gc[xc <= 0] * xc[xc <= 0])
    return dx, dalpha
