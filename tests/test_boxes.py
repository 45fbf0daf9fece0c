"""Box arithmetic ports: generateBoundingBox.m, bbreg.m, rerec.m, fix, landmark decoding/mirroring."""
import numpy as np
import pytest
from _grading_asserts import assert_close, seed_repro

from tinymtcnn.detect.boxes import (
    apply_box_regression,
    decode_landmarks,
    heatmap_to_boxes,
    mirror_landmarks,
    points_to_zero_based,
    square_boxes,
    to_one_based,
    to_zero_based,
    truncate_boxes,
)


@pytest.mark.task_3_1
def test_heatmap_cells_at_scale_one_are_the_receptive_fields(rng):
    prob = np.zeros((4, 5))
    prob[0, 0] = 0.6  # threshold is inclusive (M's >=)
    prob[2, 1] = 0.9
    prob[1, 3] = 0.7
    prob[3, 4] = 0.59
    reg = rng.random((4, 4, 5))
    repro = seed_repro(1234, "prob = np.zeros((4, 5)); prob[0, 0], prob[2, 1], prob[1, 3], prob[3, 4] = "
                             "0.6, 0.9, 0.7, 0.59; reg = rng.random((4, 4, 5)); heatmap_to_boxes(prob, reg, 1.0, 0.6)")
    boxes, scores, offsets = heatmap_to_boxes(prob, reg, 1.0, 0.6)
    # Row-major over (y, x) = M's find on the (x, y)-transposed map: (v=0,u=0), (1,3), (2,1).
    assert_close("boxes", boxes, np.array([[1.0, 1, 12, 12], [7, 3, 18, 14], [3, 5, 14, 16]]), rtol=0, atol=0,
                 repro=repro)
    assert_close("scores", scores, np.array([0.6, 0.7, 0.9]), rtol=0, atol=0, repro=repro)
    assert_close("offsets", offsets, np.array([reg[:, 0, 0], reg[:, 1, 3], reg[:, 2, 1]]), rtol=0, atol=0,
                 repro=repro)


@pytest.mark.task_3_1
def test_heatmap_scale_uses_fix():
    prob = np.zeros((3, 3))
    prob[1, 2] = 1.0  # u = 2, v = 1
    boxes, _, _ = heatmap_to_boxes(prob, np.zeros((4, 3, 3)), 0.7, 0.5)
    assert_close("boxes (scale 0.7: fix rounds toward zero)", boxes, np.array([[7.0, 4, 22, 20]]), rtol=0, atol=0,
                 repro="prob = np.zeros((3, 3)); prob[1, 2] = 1.0; "
                       "heatmap_to_boxes(prob, np.zeros((4, 3, 3)), 0.7, 0.5)")


@pytest.mark.task_3_1
def test_heatmap_order_and_counts_on_random_map(rng):
    prob = rng.random((9, 7))
    boxes, scores, _ = heatmap_to_boxes(prob, rng.random((4, 9, 7)), 0.5, 0.5)
    repro = seed_repro(1234, "prob = rng.random((9, 7)); heatmap_to_boxes(prob, rng.random((4, 9, 7)), 0.5, 0.5)")
    v, u = np.nonzero(prob >= 0.5)  # row-major: y-major, x fastest
    assert_close("boxes", boxes, np.fix(np.stack([2 * u + 1, 2 * v + 1, 2 * u + 12, 2 * v + 12], axis=1) / 0.5),
                 rtol=0, atol=0, repro=repro)
    assert_close("scores", scores, prob[v, u], rtol=0, atol=0, repro=repro)


@pytest.mark.task_3_1
def test_heatmap_empty():
    repro = "heatmap_to_boxes(np.zeros((2, 3)), np.zeros((4, 2, 3)), 0.3, 0.6)"
    boxes, scores, offsets = heatmap_to_boxes(np.zeros((2, 3)), np.zeros((4, 2, 3)), 0.3, 0.6)
    for name, got, shape in (("boxes", boxes, (0, 4)), ("scores", scores, (0,)), ("offsets", offsets, (0, 4))):
        assert_close(f"{name} (no cell above the threshold)", got, np.zeros(shape), repro=repro)
    boxes, _, _ = heatmap_to_boxes(np.zeros((0, 0)), np.zeros((4, 0, 0)), 0.3, 0.6)
    assert_close("boxes (an empty map)", boxes, np.zeros((0, 4)),
                 repro="heatmap_to_boxes(np.zeros((0, 0)), np.zeros((4, 0, 0)), 0.3, 0.6)")


def test_heatmap_bad_shapes():
    with pytest.raises(ValueError, match="reg"):
        heatmap_to_boxes(np.zeros((2, 3)), np.zeros((4, 3, 2)), 1.0, 0.5)
    with pytest.raises(ValueError, match="scale"):
        heatmap_to_boxes(np.zeros((2, 3)), np.zeros((4, 2, 3)), 0.0, 0.5)


@pytest.mark.task_4_2
def test_box_regression_with_and_without_plus_one():
    boxes = np.array([[10.0, 20.0, 30.0, 60.0]])
    offsets = np.array([[0.1, -0.25, 0.5, 0.125]])
    repro = "boxes = np.array([[10.0, 20.0, 30.0, 60.0]]); offsets = np.array([[0.1, -0.25, 0.5, 0.125]])"
    # stage 1: w = 20, h = 40; stages 2/3: w = 21, h = 41
    assert_close("boxes (plus_one=False)", apply_box_regression(boxes, offsets, False), np.array([[12.0, 10, 40, 65]]),
                 repro=repro + "; apply_box_regression(boxes, offsets, False)")
    assert_close("boxes (plus_one=True)", apply_box_regression(boxes, offsets, True),
                 np.array([[12.1, 9.75, 40.5, 65.125]]), repro=repro + "; apply_box_regression(boxes, offsets, True)")
    assert_close("boxes (none)", apply_box_regression(np.zeros((0, 4)), np.zeros((0, 4)), True), np.zeros((0, 4)),
                 repro="apply_box_regression(np.zeros((0, 4)), np.zeros((0, 4)), True)")
    with pytest.raises(ValueError, match="offsets"):
        apply_box_regression(boxes, np.zeros((2, 4)), True)


@pytest.mark.task_4_3
def test_square_boxes_keeps_centre_and_uses_longer_side(rng):
    boxes = np.array([[10.0, 20.0, 30.0, 60.0], [0, 0, 9, 3], [5.5, 5.5, 7.5, 7.5]])
    sq = square_boxes(boxes)
    assert_close("squares", sq, np.array([[0.0, 20, 40, 60], [0, -3, 9, 6], [5.5, 5.5, 7.5, 7.5]]),
                 repro="square_boxes(np.array([[10.0, 20.0, 30.0, 60.0], [0, 0, 9, 3], [5.5, 5.5, 7.5, 7.5]]))")
    rnd = rng.random((50, 4)) * 100
    rnd[:, 2:] += rnd[:, :2]
    repro = seed_repro(1234, "b = rng.random((50, 4)) * 100; b[:, 2:] += b[:, :2]; sq = square_boxes(b)")
    sq = square_boxes(rnd)
    assert_close("height of the squares (sq[:, 3] - sq[:, 1])", sq[:, 3] - sq[:, 1], sq[:, 2] - sq[:, 0], repro=repro)
    assert_close("centre x 2 (sq[:, :2] + sq[:, 2:])", sq[:, :2] + sq[:, 2:], rnd[:, :2] + rnd[:, 2:], repro=repro)
    assert_close("squares (none)", square_boxes(np.zeros((0, 4))), np.zeros((0, 4)),
                 repro="square_boxes(np.zeros((0, 4)))")


def test_truncate_is_toward_zero():
    np.testing.assert_array_equal(truncate_boxes([[-1.7, -0.2, 2.9, 3.0]]), [[-1, 0, 2, 3]])


def test_decode_landmarks():
    boxes = np.array([[11.0, 21.0, 20.0, 40.0]])  # w = 10, h = 20
    lmk = np.array([[0.0, 0.1, 0.5, 0.2, 1.0, 0.0, 0.25, 0.5, 0.75, 1.0]])
    pts = decode_landmarks(boxes, lmk)
    assert pts.shape == (1, 5, 2) and pts.dtype == np.float64
    np.testing.assert_allclose(pts[0, :, 0], [11, 12, 16, 13, 21])  # 1-based: x1 + w*l
    np.testing.assert_allclose(pts[0, :, 1], [21, 26, 31, 36, 41])
    # after the conversion at the end, the frame of to_zero_based: l = 0 is x1', l = 1 is x2'
    zb, zp = to_zero_based(boxes)[0], points_to_zero_based(pts)[0]
    assert zp[0, 0] == zb[0] and zp[4, 0] == zb[2] and zp[0, 1] == zb[1] and zp[4, 1] == zb[3]
    assert decode_landmarks(np.zeros((0, 4)), np.zeros((0, 10))).shape == (0, 5, 2)
    with pytest.raises(ValueError, match="landmarks"):
        decode_landmarks(boxes, np.zeros((1, 5, 2)))


def test_decoded_points_at_the_end_are_ms_values_bit_for_bit(rng):
    # M decodes in one step, points = w*l + x1 - 1 (detect_face.m); the cascade decodes 1-based and
    # converts once at the end: the public points must be M's floating-point values exactly
    boxes = np.fix(rng.uniform(-50, 900, size=(200, 2)))
    boxes = np.concatenate([boxes, boxes + np.fix(rng.uniform(11, 400, size=(200, 1)))], axis=1)
    lmk = rng.uniform(-0.2, 1.2, size=(200, 10))
    w, h = boxes[:, 2:3] - boxes[:, 0:1] + 1, boxes[:, 3:4] - boxes[:, 1:2] + 1
    m_points = np.stack([w * lmk[:, :5] + boxes[:, 0:1] - 1, h * lmk[:, 5:] + boxes[:, 1:2] - 1], axis=2)
    assert np.array_equal(points_to_zero_based(decode_landmarks(boxes, lmk)), m_points)


def test_points_to_zero_based():
    np.testing.assert_array_equal(points_to_zero_based([[[1, 1], [12.5, 3]]]), [[[0, 0], [11.5, 2]]])
    assert points_to_zero_based(np.zeros((0, 5, 2))).shape == (0, 5, 2)
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        points_to_zero_based(np.zeros((3, 10)))


def test_mirror_landmarks_maps_a_flipped_face_back(rng):
    lmk = rng.random((6, 10))
    # Flip horizontally: x -> 1 - x, and image-left/right points trade places.
    flipped = lmk.copy()
    flipped[:, [0, 1, 2, 3, 4]] = 1 - lmk[:, [1, 0, 2, 4, 3]]
    flipped[:, [5, 6, 7, 8, 9]] = lmk[:, [6, 5, 7, 9, 8]]
    np.testing.assert_allclose(mirror_landmarks(flipped), lmk)
    np.testing.assert_allclose(mirror_landmarks(mirror_landmarks(lmk)), lmk)
    m = np.arange(1, 11, dtype=float)[None] / 10  # spec §5.5 mapping, 1-based m1..m10
    np.testing.assert_allclose(mirror_landmarks(m), [[0.8, 0.9, 0.7, 0.5, 0.6, 0.7, 0.6, 0.8, 1.0, 0.9]])
    assert mirror_landmarks(np.zeros((0, 10))).shape == (0, 10)


def test_to_zero_based():
    np.testing.assert_array_equal(to_zero_based([[1, 1, 12, 12], [3.5, 2, 7, 9]]), [[0, 0, 12, 12], [2.5, 1, 7, 9]])
    assert to_zero_based(np.zeros((0, 4))).shape == (0, 4)


def test_to_one_based_inverts_to_zero_based():
    crops = np.array([[0, 0, 12, 12], [-3, 5, 20, 28]])
    one = to_one_based(crops)
    assert one.dtype == np.int64  # integer crops stay integer (the resampler's boxes)
    np.testing.assert_array_equal(one, [[1, 1, 12, 12], [-2, 6, 20, 28]])
    np.testing.assert_array_equal(to_zero_based(one), crops)
    np.testing.assert_array_equal(to_one_based([[2.5, 1, 7, 9]]), [[3.5, 2, 7, 9]])
    assert to_one_based(np.zeros((0, 4), np.int64)).shape == (0, 4)
    with pytest.raises(ValueError, match=r"\(K, 4\)"):
        to_one_based([[1, 2, 3]])
