"""Greedy NMS (nms.m port): Numba kernel vs readable twin, committed cases, hand-checked examples.

``nms_naive`` is assignment task 4.1. In the student copy ``nms`` calls ``nms_naive``
(STUDENT-FAST), so every case here grades task 4.1 there; the committed cases
(tests/fixtures/task_cases.npz, tools/make_task_fixtures.py) are the independent expected values.
"""
import numpy as np
import pytest
from _grading_asserts import assert_same_picks

from tinymtcnn.kernels.nms import nms, nms_naive

def _expect(fn, expected, boxes, scores, *args):
    """``fn(boxes, scores, *args)`` picks ``expected``; the message shows the call."""
    assert_same_picks(f"the picks of {fn.__name__}", fn(boxes, scores, *args), np.array(expected, dtype=np.int64),
                      repro=f"{fn.__name__}(np.array({np.asarray(boxes).tolist()}), "
                            f"np.array({np.asarray(scores).tolist()}), {', '.join(map(repr, args))})")


TWINS = [pytest.param(nms, marks=pytest.mark.task_4_1), pytest.param(nms_naive, marks=pytest.mark.task_4_1)]

MODES = ["union", "min"]


def random_case(rng, n):
    """Integer boxes on a small grid (many overlaps and duplicates), tied scores, degenerate boxes."""
    x1 = rng.integers(-5, 30, n).astype(np.float64)
    y1 = rng.integers(-5, 30, n).astype(np.float64)
    w = rng.integers(-3, 20, n)  # negative / zero widths give degenerate boxes
    h = rng.integers(-3, 20, n)
    boxes = np.stack([x1, y1, x1 + w, y1 + h], axis=1)
    if n > 3:
        boxes[1] = boxes[0]  # exact duplicate
        boxes[2] = [4, 4, 2, 2]  # area (-1)*(-1) = +1 with no real extent
        boxes[3] = [7, 7, 5, 9]  # area 0 -> 0/0 overlaps
    scores = rng.integers(0, 5, n) / 4.0  # heavy ties
    return boxes, scores


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.task_4_1
def test_twins_agree_on_random_sets(rng, mode):  # in the student copy: the student's NMS only
    for trial in range(300):
        n = int(rng.integers(0, 40))
        boxes, scores = random_case(rng, n)
        if trial % 3 == 0:
            boxes = boxes + rng.random(boxes.shape)  # non-integer coordinates too
        thr = float(rng.choice([0.0, 0.3, 0.5, 0.7, 1.0]))
        ref = nms_naive(boxes, scores, thr, mode)
        fast = nms(boxes, scores, thr, mode)
        assert fast.dtype == np.int64 and ref.dtype == np.int64
        assert_same_picks("the picks of nms_naive", ref, fast,
                          repro=f"rng = np.random.default_rng(1234), trial {trial} of test_twins_agree_on_random_sets")


@pytest.mark.task_4_1
def test_committed_cases(fixtures_dir):
    d = np.load(fixtures_dir / "task_cases.npz")
    start, pick_start = d["nms/all/start"], d["nms/all/pick_start"]
    for k in range(len(start) - 1):
        boxes, scores = d["nms/all/boxes"][start[k]:start[k + 1]], d["nms/all/scores"][start[k]:start[k + 1]]
        threshold, mode = float(d["nms/all/threshold"][k]), ("union", "min")[int(d["nms/all/mode"][k])]
        repro = (f"from tinymtcnn.kernels.nms import nms_naive; "
                 f"d = np.load('tests/fixtures/task_cases.npz'); s = d['nms/all/start']; "
                 f"nms_naive(d['nms/all/boxes'][s[{k}]:s[{k + 1}]], d['nms/all/scores'][s[{k}]:s[{k + 1}]], "
                 f"{threshold}, {mode!r})")
        assert_same_picks(f"the picks of case {k} ({len(scores)} boxes, {mode} {threshold})",
                          nms_naive(boxes, scores, threshold, mode),
                          d["nms/all/picks"][pick_start[k]:pick_start[k + 1]], repro=repro)


@pytest.mark.parametrize("fn", TWINS)
def test_empty_and_single(fn):
    out = fn(np.zeros((0, 4)), np.zeros(0), 0.5)
    assert out.shape == (0,) and out.dtype == np.int64
    _expect(fn, [0], np.array([[1.0, 2, 3, 4]]), np.array([0.3]), 0.5)


@pytest.mark.parametrize("fn", TWINS)
def test_plus_one_convention_spec_example(fn):
    # Spec §6: [1,1,12,12] vs [3,1,14,12]: IoU 120/168 = 0.714 with +1 (0.692 without).
    boxes = np.array([[1, 1, 12, 12], [3, 1, 14, 12]], dtype=float)
    scores = np.array([0.9, 0.8])
    _expect(fn, [0], boxes, scores, 0.7)  # 0.714 > 0.7: suppressed
    _expect(fn, [0, 1], boxes, scores, 0.715)  # 0.714 <= 0.715: kept
    _expect(fn, [0, 1], boxes, scores, 120 / 168)  # o <= thr survives


@pytest.mark.parametrize("fn", TWINS)
def test_min_mode_hand_example(fn):
    # A = 10x10 (area 100), B = 20x5 (area 100) sharing a 10x5 = 50 strip;
    # C = 5x5 inside A (area 25, inter 25). Min: o(A,B) = 0.5, o(A,C) = 1; Union: 1/3, 0.25.
    boxes = np.array([[1, 1, 10, 10], [1, 1, 20, 5], [3, 3, 7, 7]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7])
    _expect(fn, [0, 1], boxes, scores, 0.5, "min")  # 0.5 <= 0.5 survives
    _expect(fn, [0], boxes, scores, 0.4, "min")
    _expect(fn, [0, 1], boxes, scores, 0.99, "Min")
    _expect(fn, [0, 2], boxes, scores, 0.3, "union")
    _expect(fn, [0, 2], boxes, scores, 0.25, "Union")
    _expect(fn, [0], boxes, scores, 0.24, "union")


@pytest.mark.parametrize("fn", TWINS)
def test_ties_take_highest_index_first(fn):
    boxes = np.array([[1, 1, 10, 10]] * 3 + [[50, 50, 60, 60]], dtype=float)
    scores = np.array([0.5, 0.5, 0.5, 0.5])
    _expect(fn, [3, 2], boxes, scores, 0.5)


@pytest.mark.parametrize("fn", TWINS)
def test_greedy_chain(fn):
    # Spec §6: A > B > C, A-B and B-C overlap, A-C do not: greedy keeps A and C.
    boxes = np.array([[1, 1, 10, 10], [6, 1, 15, 10], [11, 1, 20, 10]], dtype=float)
    _expect(fn, [0, 2], boxes, np.array([0.9, 0.8, 0.7]), 0.3)


@pytest.mark.parametrize("fn", TWINS)
def test_zero_area_overlap_is_nan_and_suppresses(fn):
    # Both boxes have area 0 and intersection 0: o = 0/0 = NaN, "not o <= thr" -> dropped,
    # exactly as MATLAB's find(o <= threshold) drops NaN.
    boxes = np.array([[1, 1, 0, 0], [1, 1, 0, 5]], dtype=float)  # areas 0 and 0, inter 0
    _expect(fn, [0], boxes, np.array([0.9, 0.8]), 0.5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="shape"):
        nms(np.zeros((3, 5)), np.zeros(3), 0.5)
    with pytest.raises(ValueError, match="scores"):
        nms(np.zeros((3, 4)), np.zeros(2), 0.5)
    with pytest.raises(ValueError, match="mode"):
        nms_naive(np.zeros((3, 4)), np.zeros(3), 0.5, "iou")
