"""The training fast paths against their readable twins (no timings here: see benchmarks/).

Layout kernels of the batch-wide convolution (kernels/im2col_batch.py), the max-pool kernels
on MTCNN's windows, serial and parallel builds, and ``backward(..., input_grad=False)`` (the
parameter gradients without the input's).
"""
import numpy as np
import pytest
from _grading_asserts import assert_close, seed_repro

from tinymtcnn.kernels import im2col_batch
from tinymtcnn.kernels import maxpool as k_pool
from tinymtcnn.layers import conv2d_backward, conv2d_forward, conv2d_forward_naive
from tinymtcnn.nets import ONet, PNet, RNet
from tinymtcnn.threads import limit_threads


@pytest.mark.parametrize("shape", [(3, 4, 5), (1, 1, 1), (5, 2, 7)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_columns_to_batch_and_back_match_twins(rng, shape, dtype):
    y = rng.standard_normal(shape).astype(dtype)  # (F, N, S)
    b = rng.standard_normal(shape[0]).astype(dtype)
    np.testing.assert_array_equal(im2col_batch.columns_to_batch(y, b), im2col_batch.columns_to_batch_reference(y, b))
    g = rng.standard_normal((shape[1], shape[0], shape[2])).astype(dtype)  # (N, F, S)
    cols, db = im2col_batch.batch_to_columns(g)
    cols_r, db_r = im2col_batch.batch_to_columns_reference(g)
    np.testing.assert_array_equal(cols, cols_r)
    assert db.dtype == dtype
    np.testing.assert_allclose(db, db_r, rtol=1e-6, atol=1e-6)
    # with a PReLU after the convolution
    alpha = rng.uniform(0, 0.5, shape[0]).astype(dtype)
    for got, want in zip(im2col_batch.columns_to_batch(y, b, alpha=alpha),
                         im2col_batch.columns_to_batch_reference(y, b, alpha)):
        np.testing.assert_array_equal(got, want)
    x = rng.standard_normal(g.shape).astype(dtype)
    got, want = im2col_batch.batch_to_columns(g, x, alpha), im2col_batch.batch_to_columns_reference(g, x, alpha)
    np.testing.assert_array_equal(got[0], want[0])
    for a, b_ in zip(got[1:], want[1:]):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b_, rtol=1e-6, atol=1e-6)


@pytest.mark.pipeline
def test_fused_conv_prelu_equals_the_two_modules(rng):
    from tinymtcnn.layers import Conv2d, PReLU
    from tinymtcnn.layers.modules import conv_prelu_backward, conv_prelu_forward

    conv, act = Conv2d(3, 6, 3, rng=rng), PReLU(6)
    act.params["alpha"][:] = rng.uniform(0.1, 0.4, 6)
    x = rng.standard_normal((5, 3, 14, 13)).astype(np.float32)
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
    """Groups/chunks of images on 2 threads (parallel_map) give exactly the 1-thread results."""
    from tinymtcnn.layers import conv as conv_layer
    from tinymtcnn.layers import maxpool2d_backward, maxpool2d_forward

    monkeypatch.setattr(conv_layer, "GROUP_COLUMNS", 64)  # many small groups
    monkeypatch.setattr("tinymtcnn.layers.pool.PARALLEL_MIN_WORK", 1)  # chunk even a small batch
    x = rng.standard_normal((7, 4, 13, 11)).astype(np.float32)
    w, b = rng.standard_normal((5, 4, 3, 3)).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    g = rng.standard_normal((7, 5, 11, 9)).astype(np.float32)
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
def test_maxpool_keys_and_plain_loop_agree(rng):
    x = rng.standard_normal((3, 5, 11, 9)).astype(np.float32)
    x[:, :, ::3, ::2] = -0.0
    x[:, :, 1::3, ::2] = 0.0  # -0.0 and 0.0 tie: the first one wins
    for kernel, stride in ((3, 2), (2, 2), (3, 3)):
        out, arg = k_pool.maxpool_output_arrays(x.shape, kernel, stride)
        k_pool._maxpool_forward_loop(x.view(np.int32), kernel, stride, out.view(np.int32), arg, True)
        out2, arg2 = k_pool.maxpool_output_arrays(x.shape, kernel, stride)
        k_pool._maxpool_forward_loop(x, kernel, stride, out2, arg2, False)
        np.testing.assert_array_equal(out, out2)
        np.testing.assert_array_equal(arg, arg2)
        assert_close(f"argmax of maxpool_forward_reference (kernel {kernel}, stride {stride})",
                     np.asarray(k_pool.maxpool_forward_reference(x, kernel, stride)[1]).astype(arg.dtype), arg,
                     rtol=0, atol=0,
                     repro=seed_repro(1234, "x = rng.standard_normal((3, 5, 11, 9)).astype(np.float32); "
                                                           "x[:, :, ::3, ::2] = -0.0; x[:, :, 1::3, ::2] = 0.0"))


@pytest.mark.parametrize("shape,kernel,stride", [
    ((4, 6, 46, 46), 3, 2), ((3, 5, 21, 21), 3, 2), ((2, 4, 8, 8), 2, 2), ((2, 3, 11, 11), 2, 2),
    ((2, 3, 9, 7), 3, 3), ((1, 2, 6, 5), 4, 1),
])
@pytest.mark.pipeline
def test_maxpool_kernels_on_mtcnn_windows_match_twins(rng, shape, kernel, stride):
    x = rng.standard_normal(shape).astype(np.float32)
    x[..., ::2, 1::3] = 0.75  # ties: the first maximum in row-major order wins
    out, arg = k_pool.maxpool_forward(x, kernel, stride)
    out_r, arg_r = k_pool.maxpool_forward_reference(x, kernel, stride)
    np.testing.assert_array_equal(out, out_r)
    np.testing.assert_array_equal(arg, arg_r)
    d = rng.standard_normal(out.shape).astype(np.float32)
    np.testing.assert_allclose(k_pool.maxpool_backward(d, arg, shape),
                               k_pool.maxpool_backward_reference(d, arg_r, shape), rtol=1e-6)


@pytest.mark.parametrize("forward", [conv2d_forward, conv2d_forward_naive])
@pytest.mark.pipeline
def test_conv_backward_without_input_gradient(rng, forward):
    backward = conv2d_backward
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
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
