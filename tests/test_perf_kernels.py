"""The inference fast paths against their readable twins (no timings here: see benchmarks/).

Direct 3x3 convolution and the fused P-Net strips (kernels/conv_direct.py), im2col into scratch and
as a convolution, ``Net.infer`` against ``Net.forward``, the parallel builds of the batch kernels, and
the thread settings.
"""
import numpy as np
import pytest

import tinymtcnn
from tinymtcnn import MTCNN, load_net
from tinymtcnn.detect.crops import crop_and_resize_naive
from tinymtcnn.kernels import conv_direct, resample
from tinymtcnn.kernels import im2col as k_im2col
from tinymtcnn.kernels import level as k_level
from tinymtcnn.kernels import maxpool as k_pool
from tinymtcnn.kernels import prelu as k_prelu
from tinymtcnn.nets import LNet, ONet, PNet, RNet
from tinymtcnn.threads import limit_threads


def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _pnet_args(net):
    p = net.params
    keys = [k for k in ("conv4-1", "conv4-2", "conv4-3") if f"{k}.w" in p]
    return [p["conv1.w"], p["conv1.b"], p["PReLU1.alpha"], p["conv2.w"], p["conv2.b"], p["PReLU2.alpha"],
            p["conv3.w"], p["conv3.b"], p["PReLU3.alpha"],
            np.concatenate([p[f"{k}.w"][:, :, 0, 0] for k in keys]), np.concatenate([p[f"{k}.b"] for k in keys])]


# ---------------------------------------------------------------------------- conv_direct
@pytest.mark.parametrize("c,f,h,w", [(3, 10, 12, 12), (10, 16, 5, 31), (16, 32, 9, 3), (2, 3, 3, 7)])
@pytest.mark.pipeline
def test_conv3x3_prelu_matches_twin(rng, c, f, h, w):
    x, wt, b = _f32(rng, c, h, w), _f32(rng, f, c, 3, 3), _f32(rng, f)
    alpha = rng.uniform(0, 0.5, f).astype(np.float32)
    np.testing.assert_allclose(conv_direct.conv3x3_prelu(x, wt, b, alpha),
                               conv_direct.conv3x3_prelu_naive(x, wt, b, alpha), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("h,w", [(12, 12), (13, 12), (40, 29), (97, 64)])
@pytest.mark.pipeline
def test_pnet_trunk_matches_twin_and_the_layers(rng, h, w):
    net = PNet(rng=rng)
    for _, m in net.named_modules():  # non-trivial biases and slopes
        for k, v in m.params.items():
            m.params[k] = (v + 0.1 * rng.standard_normal(v.shape)).astype(np.float32)
    args = _pnet_args(net)
    x = rng.uniform(-1, 1, (3, h, w)).astype(np.float32)
    out = conv_direct.pnet_trunk(x, *args)
    assert out.shape == (6,) + conv_direct.pnet_output_size(h, w)
    np.testing.assert_allclose(out, conv_direct.pnet_trunk_naive(x, *args), rtol=1e-5, atol=1e-5)
    ref = net.forward(x[None])
    np.testing.assert_allclose(out[:2], ref["face_logits"][0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out[2:], ref["box_reg"][0], rtol=1e-5, atol=1e-5)


def test_pnet_strips_give_the_same_bits_whatever_their_height(rng):
    args = _pnet_args(load_net("pnet"))
    hwc = rng.uniform(-1, 1, (71, 53, 3)).astype(np.float32)
    x = hwc.transpose(2, 0, 1)  # a strided view, as the pyramid levels are passed
    whole = conv_direct.pnet_trunk(np.ascontiguousarray(x), *args, rows=1000)
    for rows in (1, 2, 3, 7, 16):
        np.testing.assert_array_equal(conv_direct.pnet_trunk(x, *args, rows=rows), whole)
    with limit_threads(2):
        np.testing.assert_array_equal(conv_direct.pnet_trunk(x, *args, rows=5), whole)


# ---------------------------------------------------------------------------- im2col
@pytest.mark.parametrize("shape,k", [((3, 24, 24, 5), 3), ((4, 7, 6, 1), 2), ((2, 5, 5, 3), 1)])
def test_im2col_into_a_given_array(rng, shape, k):
    x = _f32(rng, *shape)
    ref = k_im2col.im2col_naive(x, k, k)
    out = np.full(ref.shape, np.nan, np.float32)
    assert k_im2col.im2col(x, k, k, out=out) is out
    np.testing.assert_array_equal(out, ref)


@pytest.mark.pipeline
def test_im2col_product_is_the_convolution(rng):
    x, w = _f32(rng, 3, 9, 8, 4), _f32(rng, 5, 3, 3, 2)
    y = (w.reshape(5, -1) @ k_im2col.im2col(x, 3, 2)).reshape(5, 7, 7, 4)
    ref = np.stack([conv_direct.conv3x3_prelu_naive(np.pad(x[..., n], ((0, 0), (0, 0), (0, 1))),
                                                        np.pad(w, ((0, 0), (0, 0), (0, 0), (0, 1))),
                                                        np.zeros(5, np.float32), np.ones(5, np.float32))
                    for n in range(4)], axis=-1)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------- Net.infer
@pytest.mark.parametrize("make,shape", [
    (lambda rng: PNet(rng=rng), (2, 3, 30, 41)), (lambda rng: PNet(rng=rng, landmark_head=True), (1, 3, 12, 12)),
    (lambda rng: PNet(rng=rng), (9, 3, 14, 12)),  # a batch of crops: the layers' path, not P-Net's strips
    (lambda rng: RNet(rng=rng), (5, 3, 24, 24)), (lambda rng: RNet(rng=rng, landmark_head=True), (1, 3, 24, 24)),
    (lambda rng: ONet(rng=rng), (3, 3, 48, 48)), (lambda rng: LNet(rng=rng), (2, 15, 24, 24)),
])
@pytest.mark.pipeline
def test_infer_gives_forwards_outputs(rng, make, shape):
    net = make(rng)
    x = rng.uniform(-1, 1, shape).astype(np.float32)
    ref, out = net.forward(x), net.infer(x)
    assert set(out) == set(ref)
    for k in ref:
        assert out[k].shape == ref[k].shape, k
        np.testing.assert_allclose(out[k], ref[k], rtol=1e-4, atol=1e-5, err_msg=k)


@pytest.mark.pipeline
def test_infer_with_the_authors_weights_and_float64(rng):
    for kind, side in (("pnet", 37), ("rnet", 24), ("onet", 48)):
        net = load_net(kind)
        x = rng.uniform(-1, 1, (3, 3, side, side)).astype(np.float32)
        ref, out = net.forward(x), net.infer(x)
        np.testing.assert_allclose(out["face_prob"], ref["face_prob"], atol=1e-5)
        np.testing.assert_allclose(out["box_reg"], ref["box_reg"], atol=1e-5)
        net.to(np.float64)  # the generic (non-fused) path
        np.testing.assert_allclose(net.infer(x)["box_reg"], ref["box_reg"], atol=1e-5)


@pytest.mark.pipeline
def test_infer_results_do_not_alias_scratch(rng):
    net = RNet(rng=rng)
    a = net.infer(rng.uniform(-1, 1, (4, 3, 24, 24)).astype(np.float32))
    kept = {k: v.copy() for k, v in a.items()}
    net.infer(rng.uniform(-1, 1, (4, 3, 24, 24)).astype(np.float32))
    for k in kept:
        np.testing.assert_array_equal(a[k], kept[k])


@pytest.mark.pipeline
def test_infer_in_training_mode_is_forward(rng):
    net = ONet(rng=rng).train()
    x = rng.uniform(-1, 1, (2, 3, 48, 48)).astype(np.float32)
    net.infer(x)
    net.backward({"box_reg": np.ones((2, 4), np.float32)})  # forward's caches are there


# ---------------------------------------------------------------------------- chunks on threads == one call
@pytest.fixture
def split_everything(monkeypatch):
    """Every kernel call shared out over up to 3 threads however small it is (the results must not depend
    on how the work is cut); returns the list of the item counts that the pool was given."""
    from tinymtcnn.kernels import _jit

    monkeypatch.setattr(_jit, "PARALLEL_MIN_WORK", 1)
    monkeypatch.setattr(_jit, "max_threads", lambda: 3)  # even on a 1-core machine
    handed = []
    real = _jit.parallel_map

    def spy(fn, items, n=None):
        items = list(items)
        handed.append(len(items) if (n is None or n > 1) and _jit.get_num_threads() > 1 else 1)
        return real(fn, items, n)

    monkeypatch.setattr(_jit, "parallel_map", spy)
    monkeypatch.setattr(conv_direct, "parallel_map", spy)
    return handed


def _on(threads, fn):
    with limit_threads(threads):
        return fn()


def _compare_threads(cases, handed, shared=True):
    """Each case run on 1 and on 3 threads: the 3-thread run must give the same bits and (``shared``)
    share the work out."""
    for name, run in cases.items():
        handed.clear()
        one = _on(1, run)
        assert max(handed, default=1) == 1, name  # one thread: one call
        three = _on(3, run)
        assert max(handed, default=1) > 1 or not shared, f"{name}: the work was not shared out"
        for a, b in zip(one if isinstance(one, tuple) else (one,), three if isinstance(three, tuple) else (three,)):
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_kernels_on_threads_give_the_one_thread_bits(rng, split_everything):
    img = rng.integers(0, 256, (300, 200, 3), dtype=np.uint8)
    boxes = np.array([[-5, 3, 60, 70], [100, 100, 180, 150], [1, 1, 12, 12], [5, 5, 4, 9]])
    level = (rng.uniform(-1, 1, (3, 270, 270))).astype(np.float32)
    pnet = [m.astype(np.float32) for m in conv_direct_weights(rng)]
    _compare_threads({
        "resample": lambda: resample.resample(img, 130, 77),
        "level": lambda: k_level.pyramid_level(img, 130, 77),
        "crops": lambda: resample.crop_resize(img, boxes, 24),
        "pnet strips": lambda: conv_direct.pnet_trunk(level, *pnet),
    }, split_everything)
    np.testing.assert_allclose(resample.resample(img, 130, 77), resample.resample_naive(img, 130, 77), atol=1e-4)
    np.testing.assert_allclose(resample.crop_resize(img, boxes, 24), crop_and_resize_naive(img, boxes, 24),
                               atol=1e-4)


@pytest.mark.task_2_4
def test_maxpool_on_threads_gives_the_one_thread_bits(rng, split_everything):
    # the student copy's max-pool runs the student's loops (STUDENT-FAST): nothing to share out there
    kernel = "parallel_chunks" in k_pool.maxpool_forward.__code__.co_names
    y = _f32(rng, 5, 6, 7, 3)  # (C, H, W, N)
    y[:, ::2, ::3] = 0.5  # ties
    _compare_threads({
        "maxpool": lambda: k_pool.maxpool_forward(y, 3, 2),
        "maxpool values": lambda: k_pool.maxpool_forward(y, 3, 2, argmax=False)[:1],
        "maxpool backward": lambda: (k_pool.maxpool_backward(y[:, :3, :3] * 2, k_pool.maxpool_forward(y, 3, 2)[1],
                                                             y.shape, 3, 2),),
    }, split_everything, shared=kernel)


def conv_direct_weights(rng):
    """Random P-Net trunk weights in :func:`~tinymtcnn.kernels.conv_direct.pnet_trunk`'s order."""
    shapes = [(10, 3, 3, 3), (10,), (10,), (16, 10, 3, 3), (16,), (16,), (32, 16, 3, 3), (32,), (32,), (15, 32), (15,)]
    return [rng.standard_normal(s) * 0.3 for s in shapes]


def test_thread_settings():
    before = tinymtcnn.get_num_threads()
    try:
        assert tinymtcnn.set_num_threads(1) == 1 and tinymtcnn.get_num_threads() == 1
        with limit_threads(2) as n:
            assert tinymtcnn.get_num_threads() == n == min(2, tinymtcnn.threads.max_threads())
        assert tinymtcnn.get_num_threads() == 1
        assert tinymtcnn.set_num_threads(None) == tinymtcnn.threads.max_threads()
    finally:
        tinymtcnn.set_num_threads(before)
    for bad, error in ((0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError), ("2", TypeError)):
        with pytest.raises(error):
            tinymtcnn.set_num_threads(bad)
        with pytest.raises(error):
            MTCNN(num_threads=bad)
        with pytest.raises(error):
            with limit_threads(bad):
                pass


@pytest.mark.pipeline
def test_detection_does_not_depend_on_the_thread_count():
    from tinymtcnn.io import load_image

    img = load_image(tinymtcnn.__file__.replace("__init__.py", "assets/astronaut.png"))
    one, two = MTCNN(num_threads=1).detect(img), MTCNN(num_threads=2).detect(img)
    np.testing.assert_array_equal(one.boxes, two.boxes)
    np.testing.assert_array_equal(one.landmarks, two.landmarks)


# ---------------------------------------------------------------------------- thread pool
def test_parallel_map_keeps_the_order_and_raises():
    from tinymtcnn.threads import parallel_map

    assert parallel_map(lambda v: v * v, range(7), 2) == [v * v for v in range(7)]
    assert parallel_map(abs, [], 2) == []

    def fail(v):
        if v == 3:
            raise KeyError(v)
        return v
    with pytest.raises(KeyError):
        parallel_map(fail, range(6), 2)
