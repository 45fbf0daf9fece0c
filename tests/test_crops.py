"""pad.m port and the zero-padded crop + resample + normalise stage."""
import numpy as np
import pytest

from tinymtcnn.detect.crops import crop_and_resize, pad_boxes
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


def padded_crop(image, regions, k):
    """Build M's ``tmp`` from pad_boxes rectangles (0-based slices of the 1-based ranges)."""
    r = regions
    tmp = np.zeros((r.crop_height[k], r.crop_width[k], 3))
    if r.ex[k] >= r.x[k] and r.ey[k] >= r.y[k]:
        tmp[r.dy[k] - 1:r.edy[k], r.dx[k] - 1:r.edx[k]] = image[r.y[k] - 1:r.ey[k], r.x[k] - 1:r.ex[k]]
    return tmp


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


@pytest.mark.parametrize("size", [24, 48])
def test_crop_equals_padded_resample(rng, size):
    image = (rng.random((H, W, 3)) * 255).astype(np.float32)
    out = crop_and_resize(image, BOXES, size)
    assert out.shape == (len(BOXES), 3, size, size) and out.dtype == np.float32
    regions = pad_boxes(BOXES, H, W)
    for k in range(len(BOXES)):
        tmp = padded_crop(image, regions, k)
        expect = (resample_naive(tmp, size, size).astype(np.float64) - 127.5) * 0.0078125
        np.testing.assert_allclose(out[k], expect.transpose(2, 0, 1), atol=2e-6)


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
