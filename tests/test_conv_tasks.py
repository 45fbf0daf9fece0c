"""The naive convolution's forward (assignment task 2.1) and backward (task 2.2), each on its own.

Expected values are committed (tests/fixtures/task_cases.npz, written by tools/make_task_fixtures.py
from the im2col convolution, which test_layers.py checks against finite differences): in the
student copy ``conv2d_forward`` runs the student's ``conv2d_forward_naive``, so comparing with it
would prove nothing, and the backward test builds its cache by hand so that task 2.2 does not need
task 2.1.
"""
import numpy as np
import pytest
from _grading_asserts import assert_close, fixture_repro

from tinymtcnn.layers import ConvCache, conv2d_backward_naive, conv2d_forward_naive

CASES = range(6)


@pytest.fixture(scope="module")
def conv_cases(fixtures_dir):
    data = np.load(fixtures_dir / "task_cases.npz")
    return [{k.split("/")[2]: data[k] for k in data.files if k.startswith(f"conv/{i}/")} for i in CASES]


@pytest.mark.task_2_1
@pytest.mark.parametrize("case", CASES)
def test_naive_forward_matches_the_expected_output(conv_cases, case):
    c = conv_cases[case]
    stride, pad = int(c["stride"]), int(c["pad"])
    repro = fixture_repro("conv", case) + "; from tinymtcnn.layers import conv2d_forward_naive; " \
                                          "conv2d_forward_naive(case['x'], case['w'], case['b'], " \
                                          "stride=int(case['stride']), pad=int(case['pad']))"
    out, cache = conv2d_forward_naive(c["x"], c["w"], c["b"], stride=stride, pad=pad)
    assert_close("out", out, c["out"], rtol=1e-9, atol=1e-10, repro=repro)
    # the backward pass reads the input from the cache
    assert np.array_equal(cache.x, c["x"]) and (cache.stride, cache.pad) == (stride, pad), \
        "the cache must hold x, stride and pad (keep the given return line)"


@pytest.mark.task_2_1
def test_naive_forward_known_values():
    # a 3x3 ramp convolved with a 2x2 kernel of ones sums 2x2 blocks; with pad 1 the corners see one cell
    # (x is (C, H, W, N): one channel, one image)
    x = np.arange(9, dtype=np.float64).reshape(1, 3, 3, 1)
    repro = "x = np.arange(9.0).reshape(1, 3, 3, 1); conv2d_forward_naive(x, np.ones((1, 1, 2, 2)), np.array([0.5]))"
    out, _ = conv2d_forward_naive(x, np.ones((1, 1, 2, 2)), np.array([0.5]))
    assert_close("out", out, np.array([[[8.5, 12.5], [20.5, 24.5]]])[..., None], rtol=0, atol=0, repro=repro)
    out, _ = conv2d_forward_naive(x, np.ones((1, 1, 2, 2)), np.array([0.0]), stride=2, pad=1)
    assert_close("out (stride 2, pad 1)", out, np.array([[[0.0, 3], [9, 24]]])[..., None], rtol=0, atol=0,
                 repro=repro.replace("[0.5]))", "[0.0]), stride=2, pad=1)"))


@pytest.mark.task_2_1
def test_naive_forward_keeps_float32(rng):
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((3, 8, 8, 1), (2, 3, 3, 3), (2,)))
    out, _ = conv2d_forward_naive(x, w, b)
    assert out.dtype == np.float32, f"out has dtype {out.dtype}; a float32 input must give a float32 output"


@pytest.mark.task_2_2
@pytest.mark.parametrize("case", CASES)
def test_naive_backward_matches_the_expected_gradients(conv_cases, case):
    c = conv_cases[case]
    cache = ConvCache(c["x"].shape, c["x"], c["w"], int(c["stride"]), int(c["pad"]))  # as the forward's
    repro = fixture_repro("conv", case) + "; from tinymtcnn.layers import ConvCache, conv2d_backward_naive; " \
                                          "cache = ConvCache(case['x'].shape, case['x'], case['w'], " \
                                          "int(case['stride']), int(case['pad'])); " \
                                          "conv2d_backward_naive(case['dout'], cache)"
    grads = conv2d_backward_naive(c["dout"], cache)
    assert isinstance(grads, tuple) and len(grads) == 3, "conv2d_backward_naive must return (dx, dw, db)"
    for name, got in zip(("dx", "dw", "db"), grads):
        assert_close(name, got, c[name], rtol=1e-9, atol=1e-10, repro=repro)
