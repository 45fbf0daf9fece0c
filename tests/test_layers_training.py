"""The training fast paths against their readable twins (no timings here: see benchmarks/).

The bias+PReLU kernels of the convolution (kernels/prelu.py), the max-pool kernels on MTCNN's
windows, serial and parallel builds, and ``backward(..., input_grad=False)`` (the parameter
gradients without the input's). Layers work on ``(C, H, W, N)``; nets take ``(N, C, H, W)``.
"""
import numpy as np
import pytest
from _grading_asserts import assert_close, seed_repro

from tinymtcnn.kernels import maxpool as k_pool
from tinymtcnn.kernels import prelu as k_prelu
from tinymtcnn.layers import conv2d_backward, conv2d_forward, conv2d_forward_naive
from tinymtcnn.nets import ONet, PNet, RNet
from tinymtcnn.threads import limit_threads


@pytest.mark.parametrize("shape", [(3, 20), (1, 1), (5, 77)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("with_alpha", [pytest.param(True, marks=pytest.mark.task_2_3), False])  # (the student's PReLU)
def test_bias_prelu_kernels_match_twins(rng, shape, dtype, with_bias, with_alpha):
    y = rng.standard_normal(shape).astype(dtype)  # (F, M): a product's rows
    y[:, ::4] = 0.0  # the kink: there the slope side is taken (pre <= 0)
    b = rng.standard_normal(shape[0]).astype(dtype) if with_bias else None
    alpha = rng.uniform(0, 0.5, shape[0]).astype(dtype) if with_alpha else None
    pre_r, act_r = k_prelu.bias_prelu_naive(y, b, alpha)
    y2 = y.copy()
    pre, act = k_prelu.bias_prelu(y2, b, alpha, out=np.empty_like(y))
    assert pre is y2  # in place
    np.testing.assert_array_equal(pre, pre_r)
    np.testing.assert_array_equal(act, act_r)
    g = rng.standard_normal(shape).astype(dtype)
    got, want = k_prelu.bias_prelu_backward(g, pre, alpha), k_prelu.bias_prelu_backward_naive(g, pre_r, alpha)
    np.testing.assert_array_equal(got[0], want[0])
    for a, b_ in zip(got[1:], want[1:]):
        if b_ is None:
            assert a is None
            continue
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b_, rtol=1e-6, atol=1e-6)


@pytest.mark.pipeline
def test_fused_conv_prelu_equals_the_two_modules(rng):
    from tinymtcnn.layers import Conv2d, PReLU
    from tinymtcnn.layers.modules import conv_prelu_backward, conv_prelu_forward

    conv, act = Conv2d(3, 6, 3, rng=rng), PReLU(6)
    act.params["alpha"][:] = rng.uniform(0.1, 0.4, 6)
    x = rng.standard_normal((3, 14, 13, 5)).astype(np.float32)
    out = act.forward(conv.forward(x))
    g = rng.standard_normal(out.shape).astype(np.float32)
    dx = conv.backward(act.backward(g))
    grads = {**conv.grads, "alpha": act.grads["alpha"]}
    conv.zero_grad(), act.zero_grad()
    np.testing.assert_array_equal(conv_prelu_forward(conv, act, x), out)
    np.testing.assert_allclose(conv_prelu_backward(conv, act, g), dx, rtol=1e-5, atol=1e-6)
    for k, v in {**conv.grads, "alpha": act.grads["alpha"]}.items():
        np.testing.assert_allclose(v, grads[k], rtol=1e-4, atol=1e-5, err_msg=k)


@pytest.mark.parametrize("layer", ["conv", "pool"])
@pytest.mark.pipeline
def test_training_layers_give_the_same_bits_whatever_the_thread_count(rng, layer, monkeypatch):
    """Bands of output rows on the threads (the products, the weight gradient's sum, the input
    gradient's phases) and parallel kernel builds on 2 threads give exactly the 1-thread results."""
    from tinymtcnn.layers import conv as conv_layer
    from tinymtcnn.layers import maxpool2d_backward, maxpool2d_forward

    monkeypatch.setattr("tinymtcnn.threads.MATMUL_MIN_WORK", 1)  # bands on the threads even here
    monkeypatch.setattr(conv_layer, "BAND_BYTES", 1)  # one output row per band: many bands, phases for dx
    monkeypatch.setattr("tinymtcnn.kernels._jit.PARALLEL_MIN_WORK", 1)  # the parallel builds even here
    x = rng.standard_normal((4, 13, 11, 7)).astype(np.float32)
    w, b = rng.standard_normal((5, 4, 3, 3)).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    g = rng.standard_normal((5, 11, 9, 7)).astype(np.float32)
    results = []
    for threads in (1, 2):
        with limit_threads(threads, blas=1):  # (several threads only where BLAS has one)
            if layer == "conv":
                out, cache = conv_layer.conv2d_forward(x, w, b)
                results.append((out,) + conv_layer.conv2d_backward(g, cache))
            else:
                out, cache = maxpool2d_forward(x, kernel=3, stride=2)
                results.append((out, cache.argmax, maxpool2d_backward(out * 2, cache)))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.task_2_4
def test_maxpool_kernel_breaks_ties_between_zeros_as_the_twin(rng):
    x = rng.standard_normal((5, 11, 9, 3)).astype(np.float32)
    x[:, ::3, ::2] = -0.0
    x[:, 1::3, ::2] = 0.0  # -0.0 and 0.0 tie: the first one wins
    for kernel, stride in ((3, 2), (2, 2), (3, 3)):
        out, arg = k_pool.maxpool_forward(x, kernel, stride)
        assert_close(f"argmax of maxpool_forward_naive (kernel {kernel}, stride {stride})",
                     np.asarray(k_pool.maxpool_forward_naive(x, kernel, stride)[1]).astype(arg.dtype), arg,
                     rtol=0, atol=0,
                     repro=seed_repro(1234, "x = rng.standard_normal((5, 11, 9, 3)).astype(np.float32); "
                                            "x[:, ::3, ::2] = -0.0; x[:, 1::3, ::2] = 0.0"))


@pytest.mark.parametrize("shape,kernel,stride", [
    ((6, 46, 46, 4), 3, 2), ((5, 21, 21, 3), 3, 2), ((4, 8, 8, 2), 2, 2), ((3, 11, 11, 2), 2, 2),
    ((3, 9, 7, 2), 3, 3), ((2, 6, 5, 1), 4, 1),
])
@pytest.mark.pipeline
def test_maxpool_kernels_on_mtcnn_windows_match_twins(rng, shape, kernel, stride):
    x = rng.standard_normal(shape).astype(np.float32)
    x[:, ::2, 1::3] = 0.75  # ties: the first maximum in row-major order wins
    out, arg = k_pool.maxpool_forward(x, kernel, stride)
    out_r, arg_r = k_pool.maxpool_forward_naive(x, kernel, stride)
    np.testing.assert_array_equal(out, out_r)
    np.testing.assert_array_equal(arg, arg_r)
    values, none = k_pool.maxpool_forward(x, kernel, stride, argmax=False)  # inference: no positions
    np.testing.assert_array_equal(values, out_r)
    assert none is None
    d = rng.standard_normal(out.shape).astype(np.float32)
    np.testing.assert_allclose(k_pool.maxpool_backward(d, arg, shape, kernel, stride),
                               k_pool.maxpool_backward_naive(d, arg_r, shape), rtol=1e-6)


@pytest.mark.parametrize("forward", [conv2d_forward, conv2d_forward_naive])
@pytest.mark.pipeline
def test_conv_backward_without_input_gradient(rng, forward):
    backward = conv2d_backward
    x, w, b = rng.standard_normal((3, 7, 6, 2)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    out, cache = forward(x, w, b, stride=1, pad=1)
    g = rng.standard_normal(out.shape)
    dx, dw, db = backward(g, cache)
    none, dw2, db2 = backward(g, cache, input_grad=False)
    assert dx.shape == x.shape and none is None
    np.testing.assert_array_equal(dw2, dw)
    np.testing.assert_array_equal(db2, db)


@pytest.mark.parametrize("make,side", [(lambda r: PNet(rng=r, landmark_head=True), 12),
                                       (lambda r: RNet(rng=r, landmark_head=True), 24),
                                       (lambda r: ONet(rng=r), 48)])
@pytest.mark.pipeline
def test_net_backward_without_input_gradient_gives_the_same_parameter_gradients(rng, make, side):
    net = make(rng).train()
    for _, m in net.named_modules():
        if hasattr(m, "rng"):  # dropout: the same mask in both passes
            m.p = 0.0
    x = rng.standard_normal((5, 3, side, side)).astype(np.float32)
    out = net.forward(x)
    grads = {k: rng.standard_normal(out[k].shape).astype(np.float32) for k in net.heads}
    net.zero_grad()
    dx = net.backward(grads)
    full = {k: v.copy() for k, v in net.grads.items()}
    net.zero_grad()
    assert net.backward(grads, input_grad=False) is None
    assert dx.shape == x.shape
    for k, v in net.grads.items():
        np.testing.assert_array_equal(v, full[k], err_msg=k)
