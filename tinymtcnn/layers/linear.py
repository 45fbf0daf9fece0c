"""Fully connected layer (Caffe ``InnerProduct``), forward and backward.

Shapes (Caffe's weight layout, output-major; features first, one column per sample, as the
package's batch-innermost layout leaves them after ``Flatten``)::

    x (I, N),  w (O, I),  b (O,)
    out = w @ x + b[:, None]                           (O, N)

Backward, with ``g = dL/dout`` (O, N)::

    dx = w.T @ g        (I, N)
    dw = g @ x.T        (O, I)
    db = g.sum(axis=1)  (O,)
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
    if x.shape[0] != w.shape[1]:
        raise ValueError(f"x has {x.shape[0]} features (axis 0 of (I, N)) but w expects {w.shape[1]} "
                         f"(x {x.shape}, w {w.shape})")
    if b.shape != (w.shape[0],):
        raise ValueError(f"b must have shape ({w.shape[0]},), got {b.shape}")


def linear_forward(x, w, b):
    """``out = w @ x + b[:, None]`` as one matrix product. Returns ``(out, cache)``."""
    _check(x, w, b)
    w = w.astype(x.dtype, copy=False)
    out = w @ x
    out += b.astype(x.dtype, copy=False)[:, None]
    return out, LinearCache(x, w)


def linear_backward(dout, cache):
    """Returns ``(dx, dw, db)``."""
    x, w = cache
    return w.T @ dout, dout @ x.T, dout.sum(axis=1)


def linear_forward_naive(x, w, b):
    """Readable twin: every output is a dot product of one sample with one weight row."""
    _check(x, w, b)
    out = np.empty((w.shape[0], x.shape[1]), dtype=x.dtype)
    for n in range(x.shape[1]):
        for o in range(w.shape[0]):
            out[o, n] = np.dot(w[o], x[:, n]) + b[o]
    return out, LinearCache(x, w)


def linear_backward_naive(dout, cache):
    """Readable twin of ``linear_backward``: accumulate one sample at a time."""
    x, w = cache
    dx = np.zeros_like(x, dtype=dout.dtype)
    dw = np.zeros(w.shape, dtype=dout.dtype)
    for n in range(x.shape[1]):
        dx[:, n] = w.T @ dout[:, n]
        dw += np.outer(dout[:, n], x[:, n])
    return dx, dw, dout.sum(axis=1)
