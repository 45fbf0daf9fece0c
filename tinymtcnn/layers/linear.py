"""Fully connected layer (Caffe ``InnerProduct``), forward and backward.

Shapes (Caffe's weight layout, output-major)::

    x (N, I),  w (O, I),  b (O,)
    out = x @ w.T + b                                  (N, O)

Backward, with ``g = dL/dout`` (N, O)::

    dx = g @ w          (N, I)
    dw = g.T @ x        (O, I)
    db = g.sum(axis=0)  (O,)
"""
from typing import NamedTuple

import numpy as np

from ._checks import check_array


class LinearCache(NamedTuple):
    x: np.ndarray
    w: np.ndarray


def _check(x, w, b):
    check_array("x", x, 2)
    check_array("w", w, 2)
    check_array("b", b, 1)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} features but w expects {w.shape[1]} (x {x.shape}, w {w.shape})")
    if b.shape != (w.shape[0],):
        raise ValueError(f"b must have shape ({w.shape[0]},), got {b.shape}")


def linear_forward(x, w, b):
    """``out = x @ w.T + b`` as one matrix product. Returns ``(out, cache)``."""
    _check(x, w, b)
    w = w.astype(x.dtype, copy=False)
    return x @ w.T + b.astype(x.dtype, copy=False), LinearCache(x, w)


def linear_backward(dout, cache):
    """Returns ``(dx, dw, db)``."""
    x, w = cache
    return dout @ w, dout.T @ x, dout.sum(axis=0)


def linear_forward_naive(x, w, b):
    """Readable twin: every output is a dot product of one sample with one weight row."""
    _check(x, w, b)
    out = np.empty((x.shape[0], w.shape[0]), dtype=x.dtype)
    for n in range(x.shape[0]):
        for o in range(w.shape[0]):
            out[n, o] = np.dot(x[n], w[o]) + b[o]
    return out, LinearCache(x, w)


def linear_backward_naive(dout, cache):
    """Readable twin of ``linear_backward``: accumulate one sample at a time."""
    x, w = cache
    dx = np.zeros_like(x, dtype=dout.dtype)
    dw = np.zeros(w.shape, dtype=dout.dtype)
    for n in range(x.shape[0]):
        dx[n] = w.T @ dout[n]
        dw += np.outer(dout[n], x[n])
    return dx, dw, dout.sum(axis=0)
