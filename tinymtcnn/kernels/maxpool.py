"""Max pooling with Caffe's ceil-mode windows on batch-innermost ``(C, H, W, N)`` arrays.

Output size along one axis (spec §1.1, Caffe ``pooling_layer.cpp`` with pad 0)::

    out = ceil((size - kernel) / stride) + 1        (ceil_mode=True, Caffe)
    out = floor((size - kernel) / stride) + 1       (ceil_mode=False)

and, as in Caffe and PyTorch, a last window that would *start* outside the
input is dropped. Window ``o`` covers ``[o*stride, min(o*stride + kernel, size))``:
a window hanging over the bottom/right edge simply has fewer cells.

Forward returns the pooled map ``(C, OH, OW, N)`` and, per output cell, the flat index
``y*W + x`` of the maximum in its ``(H, W)`` plane (the first one in row-major order on
ties, as Caffe does). Backward sends each output gradient to that one input cell.

``maxpool_forward_naive`` / ``maxpool_backward_naive`` are the readable twins;
``maxpool_forward`` / ``maxpool_backward`` the Numba kernels. They are separable: the max over
a window's rows first, in one pass over whole rows of ``W*N`` values (with the row of each
maximum), then over its columns, on runs of ``N`` values: every loop vectorises, whatever the
map's size. ``maxpool_forward(..., argmax=False)`` (inference) skips the positions.
"""
import math

import numpy as np

from ._jit import jit, parallel_chunks


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
def maxpool_forward_naive(x, kernel, stride, ceil_mode=True):
    """Readable max-pool: ``(C,H,W,N) -> (out (C,OH,OW,N), argmax (C,OH,OW,N) int64)``."""
    c, h, w, n = x.shape
    # >>> TASK 2.4: ceil-mode max-pool forward and backward
    oh = pool_output_size(h, kernel, stride, ceil_mode)
    ow = pool_output_size(w, kernel, stride, ceil_mode)
    out = np.empty((c, oh, ow, n), dtype=x.dtype)
    arg = np.empty((c, oh, ow, n), dtype=np.int64)
    for oy in range(oh):
        y0, y1 = oy * stride, min(oy * stride + kernel, h)
        for ox in range(ow):
            x0, x1 = ox * stride, min(ox * stride + kernel, w)
            win = x[:, y0:y1, x0:x1].reshape(c, -1, n)  # (C, cells in row-major order, N)
            k = win.argmax(axis=1)  # first maximum in row-major order
            out[:, oy, ox] = np.take_along_axis(win, k[:, None], axis=1)[:, 0]
            arg[:, oy, ox] = (y0 + k // (x1 - x0)) * w + x0 + k % (x1 - x0)
    # <<< TASK 2.4
    return out, arg


def maxpool_backward_naive(dout, argmax, x_shape):
    """Readable max-pool backward: scatter-add ``dout`` to the argmax cells -> ``x_shape``."""
    c, h, w, n = x_shape
    # >>> TASK 2.4: ceil-mode max-pool forward and backward
    dx = np.zeros((c, h * w, n), dtype=dout.dtype)
    flat_d = dout.reshape(c, -1, n)
    flat_a = argmax.reshape(c, -1, n)
    for ch in range(c):
        for b in range(n):
            np.add.at(dx[ch, :, b], flat_a[ch, :, b], flat_d[ch, :, b])
    return dx.reshape(x_shape)
    # <<< TASK 2.4


# --------------------------------------------------------------------------- Numba kernels
@jit
def _maxpool_loop(x3, kernel, stride, w, n_n, out3):
    """``x3``/``out3``: ``(C, H, W*N)`` / ``(C, OH, OW*N)`` views; the maxima only."""
    c_n, h = x3.shape[0], x3.shape[1]
    oh = out3.shape[1]
    ow = out3.shape[2] // n_n
    run = w * n_n
    for c in range(c_n):
        rows = np.empty(run, dtype=x3.dtype)
        for oy in range(oh):
            y0 = oy * stride
            first = x3[c, y0]
            for j in range(run):
                rows[j] = first[j]
            for yy in range(y0 + 1, min(y0 + kernel, h)):
                src = x3[c, yy]
                for j in range(run):
                    v = src[j]
                    best = rows[j]
                    rows[j] = v if v > best else best
            dst = out3[c, oy]
            for ox in range(ow):
                x0 = ox * stride
                d = dst[ox * n_n:(ox + 1) * n_n]  # views of N values: these loops vectorise
                col = rows[x0 * n_n:(x0 + 1) * n_n]
                for t in range(n_n):
                    d[t] = col[t]
                for xx in range(x0 + 1, min(x0 + kernel, w)):
                    col = rows[xx * n_n:(xx + 1) * n_n]
                    for t in range(n_n):
                        v = col[t]
                        best = d[t]
                        d[t] = v if v > best else best


@jit
def _maxpool_arg_loop(x3, kernel, stride, w, n_n, out3, arg3):
    """As :func:`_maxpool_loop`, with the flat index ``y*W + x`` of each maximum: the row pass keeps
    the first row of each column's maximum, the column pass the first column among the lowest rows
    (both over runs of ``N`` values, selects without branches)."""
    c_n, h = x3.shape[0], x3.shape[1]
    oh = out3.shape[1]
    ow = out3.shape[2] // n_n
    run = w * n_n
    for c in range(c_n):
        rows = np.empty(run, dtype=x3.dtype)
        top = np.empty(run, dtype=np.int64)
        for oy in range(oh):
            y0 = oy * stride
            first = x3[c, y0]
            for j in range(run):
                rows[j] = first[j]
                top[j] = y0
            for yy in range(y0 + 1, min(y0 + kernel, h)):
                src = x3[c, yy]
                for j in range(run):
                    v = src[j]
                    better = v > rows[j]  # strict: the first row wins a tie
                    rows[j] = v if better else rows[j]
                    top[j] = yy if better else top[j]
            dst, where = out3[c, oy], arg3[c, oy]
            for ox in range(ow):
                x0 = ox * stride
                d = dst[ox * n_n:(ox + 1) * n_n]  # views of N values: these loops vectorise
                a = where[ox * n_n:(ox + 1) * n_n]
                col, row_of = rows[x0 * n_n:(x0 + 1) * n_n], top[x0 * n_n:(x0 + 1) * n_n]
                for t in range(n_n):
                    d[t] = col[t]
                    a[t] = row_of[t] * w + x0
                for xx in range(x0 + 1, min(x0 + kernel, w)):
                    col, row_of = rows[xx * n_n:(xx + 1) * n_n], top[xx * n_n:(xx + 1) * n_n]
                    for t in range(n_n):
                        v = col[t]
                        k = row_of[t] * w + xx
                        better = v > d[t] or (v == d[t] and k < a[t])  # row-major: the lower flat index
                        d[t] = v if better else d[t]
                        a[t] = k if better else a[t]


@jit
def _maxpool_backward_loop(d3, a3, kernel, stride, w, n_n, dx3):
    """``d3``/``a3``: ``(C, OH, OW*N)``; adds into ``dx3 (C, H, W*N)``; one channel per iteration. The
    argmax's row within its window is found by comparisons (``kernel`` at most a few rows), not by a
    division, which would cost more than the rest of the loop."""
    c_n, oh, run = d3.shape
    ow = run // n_n
    for c in range(c_n):
        for oy in range(oh):
            base = oy * stride * w
            for ox in range(ow):
                for t in range(n_n):
                    q = ox * n_n + t
                    r = a3[c, oy, q] - base  # y*W + x relative to the window's first row
                    dy = 0
                    for i in range(1, kernel):
                        dy += r >= i * w
                    dx3[c, oy * stride + dy, (r - dy * w) * n_n + t] += d3[c, oy, q]


def maxpool_forward(x, kernel, stride, ceil_mode=True, argmax=True):
    """Numba twin of :func:`maxpool_forward_naive`: ``(out, argmax)`` for ``x (C,H,W,N)``; ``argmax``
    int64, or None with ``argmax=False`` (inference: nothing to route a gradient to, and faster)."""
    assert x.ndim == 4
    # >>> STUDENT-FAST 2.4: return _student_forward(np.asarray(x), kernel, stride, ceil_mode, argmax)
    c, h, w, n = x.shape
    oh = pool_output_size(h, kernel, stride, ceil_mode)
    ow = pool_output_size(w, kernel, stride, ceil_mode)
    x = np.ascontiguousarray(x)
    out = np.empty((c, oh, ow, n), dtype=x.dtype)
    x3, out3 = x.reshape(c, h, w * n), out.reshape(c, oh, ow * n)
    if not argmax:  # channels in chunks, on several threads when the pool is big
        parallel_chunks(lambda c0, c1: _maxpool_loop(x3[c0:c1], kernel, stride, w, n, out3[c0:c1]), c, x.size)
        return out, None
    arg = np.empty((c, oh, ow, n), dtype=np.int64)
    arg3 = arg.reshape(c, oh, ow * n)
    parallel_chunks(lambda c0, c1: _maxpool_arg_loop(x3[c0:c1], kernel, stride, w, n, out3[c0:c1], arg3[c0:c1]),
                    c, x.size)
    return out, arg
    # <<< STUDENT-FAST 2.4


def maxpool_backward(dout, argmax, x_shape, kernel, stride):
    """Numba twin of :func:`maxpool_backward_naive`: ``dout (C,OH,OW,N)`` routed to the argmax cells
    of a new ``x_shape`` array (``kernel``, ``stride``: the forward pass's)."""
    # >>> STUDENT-FAST 2.4: return maxpool_backward_naive(dout, np.asarray(argmax), x_shape)
    c, h, w, n = x_shape
    oh, ow = dout.shape[1], dout.shape[2]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    d3, a3 = np.ascontiguousarray(dout).reshape(c, oh, ow * n), np.ascontiguousarray(argmax).reshape(c, oh, ow * n)
    dx3 = dx.reshape(c, h, w * n)
    parallel_chunks(lambda c0, c1: _maxpool_backward_loop(d3[c0:c1], a3[c0:c1], kernel, stride, w, n, dx3[c0:c1]),
                    c, dout.size)
    return dx
    # <<< STUDENT-FAST 2.4


def _student_forward(x, kernel, stride, ceil_mode, argmax):
    """The student copy's :func:`maxpool_forward` (STUDENT-FAST, tools/assignment_source.py)."""
    out, arg = maxpool_forward_naive(x, kernel, stride, ceil_mode)
    return out, (arg if argmax else None)
