"""Optimisers update net.params in place; formulas checked step by step; schedules."""
import math

import numpy as np
import pytest

from tinymtcnn.nets import PNet
from tinymtcnn.train.optim import SGD, Adam, CosineLR, StepLR, make_optimizer, make_schedule


def _params(rng):
    return {"a.w": rng.normal(size=(3, 2)), "a.b": rng.normal(size=3), "p.alpha": np.full(3, 0.25)}


def test_sgd_updates_the_net_arrays_in_place(rng):
    net = PNet(rng=rng)
    before = {k: id(v) for k, v in net.params.items()}
    old = net.params["conv1.w"].copy()
    opt = SGD(net.params, lr=0.1, momentum=0.0)
    opt.step({k: np.ones_like(v) for k, v in net.params.items()})
    assert {k: id(v) for k, v in net.params.items()} == before
    np.testing.assert_allclose(net.params["conv1.w"], old - 0.1, rtol=1e-6)


def test_sgd_momentum_matches_the_recurrence(rng):
    p = _params(rng)
    start = {k: v.copy() for k, v in p.items()}
    opt = SGD(p, lr=0.1, momentum=0.9)
    g1 = {k: rng.normal(size=v.shape) for k, v in p.items()}
    g2 = {k: rng.normal(size=v.shape) for k, v in p.items()}
    opt.step(g1)
    opt.step(g2)
    for k in p:
        v1 = g1[k]
        v2 = 0.9 * v1 + g2[k]
        np.testing.assert_allclose(p[k], start[k] - 0.1 * v1 - 0.1 * v2, rtol=1e-12)


def test_weight_decay_applies_to_weights_only_by_default(rng):
    p = _params(rng)
    start = {k: v.copy() for k, v in p.items()}
    SGD(p, lr=0.1, momentum=0.0, weight_decay=0.5).step({k: np.zeros_like(v) for k, v in p.items()})
    np.testing.assert_allclose(p["a.w"], start["a.w"] * (1 - 0.05))
    np.testing.assert_array_equal(p["a.b"], start["a.b"])
    np.testing.assert_array_equal(p["p.alpha"], start["p.alpha"])
    q = {k: v.copy() for k, v in start.items()}
    SGD(q, lr=0.1, momentum=0.0, weight_decay=0.5, decay=lambda k: True).step({k: np.zeros_like(v) for k, v in q.items()})
    np.testing.assert_allclose(q["a.b"], start["a.b"] * 0.95)


def test_adam_first_step_is_lr_times_sign(rng):
    p = _params(rng)
    start = {k: v.copy() for k, v in p.items()}
    g = {k: rng.normal(size=v.shape) for k, v in p.items()}
    Adam(p, lr=0.01).step(g)
    for k in p:
        np.testing.assert_allclose(p[k], start[k] - 0.01 * np.sign(g[k]), rtol=1e-6)


@pytest.mark.parametrize("name,lr", [("sgd", 0.05), ("adam", 0.05)])
def test_optimisers_minimise_a_quadratic(rng, name, lr):
    target = rng.normal(size=(4, 3))
    p = {"x.w": np.zeros((4, 3))}
    opt = make_optimizer(name, p, lr=lr)
    for _ in range(400):
        opt.step({"x.w": 2 * (p["x.w"] - target)})
    np.testing.assert_allclose(p["x.w"], target, atol=1e-3)


def test_state_dict_round_trip_continues_identically(rng):
    p1 = _params(rng)
    p2 = {k: v.copy() for k, v in p1.items()}
    grads = [{k: rng.normal(size=v.shape) for k, v in p1.items()} for _ in range(3)]
    a = Adam(p1, lr=0.01, weight_decay=1e-3)
    for g in grads:
        a.step(g)
    b = Adam(p2, lr=0.01, weight_decay=1e-3)
    b.step(grads[0])
    c = Adam(p2, lr=0.01, weight_decay=1e-3)
    c.load_state_dict(b.state_dict())
    for g in grads[1:]:
        c.step(g)
    for k in p1:
        np.testing.assert_array_equal(p1[k], p2[k])


def test_bad_arguments_are_reported(rng):
    with pytest.raises(ValueError, match="learning rate"):
        SGD(_params(rng), lr=0)
    with pytest.raises(ValueError, match="shape"):
        SGD(_params(rng), lr=0.1).step({"a.w": np.zeros(2), "a.b": np.zeros(3), "p.alpha": np.zeros(3)})
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer("rmsprop", _params(rng), lr=0.1)


def test_schedules():
    step = StepLR(0.1, (6, 14, 20), 0.1)
    assert [step(e) for e in (0, 5.9, 6, 14, 25)] == pytest.approx([0.1, 0.1, 0.01, 0.001, 0.0001])
    cos = CosineLR(1.0, 10, warmup=2, min_lr=0.1)
    assert cos(1.0) == pytest.approx(0.5005)
    assert cos(2) == pytest.approx(1.0) and cos(10) == pytest.approx(0.1) and cos(6) == pytest.approx(0.55)
    assert make_schedule("step", 1.0, 30).milestones == [6, 14, 20]
    assert make_schedule("constant", 0.3, 5)(4.9) == 0.3
    assert math.isclose(make_schedule("cosine", 2.0, 4)(0), 2.0)
