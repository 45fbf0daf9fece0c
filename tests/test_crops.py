"""pad.m port and the zero-padded crop + resample + normalise stage."""
import numpy as np
import pytest

from tinymtcnn.detect.crops import crop_and_resize, crop_and_resize_naive, pad_boxes
from tinymtcnn.kernels.resample import resample_naive

H, W = 30, 40
BOXES = np.array([
    [1, 1, 40, 30],          # the whole image
    [5, 6, 20, 26],          # inside
    [-5, -3, 10, 12],        # leaves top-left
    [35, 25, 60, 50],        # leaves bottom-right
    [-100, -100, 200, 200],  # contains the image
    [50, 50, 60, 60],        # outside, bottom-right
    [-20, 3, -5, 18],        # outside, left
    [3, 3, 3, 3],            # one pixel
])
BLACK = (0 - 127.5) * 0.0078125


def test_pad_boxes_hand_values():
    r = pad_boxes(BOXES, H, W)
    k = 2  # [-5, -3, 10, 12]: 16 x 16 crop, image part columns 1..10 rows 1..12
    assert (r.x[k], r.ex[k], r.dx[k], r.edx[k]) == (1, 10, 7, 16)
    assert (r.y[k], r.ey[k], r.dy[k], r.edy[k]) == (1, 12, 5, 16)
    k = 3  # [35, 25, 60, 50]: 26 x 26 crop, image part columns 35..40 rows 25..30
    assert (r.x[k], r.ex[k], r.dx[k], r.edx[k]) == (35, 40, 1, 6)
    assert (r.y[k], r.ey[k], r.dy[k], r.edy[k]) == (25, 30, 1, 6)
    k = 1
    assert (r.x[k], r.ex[k], r.dx[k], r.edx[k], r.crop_width[k], r.crop_height[k]) == (5, 20, 1, 16, 16, 21)


def test_pad_boxes_source_and_destination_extents_match():
    rng = np.random.default_rng(5)
    x1 = rng.integers(-60, 60, 500)
    y1 = rng.integers(-60, 60, 500)
    boxes = np.stack([x1, y1, x1 + rng.integers(0, 80, 500), y1 + rng.integers(0, 80, 500)], axis=1)
    r = pad_boxes(boxes, H, W)
    np.testing.assert_array_equal(r.ex - r.x, r.edx - r.dx)
    np.testing.assert_array_equal(r.ey - r.y, r.edy - r.dy)
    inside = (r.ex >= r.x) & (r.ey >= r.y)
    assert np.all(r.x[inside] >= 1) and np.all(r.ex[inside] <= W)
    assert np.all(r.dx[inside] >= 1) and np.all(r.edx[inside] <= r.crop_width[inside])
    outside = (boxes[:, 0] > W) | (boxes[:, 2] < 1) | (boxes[:, 1] > H) | (boxes[:, 3] < 1)
    np.testing.assert_array_equal(~inside, outside)


@pytest.mark.parametrize("normalise", [True, False])
@pytest.mark.parametrize("size", [24, 48, 1])
def test_crop_equals_the_padded_resample_of_its_twin(rng, size, normalise):
    image = (rng.random((H, W, 3)) * 255).astype(np.float32)
    out = crop_and_resize(image, BOXES, size, normalise=normalise)
    ref = crop_and_resize_naive(image, BOXES, size, normalise=normalise)  # pad.m's rectangles + resample
    assert out.shape == ref.shape == (len(BOXES), 3, size, size)
    assert out.dtype == ref.dtype == (np.float32 if normalise else np.float64)
    np.testing.assert_allclose(out, ref, atol=2e-6 if normalise else 1e-9)
    if not normalise:
        np.testing.assert_allclose((out - 127.5) * 0.0078125, crop_and_resize(image, BOXES, size), atol=1e-6)


def test_the_twin_crops_with_pad_boxes_rectangles(rng):
    # the twin's crop of a box that leaves the image is the resample of M's tmp, built by hand here
    image = (rng.random((H, W, 3)) * 255).astype(np.float32)
    tmp = np.zeros((16, 16, 3))  # BOXES[2] = [-5, -3, 10, 12]: pad_boxes' dx 7, dy 5 (test above)
    tmp[4:, 6:] = image[:12, :10]
    expect = (resample_naive(tmp, 24, 24, dtype=np.float64) - 127.5) * 0.0078125
    np.testing.assert_allclose(crop_and_resize_naive(image, BOXES[2:3], 24)[0], expect.transpose(2, 0, 1), atol=1e-6)


def test_outside_and_empty_boxes_give_black_crops(rng):
    image = (rng.random((H, W, 3)) * 255).astype(np.float32)
    boxes = np.array([[50, 50, 60, 60], [-20, 3, -5, 18], [5, 5, 4, 9], [5, 9, 9, 5], [7, 7, 6, 6]])
    np.testing.assert_array_equal(crop_and_resize(image, boxes, 24), BLACK)


def test_partly_outside_box_has_black_border(rng):
    image = np.full((H, W, 3), 255, np.uint8)
    out = crop_and_resize(image, [[-23, 1, 24, 48]], 24)  # left half and bottom part outside
    assert out[0, :, :, :11].max() == BLACK  # x < 1 maps to the first 12 output columns
    assert out[0, :, :14, 13:].min() == pytest.approx(0.99609375)  # inside rows and columns


def test_uint8_image_one_pixel_image_and_empty_input():
    img = np.array([[[10, 20, 30]]], np.uint8)
    out = crop_and_resize(img, [[1, 1, 1, 1], [0, 0, 2, 2]], 24)
    np.testing.assert_allclose(out[0, :, 0, 0], (np.array([10, 20, 30]) - 127.5) / 128)
    np.testing.assert_allclose(out[0], out[0][:, :1, :1].repeat(24, 1).repeat(24, 2))
    # 3x3 box with the single pixel in the middle: enlarged 3 -> 24 bilinear
    assert out[1].max() < out[0].max() + 1e-6 and out[1].min() == pytest.approx(BLACK)
    empty = crop_and_resize(img, np.zeros((0, 4), np.int64), 48)
    assert empty.shape == (0, 3, 48, 48) and empty.dtype == np.float32
    assert crop_and_resize(img, np.zeros((0, 4)), 24).shape == (0, 3, 24, 24)


def test_float_boxes_must_be_integral():
    img = np.zeros((5, 5, 3), np.float32)
    np.testing.assert_array_equal(crop_and_resize(img, np.array([[1.0, 1.0, 5.0, 5.0]]), 24),
                                  crop_and_resize(img, np.array([[1, 1, 5, 5]]), 24))
    with pytest.raises(ValueError, match="integer"):
        crop_and_resize(img, [[1.5, 1, 5, 5]], 24)
    with pytest.raises(ValueError, match="shape"):
        crop_and_resize(img, [[1, 1, 5]], 24)
    with pytest.raises(ValueError, match="shape"):
        crop_and_resize(np.zeros((5, 5)), [[1, 1, 5, 5]], 24)
    with pytest.raises(ValueError, match="size"):
        crop_and_resize(img, [[1, 1, 5, 5]], 0)
