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
twins; ``maxpool_forward`` / ``maxpool_backward`` the Numba kernels. For float32
planes with windows of 3x3 or more, the forward kernel turns every cell into one
float64 key ordered by (value, earlier cell first), so that a window's maximum and
its position come out of a branch-free ``max`` (comments at ``KEY_INDEX_BITS``).
"""
import math

import numpy as np

from ._jit import jit


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
# float32 planes of fewer than 2**KEY_INDEX_BITS cells: every cell becomes one float64 key that
# orders like (value, then the earlier cell), so a window's maximum and its first position come
# out of one ``max`` over keys (``max`` of floats has no branches; a select of the index after a
# comparison compiles to a branch, mispredicted about half the time on real data):
#   key = (ordered(bits of x) + 2**31) * 2**KEY_INDEX_BITS + (2**KEY_INDEX_BITS - 1 - (y*W + x))
# exact in float64 (< 2**53). ``ordered`` maps the int32 bits of a float32 to an int32 of the
# same order (negative floats: the 31 low bits flipped; -0.0 ranks as +0.0, so a tie between
# them goes to the first cell as well). NaN is not supported (as in the plain kernel).
KEY_INDEX_BITS = 21
_KEY_LAST = (1 << KEY_INDEX_BITS) - 1


@jit
def _maxpool_plane_keys(bits, out_bits, where, keys, kernel, stride):
    # one (H, W) plane of float32 bits (int32) -> its maxima (bits) and flat argmax
    h, w = bits.shape
    oh, ow = out_bits.shape
    for y in range(h):
        for x in range(w):
            i = np.int64(bits[y, x])
            o = i if i >= 0 else (i ^ 0x7FFFFFFF) + (i == -2147483648)
            keys[y, x] = np.float64((o + 2147483648) * (_KEY_LAST + 1) + (_KEY_LAST - (y * w + x)))
    for oy in range(oh):
        y0 = oy * stride
        for ox in range(ow):
            x0 = ox * stride
            k = -1.0
            if y0 + kernel <= h and x0 + kernel <= w:  # whole window: constant trip counts, unrolled
                for i in range(kernel):
                    row = keys[y0 + i]
                    r = row[x0]
                    for j in range(1, kernel):
                        r = max(r, row[x0 + j])
                    k = max(k, r)
            else:  # a ceil-mode window over the bottom/right edge
                for y in range(y0, min(y0 + kernel, h)):
                    for x in range(x0, min(x0 + kernel, w)):
                        k = max(k, keys[y, x])
            ki = np.int64(k)
            where[oy, ox] = _KEY_LAST - (ki & _KEY_LAST)
            o = (ki >> KEY_INDEX_BITS) - 2147483648
            out_bits[oy, ox] = o if o >= 0 else o ^ 0x7FFFFFFF


@jit
def _maxpool_plane(src, best, where, kernel, stride):
    # any dtype: one (H, W) plane -> (OH, OW) maxima and their flat indices
    h, w = src.shape
    oh, ow = best.shape
    for oy in range(oh):
        y0 = oy * stride
        y1 = min(y0 + kernel, h)
        for ox in range(ow):
            x0 = ox * stride
            x1 = min(x0 + kernel, w)
            b = src[y0, x0]
            k = y0 * w + x0
            if y1 - y0 == kernel and x1 - x0 == kernel:  # whole window: constant trip counts, unrolled
                for i in range(kernel):
                    for j in range(kernel):
                        v = src[y0 + i, x0 + j]
                        k = (y0 + i) * w + x0 + j if v > b else k  # strict: the first maximum, row-major
                        b = max(v, b)
            else:  # a ceil-mode window over the bottom/right edge
                for y in range(y0, y1):
                    for xx in range(x0, x1):
                        v = src[y, xx]
                        k = y * w + xx if v > b else k
                        b = max(v, b)
            best[oy, ox] = b
            where[oy, ox] = k


@jit
def _pool_plane(src, best, where, keys, kernel, stride):
    if keys.shape[0] == 0:
        _maxpool_plane(src, best, where, kernel, stride)
    else:
        _maxpool_plane_keys(src, best, where, keys, kernel, stride)


# nogil, serial: the layer (tinymtcnn.layers.pool) runs chunks of the batch on several threads
@jit(nogil=True)
def _maxpool_forward_loop(x, kernel, stride, out, arg, use_keys):
    # x, out: float arrays, or the int32 bits of float32 ones when use_keys
    n, c, h, w = x.shape
    keys = np.empty((h if use_keys else 0, w), np.float64)
    for nc in range(n * c):
        src, best, where = x[nc // c, nc % c], out[nc // c, nc % c], arg[nc // c, nc % c]
        # MTCNN's windows as constants, so that the compiler unrolls them
        if kernel == 3 and stride == 2:
            _pool_plane(src, best, where, keys, 3, 2)
        elif kernel == 2 and stride == 2:
            _pool_plane(src, best, where, keys, 2, 2)
        else:
            _pool_plane(src, best, where, keys, kernel, stride)


@jit(nogil=True)
def _maxpool_backward_loop(dout, arg, dx):
    # dout, arg (N, C, OH*OW); dx (N, C, H*W) flat planes: the argmax is the flat index
    n, c, s = dout.shape
    for nc in range(n * c):
        g = dout[nc // c, nc % c]
        k = arg[nc // c, nc % c]
        d = dx[nc // c, nc % c]
        for i in range(s):
            d[k[i]] += g[i]


def maxpool_output_arrays(x_shape, kernel, stride, ceil_mode=True, dtype=np.float32):
    """Empty ``(out, argmax)`` arrays for pooling an ``x_shape`` input (``argmax`` int32 unless a
    plane has 2**31 cells or more)."""
    n, c, h, w = x_shape
    shape = (n, c, pool_output_size(h, kernel, stride, ceil_mode), pool_output_size(w, kernel, stride, ceil_mode))
    return np.empty(shape, dtype=dtype), np.empty(shape, dtype=np.int32 if h * w < 2 ** 31 else np.int64)


def maxpool_forward(x, kernel, stride, ceil_mode=True, out=None):
    """Max-pool ``(N,C,H,W)``; returns ``(out, argmax)`` like the reference twin (``argmax`` int32
    unless a plane has 2**31 cells or more). Numba kernel, one thread.

    ``out``: the ``(out, argmax)`` pair to fill (C-contiguous, from :func:`maxpool_output_arrays`).
    """
    assert x.ndim == 4
    # >>> STUDENT-FAST 2.4: return _into(out, maxpool_forward_reference(np.asarray(x), kernel, stride, ceil_mode))
    h, w = x.shape[2:]
    out, arg = maxpool_output_arrays(x.shape, kernel, stride, ceil_mode, x.dtype) if out is None else out
    x = np.ascontiguousarray(x)
    if x.dtype == np.float32 and h * w <= _KEY_LAST and kernel >= 3:  # (2x2 windows: the plain loop is as fast)
        _maxpool_forward_loop(x.view(np.int32), kernel, stride, out.view(np.int32), arg, True)
    else:
        _maxpool_forward_loop(x, kernel, stride, out, arg, False)
    return out, arg
    # <<< STUDENT-FAST 2.4


def maxpool_backward(dout, argmax, x_shape, out=None):
    """Route ``dout`` (N,C,OH,OW) to the argmax cells of an input of ``x_shape``. Numba kernel, one
    thread; adds into ``out`` (C-contiguous, ``x_shape``) when given, else into zeros."""
    n, c, h, w = x_shape
    # >>> STUDENT-FAST 2.4: return _added_into(out, maxpool_backward_reference(dout, np.asarray(argmax), x_shape))
    dx = np.zeros((n, c, h * w), dtype=dout.dtype) if out is None else out.reshape(n, c, h * w)
    s = dout.shape[2] * dout.shape[3]
    _maxpool_backward_loop(np.ascontiguousarray(dout).reshape(n, c, s),
                           np.ascontiguousarray(argmax).reshape(n, c, s), dx)
    return dx.reshape(x_shape)
    # <<< STUDENT-FAST 2.4


# the student copy's fast paths (STUDENT-FAST above, tools/assignment_source.py): the student's readable
# functions, their results written where the fast kernels would have written theirs
def _into(out, arrays):
    """``arrays`` (out, argmax), copied into the given ``out`` pair, or returned when ``out`` is None."""
    if out is None:
        return arrays
    for dst, src in zip(out, arrays):
        dst[...] = src
    return out


def _added_into(out, dx):
    """``dx`` added into ``out`` (the kernel's contract), or returned when ``out`` is None."""
    if out is None:
        return dx
    out += dx.reshape(out.shape)
    return out
