"""Max pooling with Caffe's ceil-mode output size (spec §1.1).

``out = ceil((size - kernel) / stride) + 1`` per axis; the last window may hang
over the bottom/right edge and then takes the max of the cells that exist.
Floor-mode pooling would make R-Net flatten 256 values instead of 576.

Backward sends each output gradient to the single input cell that held the
maximum (the first one in row-major order on ties, as Caffe).

``maxpool2d_forward`` uses the Numba kernel, ``maxpool2d_forward_naive`` the
readable numpy twin; both live in ``tinymtcnn.kernels.maxpool``. With several threads
(:func:`tinymtcnn.threads.get_num_threads`) a large batch is cut into chunks of images
that :func:`tinymtcnn.threads.parallel_map` shares out (whichever thread is free takes
the next chunk, which keeps a busy machine from stalling on one late thread); the
result does not depend on the thread count.
"""
from typing import NamedTuple, Tuple

import numpy as np

from ..kernels import maxpool as _k
from ..kernels._jit import PARALLEL_MIN_WORK
from ..threads import get_num_threads, parallel_map
from ._checks import check_array, check_positive_int


class MaxPoolCache(NamedTuple):
    x_shape: Tuple[int, int, int, int]
    argmax: np.ndarray  # (N, C, OH, OW) flat index y*W + x of each window's maximum


def _check(x, kernel, stride):
    check_array("x", x, 4)
    kernel = check_positive_int("kernel", kernel)
    stride = check_positive_int("stride", stride)
    return kernel, stride


def batch_chunks(n, work):
    """Image ranges ``(lo, hi)`` for :func:`parallel_map`: one range unless ``work`` (elements)
    is large enough to be worth a thread wake-up, else about four per thread."""
    parts = 1 if work < PARALLEL_MIN_WORK else max(1, min(n, 4 * get_num_threads()))
    return [(n * i // parts, n * (i + 1) // parts) for i in range(parts)]


def maxpool2d_forward(x, *, kernel, stride, ceil_mode=True):
    """Max-pool ``x`` (N, C, H, W) -> ``(out (N, C, OH, OW), cache)``. Numba kernel."""
    kernel, stride = _check(x, kernel, stride)
    x = np.ascontiguousarray(x)
    out, arg = _k.maxpool_output_arrays(x.shape, kernel, stride, ceil_mode, x.dtype)
    def run(r):
        lo, hi = r
        _k.maxpool_forward(x[lo:hi], kernel, stride, ceil_mode, out=(out[lo:hi], arg[lo:hi]))

    parallel_map(run, batch_chunks(len(x), x.size))
    return out, MaxPoolCache(x.shape, arg)


def maxpool2d_backward(dout, cache):
    """Gradient of ``maxpool2d_forward``: returns ``dx`` shaped like ``x``."""
    dx = np.zeros(cache.x_shape, dtype=dout.dtype)
    dout = np.ascontiguousarray(dout)
    def run(r):
        lo, hi = r
        _k.maxpool_backward(dout[lo:hi], cache.argmax[lo:hi], dx[lo:hi].shape, out=dx[lo:hi])

    parallel_map(run, batch_chunks(len(dx), dx.size))
    return dx


def maxpool2d_forward_naive(x, *, kernel, stride, ceil_mode=True):
    """Readable twin of ``maxpool2d_forward`` (loops over output cells)."""
    kernel, stride = _check(x, kernel, stride)
    out, arg = _k.maxpool_forward_reference(x, kernel, stride, ceil_mode)
    return out, MaxPoolCache(x.shape, arg)


def maxpool2d_backward_naive(dout, cache):
    """Readable twin of ``maxpool2d_backward``."""
    return _k.maxpool_backward_reference(dout, cache.argmax, cache.x_shape)


pool_output_size = _k.pool_output_size
