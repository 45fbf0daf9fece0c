"""Max pooling with Caffe's ceil-mode output size (spec §1.1), on ``(C, H, W, N)`` arrays.

``out = ceil((size - kernel) / stride) + 1`` per axis; the last window may hang
over the bottom/right edge and then takes the max of the cells that exist.
Floor-mode pooling would make R-Net flatten 256 values instead of 576.

Backward sends each output gradient to the single input cell that held the
maximum (the first one in row-major order on ties, as Caffe).

``maxpool2d_forward`` uses the Numba kernel, ``maxpool2d_forward_naive`` the
readable numpy twin; both live in ``tinymtcnn.kernels.maxpool``. With several threads
(:func:`tinymtcnn.threads.get_num_threads`) the kernel's channels are shared out over them
(:func:`tinymtcnn.kernels._jit.parallel_chunks`); the result does not depend on the thread count.
"""
from typing import NamedTuple, Tuple

import numpy as np

from ..kernels import maxpool as _k
from ._checks import check_array, check_positive_int


class MaxPoolCache(NamedTuple):
    x_shape: Tuple[int, int, int, int]
    argmax: np.ndarray  # (C, OH, OW, N) flat index y*W + x of each window's maximum
    kernel: int  # the window (the fast backward pass finds each maximum's row from it)
    stride: int


def _check(x, kernel, stride):
    check_array("x", x, 4)
    kernel = check_positive_int("kernel", kernel)
    stride = check_positive_int("stride", stride)
    return kernel, stride


def maxpool2d_forward(x, *, kernel, stride, ceil_mode=True):
    """Max-pool ``x`` (C, H, W, N) -> ``(out (C, OH, OW, N), cache)``. Numba kernel."""
    kernel, stride = _check(x, kernel, stride)
    out, arg = _k.maxpool_forward(x, kernel, stride, ceil_mode)
    return out, MaxPoolCache(x.shape, arg, kernel, stride)


def maxpool2d_values(x, *, kernel, stride, ceil_mode=True):
    """The ``out`` of :func:`maxpool2d_forward` without the argmax (inference: no backward pass
    follows, and the kernel runs faster without positions)."""
    kernel, stride = _check(x, kernel, stride)
    return _k.maxpool_forward(x, kernel, stride, ceil_mode, argmax=False)[0]


def maxpool2d_backward(dout, cache):
    """Gradient of ``maxpool2d_forward``: returns ``dx`` shaped like ``x``."""
    return _k.maxpool_backward(dout, cache.argmax, cache.x_shape, cache.kernel, cache.stride)


def maxpool2d_forward_naive(x, *, kernel, stride, ceil_mode=True):
    """Readable twin of ``maxpool2d_forward`` (loops over output cells)."""
    kernel, stride = _check(x, kernel, stride)
    out, arg = _k.maxpool_forward_naive(x, kernel, stride, ceil_mode)
    return out, MaxPoolCache(x.shape, arg, kernel, stride)


def maxpool2d_backward_naive(dout, cache):
    """Readable twin of ``maxpool2d_backward``."""
    return _k.maxpool_backward_naive(dout, cache.argmax, cache.x_shape)


pool_output_size = _k.pool_output_size
