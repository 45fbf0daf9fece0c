"""More checks of box regression (assignment task 4.2) and squaring (task 4.3), each on its own.

The detector tests need tasks 3.1, 4.2 and 4.3 together; these give 4.2 and 4.3 their own verdicts
beside ``test_boxes.py``. Expected values are the formulas of bbreg.m / rerec.m (spec §5) worked by hand.
"""
import numpy as np
import pytest
from _grading_asserts import assert_close, seed_repro

from tinymtcnn.detect.boxes import apply_box_regression, square_boxes


@pytest.mark.task_4_2
def test_regression_moves_each_edge_by_its_offset_times_the_size(rng):
    boxes = np.array([[0, 0, 9, 19], [5, 5, 5, 5]])  # integers in, float64 out
    repro = "boxes = np.array([[0, 0, 9, 19], [5, 5, 5, 5]]); offsets = [[1, 0, 1, 0], [0, -1, 0, -1]]"
    zero = apply_box_regression(boxes, np.zeros((2, 4)), plus_one=True)
    assert_close("boxes (zero offsets)", zero, boxes.astype(np.float64), rtol=0, atol=0,
                 repro=repro + "; apply_box_regression(boxes, np.zeros((2, 4)), plus_one=True)")
    # +1: w = 10, h = 20 (and 1, 1 for the one-pixel box); shifting both x edges by one width moves the box
    moved = apply_box_regression(boxes, [[1, 0, 1, 0], [0, -1, 0, -1]], plus_one=True)
    assert_close("boxes (plus_one=True)", moved, np.array([[10.0, 0, 19, 19], [5, 4, 5, 4]]), rtol=0, atol=0,
                 repro=repro + "; apply_box_regression(boxes, offsets, plus_one=True)")
    # stage 1 (no +1): the one-pixel box has size 0 and never moves
    assert_close("boxes (plus_one=False)", apply_box_regression(boxes, [[1, 0, 1, 0], [0, -1, 0, -1]], plus_one=False),
                 np.array([[9.0, 0, 18, 19], [5, 5, 5, 5]]), rtol=0, atol=0,
                 repro=repro + "; apply_box_regression(boxes, offsets, plus_one=False)")
    # the two conventions differ by exactly the offsets (one extra pixel of size)
    b = rng.uniform(0, 50, (20, 4))
    b[:, 2:] += b[:, :2]
    off = rng.uniform(-0.3, 0.3, (20, 4))
    diff = apply_box_regression(b, off, plus_one=True) - apply_box_regression(b, off, plus_one=False)
    assert_close("plus_one=True minus plus_one=False", diff, off, rtol=0, atol=1e-12,
                 repro=seed_repro(1234, "b = rng.uniform(0, 50, (20, 4)); b[:, 2:] += b[:, :2]; "
                                        "off = rng.uniform(-0.3, 0.3, (20, 4))"))


@pytest.mark.task_4_2
def test_regression_does_not_modify_its_inputs(rng):
    boxes, offsets = rng.uniform(0, 9, (5, 4)), rng.uniform(-1, 1, (5, 4))
    b0, o0 = boxes.copy(), offsets.copy()
    apply_box_regression(boxes, offsets, plus_one=False)
    assert_close("boxes (your function's input: it must not change)", boxes, b0, rtol=0, atol=0)
    assert_close("offsets (your function's input: it must not change)", offsets, o0, rtol=0, atol=0)


@pytest.mark.task_4_3
def test_squaring_grows_the_short_side_about_the_centre():
    # wide box: w = 20, h = 10 -> the height grows by 5 on each side; tall box: the width grows
    sq = square_boxes(np.array([[0, 0, 20, 10], [10, 0, 14, 8]]))
    assert_close("squares", sq, np.array([[0.0, -5, 20, 15], [8, 0, 16, 8]]), rtol=0, atol=0,
                 repro="square_boxes(np.array([[0, 0, 20, 10], [10, 0, 14, 8]]))")


@pytest.mark.task_4_3
def test_squaring_is_idempotent_and_keeps_squares(rng):
    b = rng.uniform(0, 100, (30, 4))
    b[:, 2:] += b[:, :2]
    once = square_boxes(b)
    repro = seed_repro(1234, "b = rng.uniform(0, 100, (30, 4)); b[:, 2:] += b[:, :2]; once = square_boxes(b)")
    assert_close("square_boxes(once) (squaring a square changes nothing)", square_boxes(once), once, rtol=0,
                 atol=1e-12, repro=repro)
    squares = np.array([[3.0, 4.0, 13.0, 14.0]])
    assert_close("squares", square_boxes(squares), squares, rtol=0, atol=0,
                 repro="square_boxes(np.array([[3.0, 4.0, 13.0, 14.0]]))")
    b0 = b.copy()
    square_boxes(b)
    assert_close("boxes (your function's input: it must not change)", b, b0, rtol=0, atol=0, repro=repro)
