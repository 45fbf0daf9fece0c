"""The four networks: structure, parameter counts, shapes, whole-net gradient checks."""
import numpy as np
import pytest

from tinymtcnn.gradcheck import numerical_gradient, random_indices, rel_error
from tinymtcnn.nets import LNet, ONet, PNet, RNet


def test_parameter_counts_match_the_spec():
    # spec §1.6: deploy nets 6,632 / 100,178 / 389,040, det4 948,102; det2's caffemodel adds conv5-3
    assert PNet().num_params() == 6632
    assert RNet().num_params() == 100178
    assert ONet().num_params() == 389040
    assert LNet().num_params() == 948102
    assert RNet(landmark_head=True).num_params() == 100178 + 1290


def test_layer_names_follow_the_prototxt():
    assert list(PNet().params)[:4] == ["conv1.w", "conv1.b", "PReLU1.alpha", "conv2.w"]
    assert "conv4-2.w" in PNet().params and "conv5-2.b" in RNet().params
    assert {"conv6-1.w", "conv6-2.w", "conv6-3.w"} <= set(ONet().params)
    assert {"conv1_5.w", "fc4.w", "fc5_3.b", "prelu4_2.alpha"} <= set(LNet().params)


@pytest.mark.parametrize("h,w", [(12, 12), (13, 12), (31, 25), (50, 77)])
@pytest.mark.pipeline
def test_pnet_output_size(h, w):
    out = PNet().forward(np.zeros((1, 3, h, w), np.float32))
    oh, ow = int(np.ceil(h / 2)) - 5, int(np.ceil(w / 2)) - 5  # spec §1.2
    assert out["face_prob"].shape == (1, oh, ow)
    assert out["box_reg"].shape == (1, 4, oh, ow)
    assert out["face_logits"].shape == (1, 2, oh, ow)


@pytest.mark.pipeline
def test_heads_and_probabilities():
    rng = np.random.default_rng(0)
    r = RNet(rng=rng).forward(rng.standard_normal((3, 3, 24, 24)).astype(np.float32))
    assert r["face_prob"].shape == (3,) and r["box_reg"].shape == (3, 4)
    assert np.all((r["face_prob"] > 0) & (r["face_prob"] < 1))
    o = ONet(rng=rng).forward(rng.standard_normal((2, 3, 48, 48)).astype(np.float32))
    assert o["landmarks"].shape == (2, 10)
    lo = LNet(rng=rng).forward(rng.standard_normal((2, 15, 24, 24)).astype(np.float32))
    assert lo["landmark_offsets"].shape == (2, 5, 2)


@pytest.mark.parametrize("net,shape", [(RNet(), (1, 3, 48, 48)), (ONet(), (1, 3, 24, 24)),
                                       (PNet(), (1, 1, 12, 12)), (LNet(), (1, 3, 24, 24))])
def test_wrong_input_shapes_are_errors(net, shape):
    with pytest.raises(ValueError, match="expects"):
        net.forward(np.zeros(shape, np.float32))


def test_load_params_reports_missing_and_misshaped():
    net, params = PNet(), dict(PNet().params)
    params.pop("conv1.b")
    params["conv2.w"] = np.zeros((1, 2, 3))
    with pytest.raises(ValueError) as e:
        net.load_params(params)
    assert "conv1.b" in str(e.value) and "conv2.w" in str(e.value)


def test_load_params_copies_and_casts():
    src = PNet(rng=np.random.default_rng(1))
    dst = PNet(dtype=np.float64).load_params(src.params)
    assert dst.params["conv1.w"].dtype == np.float64
    np.testing.assert_array_equal(dst.params["conv3.w"], src.params["conv3.w"])


def _net_gradcheck(net, x, rng, n_param_samples=6):
    """Relative errors of dL/dx and of sampled dL/dparams, L = sum_k <out_k, G_k> over all heads."""
    out = net.forward(x)
    heads = [k for k in out if k in net.heads]
    G = {k: rng.standard_normal(out[k].shape) for k in heads}

    def loss(_=None):
        o = net.forward(x)
        return sum(np.sum(o[k] * G[k]) for k in heads)

    net.forward(x)
    net.zero_grad()
    dx = net.backward(G)
    idx = random_indices(x.shape, 150, rng)
    errs = {"x": rel_error(np.array([dx[i] for i in idx]), numerical_gradient(lambda v: loss(), x, indices=idx))}
    grads = {k: v.copy() for k, v in net.grads.items()}
    for key, p in net.params.items():
        idx = random_indices(p.shape, n_param_samples, rng)
        num = numerical_gradient(lambda v: loss(), p, indices=idx)
        errs[key] = rel_error(np.array([grads[key][i] for i in idx]), num)
    return errs


@pytest.mark.parametrize("make,shape", [
    (lambda r: PNet(dtype=np.float64, rng=r, landmark_head=True), (2, 3, 15, 13)),
    (lambda r: RNet(dtype=np.float64, rng=r, landmark_head=True), (2, 3, 24, 24)),
    (lambda r: ONet(dtype=np.float64, rng=r), (1, 3, 48, 48)),
])
@pytest.mark.pipeline
def test_whole_net_backward(make, shape):
    rng = np.random.default_rng(7)
    net = make(rng)
    for _, m in net.named_modules():  # random slopes so PReLU's negative side is exercised
        if "alpha" in m.params:
            m.params["alpha"][:] = rng.uniform(0.1, 0.4, m.params["alpha"].shape)
    errs = _net_gradcheck(net, rng.standard_normal(shape), rng)
    worst = max(errs, key=errs.get)
    assert errs[worst] < 1e-5, (worst, errs[worst])


@pytest.mark.slow
@pytest.mark.pipeline
def test_lnet_backward():
    rng = np.random.default_rng(3)
    net = LNet(dtype=np.float64, rng=rng)
    x = rng.standard_normal((1, 15, 24, 24))
    out = net.forward(x)
    G = rng.standard_normal(out["landmark_offsets"].shape)
    net.zero_grad()
    dx = net.backward({"landmark_offsets": G})
    idx = random_indices(x.shape, 40, rng)
    num = numerical_gradient(lambda v: np.sum(net.forward(v)["landmark_offsets"] * G), x, indices=idx)
    assert rel_error(np.array([dx[i] for i in idx]), num) < 1e-5
    p = net.params["conv2_4.w"]
    idx = random_indices(p.shape, 10, rng)
    num = numerical_gradient(lambda v: np.sum(net.forward(x)["landmark_offsets"] * G), p, indices=idx)
    assert rel_error(np.array([net.grads["conv2_4.w"][i] for i in idx]), num) < 1e-5


@pytest.mark.pipeline
def test_dropout_only_in_training():
    net = ONet(rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((2, 3, 48, 48)).astype(np.float32)
    a, b = net.forward(x)["landmarks"], net.forward(x)["landmarks"]
    np.testing.assert_array_equal(a, b)
    net.train()
    assert not np.array_equal(net.forward(x)["landmarks"], a)
    net.eval()
    np.testing.assert_array_equal(net.forward(x)["landmarks"], a)


def test_modules_have_matching_params_and_grads_and_repr():
    net = ONet()
    for name, m in net.named_modules():
        assert set(m.params) == set(m.grads), name
        assert repr(m).startswith(type(m).__name__)
    assert "389,040 parameters" in repr(net)


def test_backward_before_forward_is_an_error():
    with pytest.raises(RuntimeError):
        PNet().backward({"box_reg": np.zeros((1, 4, 1, 1), np.float32)})


@pytest.mark.pipeline
def test_empty_batch_gives_empty_outputs():
    out = ONet().forward(np.zeros((0, 3, 48, 48), np.float32))
    assert out["face_prob"].shape == (0,) and out["landmarks"].shape == (0, 10)


def test_a_gradient_of_the_wrong_shape_is_an_error_not_a_replacement():
    from tinymtcnn.layers.modules import Conv2d

    conv = Conv2d(3, 4, 3, rng=np.random.default_rng(0))
    conv.zero_grad()
    conv._accumulate(w=np.ones_like(conv.params["w"]))
    conv._accumulate(w=np.ones_like(conv.params["w"]))
    assert np.all(conv.grads["w"] == 2)
    with pytest.raises(ValueError, match=r"Conv2d: gradient 'w' has shape \(5, 3, 3, 3\), the one held has \(4, 3, 3, 3\)"):
        conv._accumulate(w=np.ones((5, 3, 3, 3)))
    assert np.all(conv.grads["w"] == 2)


@pytest.mark.pipeline
def test_lnet_shares_the_head_code_and_skips_the_input_gradient_on_request():
    rng = np.random.default_rng(5)
    net = LNet(dtype=np.float64, rng=rng)
    x = rng.standard_normal((2, 15, 24, 24))
    g = {"landmark_offsets": rng.standard_normal((2, 5, 2))}
    net.forward(x)
    net.zero_grad()
    dx = net.backward(g)
    full = {k: v.copy() for k, v in net.grads.items()}
    net.forward(x)
    net.zero_grad()
    assert net.backward(g, input_grad=False) is None
    for k, v in net.grads.items():
        np.testing.assert_allclose(v, full[k], rtol=1e-12, atol=1e-12, err_msg=k)
    assert dx.shape == x.shape
    with pytest.raises(ValueError, match="no head named"):
        net.backward({"face_logits": np.zeros((2, 2))})
    # infer() takes forward()'s road without keeping caches: a backward() after it still uses forward()'s
    np.testing.assert_allclose(net.infer(x[:1])["landmark_offsets"], net.forward(x)["landmark_offsets"][:1],
                               rtol=1e-12, atol=1e-14)
    net.forward(x)
    caches = [m.cache for _, m in net.named_modules()]
    net.infer(x[:1])
    assert all(m.cache is c for (_, m), c in zip(net.named_modules(), caches))
