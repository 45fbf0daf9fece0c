"""Layers: fast vs naive agreement (float64, 1e-10 relative) and gradient checks.

In the student copy the fast layers call the student's naive functions (STUDENT-FAST): tests of one
task carry its marker; the fast-vs-naive comparisons of the convolution need tasks 2.1 and 2.2
together there and are marked ``pipeline``.
"""
import numpy as np
import pytest
from _grading_asserts import assert_close, fixture_repro, seed_repro

from tinymtcnn.gradcheck import numerical_gradient, rel_error
from tinymtcnn.layers import (conv2d_backward, conv2d_backward_naive, conv2d_forward, conv2d_forward_naive,
                              linear_backward, linear_backward_naive, linear_forward, linear_forward_naive,
                              maxpool2d_backward, maxpool2d_backward_naive, maxpool2d_forward,
                              maxpool2d_forward_naive, pool_output_size, prelu_backward, prelu_backward_naive,
                              prelu_forward, prelu_forward_naive, softmax, softmax_cross_entropy)
from tinymtcnn.kernels.maxpool import maxpool_backward_naive, maxpool_forward_naive

# (C, H, W, N) (the layers' batch-innermost layout), (F, KH, KW), stride, pad: non-square kernels and
# inputs, odd sizes, stride 2, padding
CONV_CASES = [
    ((3, 7, 7, 2), (4, 3, 3), 1, 0),
    ((2, 9, 6, 1), (3, 2, 3), 1, 1),
    ((3, 11, 8, 2), (2, 3, 2), 2, 0),
    ((4, 5, 5, 1), (5, 1, 1), 1, 0),
    ((1, 10, 13, 2), (2, 4, 3), 2, 2),
    ((3, 12, 12, 1), (10, 3, 3), 1, 0),  # P-Net conv1 on one window
]


def _conv_inputs(rng, xs, ks, dtype=np.float64):
    c, h, w, n = xs
    f, kh, kw = ks
    return (rng.standard_normal(xs).astype(dtype), rng.standard_normal((f, c, kh, kw)).astype(dtype),
            rng.standard_normal(f).astype(dtype))


@pytest.mark.parametrize("xs,ks,stride,pad", CONV_CASES)
@pytest.mark.pipeline
def test_conv_fast_matches_naive(rng, xs, ks, stride, pad):
    x, w, b = _conv_inputs(rng, xs, ks)
    out_f, cache_f = conv2d_forward(x, w, b, stride=stride, pad=pad)
    out_n, cache_n = conv2d_forward_naive(x, w, b, stride=stride, pad=pad)
    assert out_f.shape == out_n.shape == (ks[0], (xs[1] + 2 * pad - ks[1]) // stride + 1,
                                          (xs[2] + 2 * pad - ks[2]) // stride + 1, xs[3])
    assert rel_error(out_f, out_n) < 1e-10
    dout = rng.standard_normal(out_f.shape)
    for a, b_ in zip(conv2d_backward(dout, cache_f), conv2d_backward_naive(dout, cache_n)):
        assert rel_error(a, b_) < 1e-10


@pytest.mark.parametrize("xs,ks,stride,pad", CONV_CASES)
@pytest.mark.parametrize("naive", [False, True])
@pytest.mark.pipeline
def test_conv_gradients(rng, xs, ks, stride, pad, naive):
    fwd, bwd = (conv2d_forward_naive, conv2d_backward_naive) if naive else (conv2d_forward, conv2d_backward)
    x, w, b = _conv_inputs(rng, xs, ks)
    out, cache = fwd(x, w, b, stride=stride, pad=pad)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = bwd(dout, cache)
    assert rel_error(dx, numerical_gradient(lambda v: fwd(v, w, b, stride=stride, pad=pad)[0], x, dout)) < 1e-7
    assert rel_error(dw, numerical_gradient(lambda v: fwd(x, v, b, stride=stride, pad=pad)[0], w, dout)) < 1e-7
    assert rel_error(db, numerical_gradient(lambda v: fwd(x, w, v, stride=stride, pad=pad)[0], b, dout)) < 1e-7


@pytest.mark.task_2_1
def test_conv_known_values():
    # a 1-channel 3x3 ramp convolved with a 2x2 kernel of ones sums 2x2 blocks
    x = np.arange(9, dtype=np.float64).reshape(1, 3, 3, 1)
    out, _ = conv2d_forward(x, np.ones((1, 1, 2, 2)), np.array([0.5]))
    np.testing.assert_array_equal(out[0, :, :, 0], [[8.5, 12.5], [20.5, 24.5]])


@pytest.mark.task_2_1
def test_conv_float32_keeps_dtype(rng):
    x, w, b = _conv_inputs(rng, (3, 8, 8, 1), (2, 3, 3), np.float32)
    out, _ = conv2d_forward(x, w, b)
    assert out.dtype == np.float32
    ref, _ = conv2d_forward_naive(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64))
    assert_close("out (float32 input vs float64)", out.astype(np.float64), ref, rtol=0, atol=1e-5,
                 repro=seed_repro(1234, "x, w, b = (rng.standard_normal(s).astype(np.float32) for s in "
                                        "((3, 8, 8, 1), (2, 3, 3, 3), (2,)))"))


@pytest.mark.parametrize("bad, err", [
    (dict(x=np.zeros((3, 8, 8))), ValueError),
    (dict(x=np.zeros((2, 8, 8, 1))), ValueError),
    (dict(x=np.zeros((3, 8, 8, 1), dtype=np.int32)), TypeError),
    (dict(x=np.zeros((3, 2, 2, 1))), ValueError),
    (dict(b=np.zeros(3)), ValueError),
    (dict(stride=0), ValueError),
    (dict(pad=-1), ValueError),
])
def test_conv_bad_arguments(bad, err):
    args = dict(x=np.zeros((3, 8, 8, 1)), w=np.zeros((2, 3, 3, 3)), b=np.zeros(2), stride=1, pad=0)
    args.update(bad)
    with pytest.raises(err):
        conv2d_forward(args["x"], args["w"], args["b"], stride=args["stride"], pad=args["pad"])


def _away_from_zero(rng, shape):
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < 0.05, np.sign(x + 1e-12) * 0.05 + x, x)  # keep the kink out of reach of h


@pytest.mark.parametrize("shape", [(3, 4, 5, 2), (6, 4)])  # (C, H, W, N); (C, N) after a linear layer
@pytest.mark.parametrize("naive", [False, True])
@pytest.mark.task_2_3
def test_prelu(rng, shape, naive):
    fwd, bwd = (prelu_forward_naive, prelu_backward_naive) if naive else (prelu_forward, prelu_backward)
    x = _away_from_zero(rng, shape)
    alpha = rng.uniform(0.05, 0.5, shape[0])
    repro = seed_repro(1234, f"x = rng.standard_normal({shape}); x = np.where(np.abs(x) < 0.05, "
                             f"np.sign(x + 1e-12) * 0.05 + x, x); alpha = rng.uniform(0.05, 0.5, {shape[0]}); "
                             f"dout = rng.standard_normal({shape})")
    out, cache = fwd(x, alpha)
    a = alpha.reshape((-1,) + (1,) * (x.ndim - 1))
    assert_close("out", out, np.maximum(x, 0) + a * np.minimum(x, 0), rtol=0, atol=1e-15, repro=repro)
    dout = rng.standard_normal(shape)
    dx, dalpha = bwd(dout, cache)
    # the formulas of the module docstring (the function is linear on each side of 0: the expected
    # values are exact); a finite-difference check of the whole thing follows
    assert_close("dx", dx, np.where(x > 0, dout, a * dout), rtol=1e-12, atol=1e-15, repro=repro)
    axes = tuple(range(1, x.ndim))
    assert_close("dalpha", dalpha, np.where(x > 0, 0, dout * x).sum(axis=axes), rtol=1e-10, atol=1e-12,
                 repro=repro)
    assert_close("dx (vs finite differences)", dx, numerical_gradient(lambda v: fwd(v, alpha)[0], x, dout),
                 rtol=1e-6, atol=1e-8, repro=repro)


def test_prelu_channel_mismatch():
    with pytest.raises(ValueError, match="channels"):
        prelu_forward(np.zeros((3, 2, 2, 1)), np.zeros(4))


@pytest.mark.parametrize("size,kernel,stride,expected", [
    (10, 2, 2, 5), (22, 3, 2, 11), (9, 3, 2, 4), (46, 3, 2, 23), (21, 3, 2, 10), (8, 2, 2, 4),
    (11, 2, 2, 6), (5, 3, 2, 2), (4, 3, 2, 2), (3, 3, 2, 1),
])
def test_pool_output_size_is_caffe_ceil(size, kernel, stride, expected):
    assert pool_output_size(size, kernel, stride) == expected


def test_pool_floor_mode_differs():
    assert pool_output_size(9, 3, 2, ceil_mode=False) == 4 - 0  # floor((9-3)/2)+1 = 4
    assert pool_output_size(10, 3, 2, ceil_mode=False) == 4 and pool_output_size(10, 3, 2) == 5


def _tie_free(rng, shape):
    return rng.permutation(np.prod(shape)).reshape(shape).astype(np.float64) * 0.01 + rng.uniform(0, 1e-3, shape)


@pytest.mark.parametrize("shape,kernel,stride", [
    ((3, 9, 9, 2), 3, 2),      # (C, H, W, N); last window hangs off the edge
    ((2, 11, 7, 1), 3, 2),     # non-square, both axes hang
    ((2, 10, 10, 2), 2, 2),
    ((3, 7, 6, 1), 2, 2),      # odd height: last 2x2 window has one row
    ((1, 22, 22, 1), 3, 2),
])
@pytest.mark.parametrize("naive", [False, True])
@pytest.mark.task_2_4
def test_maxpool(rng, shape, kernel, stride, naive):
    fwd, bwd = (maxpool2d_forward_naive, maxpool2d_backward_naive) if naive else (maxpool2d_forward, maxpool2d_backward)
    x = _tie_free(rng, shape)
    repro = seed_repro(1234, f"x = rng.permutation({np.prod(shape)}).reshape({shape}) * 0.01 + "
                             f"rng.uniform(0, 1e-3, {shape}); {fwd.__name__}(x, kernel={kernel}, stride={stride})")
    out, cache = fwd(x, kernel=kernel, stride=stride)
    oh, ow = pool_output_size(shape[1], kernel, stride), pool_output_size(shape[2], kernel, stride)
    # every window's maximum (the last ones hang over the edge and take the max of the cells that exist)
    expected = np.array([[[[x[c, oy * stride:oy * stride + kernel, ox * stride:ox * stride + kernel, n].max()
                            for n in range(shape[3])] for ox in range(ow)] for oy in range(oh)]
                         for c in range(shape[0])])
    assert_close("out", out, expected, rtol=0, atol=0, repro=repro)
    dout = rng.standard_normal(out.shape)
    dx = bwd(dout, cache)
    assert_close("dx (vs finite differences)", dx,
                 numerical_gradient(lambda v: fwd(v, kernel=kernel, stride=stride)[0], x, dout),
                 rtol=1e-6, atol=1e-8, repro=repro + "; dout = rng.standard_normal(out.shape)")


@pytest.mark.task_2_4
@pytest.mark.parametrize("case", range(6))
def test_maxpool_committed_cases(fixtures_dir, case):
    d = np.load(fixtures_dir / "task_cases.npz")
    c = {k.split("/")[2]: d[k] for k in d.files if k.startswith(f"maxpool/{case}/")}
    kernel, stride = int(c["kernel"]), int(c["stride"])
    repro = fixture_repro("maxpool", case) + "; from tinymtcnn.kernels.maxpool import *; " \
                                             "maxpool_forward_naive(case['x'], int(case['kernel']), " \
                                             "int(case['stride']))"
    out, argmax = maxpool_forward_naive(c["x"], kernel, stride)
    assert_close("out", out, c["out"], rtol=0, atol=0, repro=repro)
    assert_close("argmax", np.asarray(argmax).astype(np.int64), c["argmax"], rtol=0, atol=0, repro=repro)
    dx = maxpool_backward_naive(c["dout"], c["argmax"], c["x"].shape)
    assert_close("dx", dx, c["dx"], rtol=1e-12, atol=1e-15,
                 repro=fixture_repro("maxpool", case) + "; maxpool_backward_naive(case['dout'], case['argmax'], "
                                                        "case['x'].shape)")


@pytest.mark.task_2_4
def test_maxpool_ties_go_to_first_maximum():
    x = np.zeros((1, 2, 2, 1))
    out, cache = maxpool2d_forward(x, kernel=2, stride=2)
    dx = maxpool2d_backward(np.ones_like(out), cache)
    assert_close("dx (a tie goes to the first cell in row-major order)", dx[0, :, :, 0],
                 np.array([[1.0, 0], [0, 0]]), rtol=0, atol=0,
                 repro="x = np.zeros((1, 2, 2, 1)); maxpool_forward_naive(x, 2, 2)")


@pytest.mark.parametrize("naive", [False, True])
def test_linear(rng, naive):
    fwd, bwd = (linear_forward_naive, linear_backward_naive) if naive else (linear_forward, linear_backward)
    x, w, b = rng.standard_normal((7, 5)), rng.standard_normal((3, 7)), rng.standard_normal(3)  # x (I, N)
    out, cache = fwd(x, w, b)
    np.testing.assert_allclose(out, w @ x + b[:, None], rtol=1e-12)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = bwd(dout, cache)
    assert rel_error(dx, numerical_gradient(lambda v: fwd(v, w, b)[0], x, dout)) < 1e-7
    assert rel_error(dw, numerical_gradient(lambda v: fwd(x, v, b)[0], w, dout)) < 1e-7
    assert rel_error(db, numerical_gradient(lambda v: fwd(x, w, v)[0], b, dout)) < 1e-7
    for g1, g2 in zip((dx, dw, db), (linear_backward_naive if not naive else linear_backward)(dout, cache)):
        assert rel_error(g1, g2) < 1e-10


def test_linear_shape_error():
    with pytest.raises(ValueError, match="features"):
        linear_forward(np.zeros((5, 2)), np.zeros((3, 4)), np.zeros(3))


def test_softmax_is_stable_and_normalised(rng):
    x = rng.standard_normal((4, 2, 3, 3)) * 1000
    p = softmax(x, axis=1)
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_softmax_cross_entropy(rng, reduction):
    logits = rng.standard_normal((6, 3)) * 3
    labels = rng.integers(0, 3, 6)
    loss, grad = softmax_cross_entropy(logits, labels, reduction=reduction)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    per = -np.log(p[np.arange(6), labels])
    expected = {"mean": per.mean(), "sum": per.sum(), "none": per}[reduction]
    np.testing.assert_allclose(loss, expected, rtol=1e-12)
    total = (lambda v: softmax_cross_entropy(v, labels, reduction=reduction)[0].sum())
    assert rel_error(grad if reduction != "none" else grad, numerical_gradient(total, logits)) < 1e-7
    huge, _ = softmax_cross_entropy(np.array([[1000.0, -1000.0]]), np.array([1]))
    assert np.isfinite(huge) and abs(huge - 2000.0) < 1e-9


def test_softmax_cross_entropy_bad_labels():
    with pytest.raises(ValueError):
        softmax_cross_entropy(np.zeros((2, 2)), np.array([0, 2]))
    with pytest.raises(ValueError):
        softmax_cross_entropy(np.zeros((2, 2)), np.array([0.0, 1.0]))


@pytest.mark.parametrize("value, ndim, error", [
    ([[1.0]], 2, TypeError),                                  # not an array
    (np.zeros((2, 2), dtype=np.int64), 2, TypeError),         # not float
    (np.zeros((2, 2), dtype=np.complex128), 2, TypeError),    # complex is not float either
    (np.zeros((2, 2, 2)), 2, ValueError),                     # wrong rank
    (np.zeros((2, 2, 2)), (2, 4), ValueError),                # none of the allowed ranks
])
def test_check_array_refuses_what_the_layers_cannot_take(value, ndim, error):
    from tinymtcnn.layers._checks import check_array

    with pytest.raises(error, match="x "):
        check_array("x", value, ndim)
    for ok, rank in ((np.zeros((2, 2), np.float32), 2), (np.zeros((1, 2, 3, 4)), (2, 4)), (np.zeros(3), None)):
        check_array("x", ok, rank)  # float arrays of an allowed rank pass


@pytest.mark.pipeline  # (the last lines run the student's convolution and PReLU in the student copy)
def test_conv_prelu_refuses_slopes_that_do_not_match_the_filters(rng):
    from tinymtcnn.layers.conv import conv2d_prelu_forward

    x, w, b = rng.standard_normal((3, 8, 8, 2)), rng.standard_normal((4, 3, 3, 3)), np.zeros(4)
    for alpha, error in ((np.zeros(3), ValueError), (np.zeros((4, 1)), ValueError), (np.zeros(4, int), TypeError)):
        with pytest.raises(error, match="alpha"):
            conv2d_prelu_forward(x, w, b, alpha)
    act, pre, _ = conv2d_prelu_forward(x, w, b, np.full(4, 0.25))
    np.testing.assert_allclose(act, np.where(pre > 0, pre, 0.25 * pre), rtol=1e-12)
