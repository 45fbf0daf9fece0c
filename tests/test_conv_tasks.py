"""The naive convolution's forward (assignment task 2.1) and backward (task 2.2), each on its own.

``test_layers.py`` checks the two together (the naive backward consumes the naive forward's
cache), so a mistake in either fails both. Here each is compared with the im2col version alone,
so the two tasks get separate verdicts (docs/teachers_guide.md). Expected values come from
``conv2d_forward`` / ``conv2d_backward`` (im2col + matmul) and from finite differences.
"""
import numpy as np
import pytest

from tinymtcnn.gradcheck import numerical_gradient, rel_error
from tinymtcnn.layers import ConvCache, conv2d_backward, conv2d_backward_naive, conv2d_forward, conv2d_forward_naive

# (N, C, H, W), (F, KH, KW), stride, pad
CASES = [
    ((2, 3, 7, 7), (4, 3, 3), 1, 0),
    ((1, 2, 9, 6), (3, 2, 3), 1, 1),
    ((2, 1, 10, 13), (2, 4, 3), 2, 2),
    ((1, 4, 5, 5), (5, 1, 1), 1, 0),
]


def _inputs(rng, xs, ks):
    f, kh, kw = ks
    return rng.standard_normal(xs), rng.standard_normal((f, xs[1], kh, kw)), rng.standard_normal(f)


@pytest.mark.task_2_1
@pytest.mark.parametrize("xs,ks,stride,pad", CASES)
def test_naive_forward_matches_im2col(rng, xs, ks, stride, pad):
    x, w, b = _inputs(rng, xs, ks)
    out, cache = conv2d_forward_naive(x, w, b, stride=stride, pad=pad)
    expected, _ = conv2d_forward(x, w, b, stride=stride, pad=pad)
    assert out.shape == expected.shape and out.dtype == x.dtype
    assert rel_error(out, expected) < 1e-10
    # the naive backward pass reads the input from the cache (conv2d_backward dispatches on cols is None)
    assert cache.cols is None and np.array_equal(cache.x, x)
    assert (cache.stride, cache.pad) == (stride, pad)


@pytest.mark.task_2_1
def test_naive_forward_known_values():
    # a 3x3 ramp convolved with a 2x2 kernel of ones sums 2x2 blocks; with pad 1 the corners see one cell
    x = np.arange(9, dtype=np.float64).reshape(1, 1, 3, 3)
    out, _ = conv2d_forward_naive(x, np.ones((1, 1, 2, 2)), np.array([0.5]))
    np.testing.assert_array_equal(out[0, 0], [[8.5, 12.5], [20.5, 24.5]])
    out, _ = conv2d_forward_naive(x, np.ones((1, 1, 2, 2)), np.array([0.0]), stride=2, pad=1)
    np.testing.assert_array_equal(out[0, 0], [[0, 3], [9, 24]])


@pytest.mark.task_2_2
@pytest.mark.parametrize("xs,ks,stride,pad", CASES)
def test_naive_backward_matches_im2col_and_finite_differences(rng, xs, ks, stride, pad):
    x, w, b = _inputs(rng, xs, ks)
    out, fast_cache = conv2d_forward(x, w, b, stride=stride, pad=pad)
    cache = ConvCache(x.shape, x, None, w, stride, pad)  # what conv2d_forward_naive returns
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv2d_backward_naive(dout, cache)
    for got, expected in zip((dx, dw, db), conv2d_backward(dout, fast_cache)):
        assert got.shape == expected.shape
        assert rel_error(got, expected) < 1e-10
    assert rel_error(dx, numerical_gradient(lambda v: conv2d_forward(v, w, b, stride=stride, pad=pad)[0], x,
                                            dout)) < 1e-7
    assert rel_error(dw, numerical_gradient(lambda v: conv2d_forward(x, v, b, stride=stride, pad=pad)[0], w,
                                            dout)) < 1e-7
