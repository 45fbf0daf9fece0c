"""Max pooling with Caffe's ceil-mode windows, forward and backward.

Output size along one axis (spec §1.1, Caffe ``pooling_layer.cpp`` with pad 0)::

    out = ceil((size - kernel) / stride) + 1        (ceil_mode=True, Caffe)
    out = floor((size - kernel) / stride) + 1       (ceil_mode=False)

and, as in Caffe and PyTorch, a last window that would *start* outside the
input is dropped. Window ``o`` covers ``[o*stride, min(o*stride + kernel, size))``:
a window hanging over the bottom/right edge simply has fewer cells.

Forward returns the pooled map and, per output cell, the flat index ``y*W + x``
of the maximum (the first one in row-major order on ties, as Caffe does).
Backward sends each output gradient to that one input cell.

``maxpool_forward_reference`` / ``maxpool_backward_reference`` are the readable
twins; ``maxpool_forward`` / ``maxpool_backward`` the Numba kernels.
"""
import math

import numpy as np

from ._jit import jit_serial_or_parallel, prange


def pool_output_size(size, kernel, stride, ceil_mode=True):
    """Number of pooling windows along an axis of length ``size`` (formula in the module docstring)."""
    if size < kernel and not ceil_mode:
        return 0
    steps = (size - kernel) / stride
    out = (math.ceil(steps) if ceil_mode else math.floor(steps)) + 1
    if out > 0 and (out - 1) * stride >= size:
        out -= 1
    return max(out, 0)


# --------------------------------------------------------------------------- plain twins
def maxpool_forward_reference(x, kernel, stride, ceil_mode=True):
    """Readable max-pool: ``(N,C,H,W) -> (out (N,C,OH,OW), argmax (N,C,OH,OW) int64)``."""
    n, c, h, w = x.shape
    # >>> TASK 2.4: ceil-mode max-pool forward and backward
    oh = pool_output_size(h, kernel, stride, ceil_mode)
    ow = pool_output_size(w, kernel, stride, ceil_mode)
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    arg = np.empty((n, c, oh, ow), dtype=np.int64)
    for oy in range(oh):
        y0, y1 = oy * stride, min(oy * stride + kernel, h)
        for ox in range(ow):
            x0, x1 = ox * stride, min(ox * stride + kernel, w)
            win = x[:, :, y0:y1, x0:x1].reshape(n, c, -1)
            k = win.argmax(axis=2)  # first maximum in row-major order
            out[:, :, oy, ox] = np.take_along_axis(win, k[..., None], axis=2)[..., 0]
            arg[:, :, oy, ox] = (y0 + k // (x1 - x0)) * w + x0 + k % (x1 - x0)
    # <<< TASK 2.4
    return out, arg


def maxpool_backward_reference(dout, argmax, x_shape):
    """Readable max-pool backward: scatter-add ``dout`` to the argmax cells."""
    n, c, h, w = x_shape
    # >>> TASK 2.4: ceil-mode max-pool forward and backward
    dx = np.zeros((n, c, h * w), dtype=dout.dtype)
    flat_d = dout.reshape(n, c, -1)
    flat_a = argmax.reshape(n, c, -1)
    for b in range(n):
        for ch in range(c):
            np.add.at(dx[b, ch], flat_a[b, ch], flat_d[b, ch])
    return dx.reshape(x_shape)
    # <<< TASK 2.4


# --------------------------------------------------------------------------- Numba kernels
@jit_serial_or_parallel
def _maxpool_forward_loop(x, kernel, stride, out, arg):
    n, c, h, w = x.shape
    oh, ow = out.shape[2], out.shape[3]
    for nc in prange(n * c):
        b = nc // c
        ch = nc % c
        for oy in range(oh):
            y0 = oy * stride
            y1 = min(y0 + kernel, h)
            for ox in range(ow):
                x0 = ox * stride
                x1 = min(x0 + kernel, w)
                best = x[b, ch, y0, x0]
                where = y0 * w + x0
                for y in range(y0, y1):
                    for xx in range(x0, x1):
                        v = x[b, ch, y, xx]
                        if v > best:
                            best = v
                            where = y * w + xx
                out[b, ch, oy, ox] = best
                arg[b, ch, oy, ox] = where


@jit_serial_or_parallel
def _maxpool_backward_loop(dout, arg, dx):
    n, c, oh, ow = dout.shape
    w = dx.shape[3]
    for nc in prange(n * c):
        b = nc // c
        ch = nc % c
        for oy in range(oh):
            for ox in range(ow):
                k = arg[b, ch, oy, ox]
                dx[b, ch, k // w, k % w] += dout[b, ch, oy, ox]


def maxpool_forward(x, kernel, stride, ceil_mode=True):
    """Max-pool ``(N,C,H,W)``; returns ``(out, argmax)`` like the reference twin. Numba kernel."""
    assert x.ndim == 4
    n, c, h, w = x.shape
    oh = pool_output_size(h, kernel, stride, ceil_mode)
    ow = pool_output_size(w, kernel, stride, ceil_mode)
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    arg = np.empty((n, c, oh, ow), dtype=np.int64)
    _maxpool_forward_loop(x.size, np.ascontiguousarray(x), kernel, stride, out, arg)
    return out, arg


def maxpool_backward(dout, argmax, x_shape):
    """Route ``dout`` (N,C,OH,OW) to the argmax cells of an input of ``x_shape``. Numba kernel."""
    dx = np.zeros(x_shape, dtype=dout.dtype)
    _maxpool_backward_loop(dx.size, np.ascontiguousarray(dout), np.ascontiguousarray(argmax), dx)
    return dx
