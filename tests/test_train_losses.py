"""Joint MTCNN loss (spec §8.4): values against direct formulas, masks, OHEM, float64 gradient checks."""
import numpy as np
import pytest
from _grading_asserts import assert_close, seed_repro

from tinymtcnn.gradcheck import numerical_gradient, random_indices, rel_error
from tinymtcnn.nets import PNet
from tinymtcnn.train.losses import TASK_WEIGHTS, classification_loss, joint_loss, squared_l2_loss

LABELS = np.array([1, 0, -1, -2, 0, 1, 0, -2, -1, 0, 1, 0])


def _outputs(rng, n, pnet_shape=False):
    out = {"face_logits": rng.normal(size=(n, 2)) * 2, "box_reg": rng.normal(size=(n, 4)) * 0.3,
           "landmarks": rng.normal(size=(n, 10)) * 0.3}
    if pnet_shape:
        out = {k: v[:, :, None, None] for k, v in out.items()}
    return out


def _batch(rng, labels):
    n = len(labels)
    return {"labels": labels, "boxes": rng.normal(size=(n, 4)) * 0.2, "landmarks": rng.uniform(size=(n, 10))}


def _ce(z, y):
    """-log softmax(z)[y], written out for two classes."""
    m = z.max()
    return -(z[y] - m - np.log(np.exp(z[0] - m) + np.exp(z[1] - m)))


@pytest.mark.task_6_1
def test_classification_without_ohem_is_mean_ce_over_pos_and_neg(rng):
    z = rng.normal(size=(len(LABELS), 2))
    loss, grad, kept = classification_loss(z, LABELS, ohem=None)
    valid = [i for i, y in enumerate(LABELS) if y in (0, 1)]
    repro = seed_repro(1234, f"z = rng.normal(size=(12, 2)); labels = np.array({LABELS.tolist()}); "
                             "classification_loss(z, labels, ohem=None)")
    assert_close("loss", np.float64(loss), np.float64(np.mean([_ce(z[i], LABELS[i]) for i in valid])), rtol=1e-12,
                 repro=repro)
    assert_close("kept", kept, np.isin(LABELS, (0, 1)), rtol=0, atol=0, repro=repro)
    assert_close("grad of the samples with label -1 or -2 (no class)", grad[LABELS < 0], np.zeros((4, 2)),
                 rtol=0, atol=0, dtype=False, repro=repro)


@pytest.mark.task_6_1
def test_ohem_keeps_the_hardest_seventy_percent(rng):
    z = rng.normal(size=(len(LABELS), 2)) * 3
    loss, grad, kept = classification_loss(z, LABELS, ohem=0.7)
    valid = np.flatnonzero(LABELS >= 0)
    ce = np.array([_ce(z[i], LABELS[i]) for i in valid])
    k = int(np.floor(0.7 * len(valid)))
    hardest = valid[np.argsort(-ce)[:k]]
    repro = seed_repro(1234, f"z = rng.normal(size=(12, 2)) * 3; labels = np.array({LABELS.tolist()}); "
                             "classification_loss(z, labels, ohem=0.7)")
    assert_close("kept (the hardest 70 % of the labelled samples)", kept, np.isin(np.arange(len(LABELS)), hardest),
                 rtol=0, atol=0, repro=repro)
    assert_close("loss", np.float64(loss), np.float64(np.sort(ce)[::-1][:k].mean()), rtol=1e-12, repro=repro)
    assert_close("grad of the samples OHEM dropped", grad[~kept], np.zeros((int((~kept).sum()), 2)), rtol=0, atol=0,
                 dtype=False, repro=repro)
    assert np.all(np.abs(grad[kept]).sum(axis=1) > 0), "every kept sample must have a gradient"


@pytest.mark.task_6_1
def test_terms_are_masked_means_and_weighted(rng):
    out, batch = _outputs(rng, len(LABELS)), _batch(rng, LABELS)
    total, parts, grads = joint_loss(out, batch, weights=(1.0, 0.5, 1.0), ohem=None)
    box_rows = np.isin(LABELS, (1, -1))
    lmk_rows = LABELS == -2
    box = np.mean(np.sum((out["box_reg"][box_rows] - batch["boxes"][box_rows]) ** 2, axis=1))
    lmk = np.mean(np.sum((out["landmarks"][lmk_rows] - batch["landmarks"][lmk_rows]) ** 2, axis=1))
    assert parts["box"] == pytest.approx(box) and parts["landmark"] == pytest.approx(lmk)
    assert total == pytest.approx(parts["cls"] + 0.5 * box + 1.0 * lmk)
    assert np.all(grads["box_reg"][~box_rows] == 0) and np.all(grads["landmarks"][~lmk_rows] == 0)
    assert (parts["n_box"], parts["n_landmark"], parts["n_cls"]) == (box_rows.sum(), lmk_rows.sum(), np.sum(LABELS >= 0))


@pytest.mark.task_6_1
def test_no_valid_samples_gives_zero_loss_and_gradient(rng):
    labels = np.array([-2, -2])
    out, batch = _outputs(rng, 2), _batch(rng, labels)
    total, parts, grads = joint_loss(out, batch)
    assert parts["cls"] == 0 and parts["box"] == 0
    assert np.all(grads["face_logits"] == 0) and np.all(grads["box_reg"] == 0)
    assert total == pytest.approx(0.5 * parts["landmark"])


@pytest.mark.task_6_1
def test_net_without_landmark_head_gets_no_landmark_gradient(rng):
    out, batch = _outputs(rng, len(LABELS)), _batch(rng, LABELS)
    del out["landmarks"]
    _, parts, grads = joint_loss(out, batch)
    assert "landmarks" not in grads and parts["landmark"] == 0


@pytest.mark.task_6_1
def test_pnet_maps_are_squeezed_and_gradients_keep_their_shape(rng):
    out = _outputs(rng, len(LABELS), pnet_shape=True)
    flat = {k: v[:, :, 0, 0] for k, v in out.items()}
    batch = _batch(rng, LABELS)
    t1, _, g1 = joint_loss(out, batch)
    t2, _, g2 = joint_loss(flat, batch)
    assert t1 == t2
    for k in g1:
        assert g1[k].shape == out[k].shape
        np.testing.assert_array_equal(g1[k][:, :, 0, 0], g2[k])


def test_bad_shapes_are_rejected(rng):
    out, batch = _outputs(rng, 4), _batch(rng, LABELS[:4])
    out["box_reg"] = out["box_reg"][:, :3]
    with pytest.raises(ValueError, match="box_reg"):
        joint_loss(out, batch)


@pytest.mark.parametrize("term", ["cls", "box", "landmark", "total"])
@pytest.mark.parametrize("ohem", [None, 0.7])
@pytest.mark.task_6_1
def test_gradient_check_float64(rng, term, ohem):
    out, batch = _outputs(rng, len(LABELS), pnet_shape=True), _batch(rng, LABELS)
    weights = TASK_WEIGHTS["onet"]

    def value(o):
        total, parts, _ = joint_loss(o, batch, weights=weights, ohem=ohem)
        return total if term == "total" else parts[term] * dict(zip(("cls", "box", "landmark"), weights))[term]

    _, _, grads = joint_loss(out, batch, weights=weights, ohem=ohem)
    key = {"cls": "face_logits", "box": "box_reg", "landmark": "landmarks"}
    for name in ([key[term]] if term != "total" else list(key.values())):
        def f(x, name=name):
            return value({**out, name: x})

        num = numerical_gradient(f, out[name])
        assert_close(f"grads[{name!r}] (vs finite differences of the {term} loss)", grads[name], num, rtol=1e-5,
                     atol=1e-8, repro=f"rng = np.random.default_rng(1234), _outputs/_batch of this test file"
                                      f"; joint_loss(out, batch, weights={weights}, ohem={ohem})")


def test_squared_l2_gradient_matches_finite_differences(rng):
    pred, target = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    mask = np.array([True, False, True, True, False])
    _, g = squared_l2_loss(pred, target, mask)
    num = numerical_gradient(lambda p: squared_l2_loss(p, target, mask)[0], pred)
    assert rel_error(num, g) < 1e-8


@pytest.mark.pipeline
def test_end_to_end_parameter_gradients_through_pnet_float64(rng):
    net = PNet(landmark_head=True, rng=rng).to(np.float64)
    x = rng.normal(size=(len(LABELS), 3, 12, 12))
    batch = _batch(rng, LABELS)

    def loss_of_params():
        return joint_loss(net.forward(x), batch, ohem=0.7)[0]

    _, _, grads = joint_loss(net.forward(x), batch, ohem=0.7)
    net.zero_grad()
    net.backward(grads)
    analytic = {k: v.copy() for k, v in net.grads.items()}
    for key in ("conv1.w", "PReLU2.alpha", "conv4-1.b", "conv4-2.w", "conv4-3.w"):
        p = net.params[key]
        idx = random_indices(p.shape, 6, rng)
        num = numerical_gradient(lambda _: loss_of_params(), p, indices=idx)
        assert rel_error(num, np.array([analytic[key][i] for i in idx])) < 1e-6, key
