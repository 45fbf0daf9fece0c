"""Numba kernels against their plain twins: im2col / col2im and max-pool, on ``(C, H, W, N)``."""
import numpy as np
import pytest

from tinymtcnn.kernels import im2col as k_im2col
from tinymtcnn.kernels import maxpool as k_pool


@pytest.mark.parametrize("shape,kh,kw,stride,pad", [
    ((3, 7, 9, 2), 3, 3, 1, 0), ((2, 8, 5, 1), 3, 2, 2, 1), ((1, 6, 6, 3), 2, 3, 1, 2),
    ((4, 5, 5, 1), 1, 1, 3, 0), ((2, 12, 12, 2), 3, 3, 1, 0), ((3, 24, 24, 5), 3, 3, 1, 0),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_im2col_and_col2im_match_twins(rng, shape, kh, kw, stride, pad, dtype):
    x = rng.standard_normal(shape).astype(dtype)
    cols = k_im2col.im2col(x, kh, kw, stride, pad)
    np.testing.assert_array_equal(cols, k_im2col.im2col_naive(x, kh, kw, stride, pad))
    assert cols.dtype == dtype
    c = rng.standard_normal(cols.shape).astype(dtype)
    np.testing.assert_allclose(k_im2col.col2im(c, shape, kh, kw, stride, pad),
                               k_im2col.col2im_naive(c, shape, kh, kw, stride, pad), rtol=1e-6, atol=1e-6)


def test_col2im_is_the_adjoint_of_im2col(rng):
    # <im2col(x), c> == <x, col2im(c)> for every x, c: the defining property of the backward pass
    shape, args = (3, 9, 7, 2), (3, 2, 2, 1)
    x = rng.standard_normal(shape)
    c = rng.standard_normal(k_im2col.im2col(x, *args).shape)
    assert np.isclose(np.sum(k_im2col.im2col(x, *args) * c), np.sum(x * k_im2col.col2im(c, shape, *args)))


@pytest.mark.parametrize("shape,kernel,stride", [
    ((3, 10, 10, 2), 2, 2), ((3, 9, 11, 2), 3, 2), ((5, 23, 23, 1), 3, 2), ((1, 1, 1, 1), 2, 2),
    ((2, 5, 5, 1), 1, 3),
])
@pytest.mark.pipeline
def test_maxpool_kernels_match_twins(rng, shape, kernel, stride):
    x = rng.standard_normal(shape)
    x[:, ::3, ::2] = 0.5  # plant ties: both must pick the first maximum
    out, arg = k_pool.maxpool_forward(x, kernel, stride)
    out_r, arg_r = k_pool.maxpool_forward_naive(x, kernel, stride)
    np.testing.assert_array_equal(out, out_r)
    np.testing.assert_array_equal(arg, arg_r)
    d = rng.standard_normal(out.shape)
    np.testing.assert_allclose(k_pool.maxpool_backward(d, arg, shape, kernel, stride),
                               k_pool.maxpool_backward_naive(d, arg_r, shape), rtol=1e-12)
