"""imResample port: Numba kernels vs readable twins, and properties of area / bilinear resampling."""
import numpy as np
import pytest

from tinymtcnn.detect.crops import crop_and_resize_naive
from tinymtcnn.kernels.resample import (
    axis_taps,
    axis_weights_naive,
    crop_resize,
    resample,
    resample_naive,
)

SIZES = [  # (h, w, out_h, out_w): shrink, enlarge, mixed, integer factors, identity, 1-px
    (10, 10, 5, 5), (12, 16, 3, 4), (27, 27, 9, 9), (13, 7, 5, 3), (100, 80, 71, 57),
    (7, 13, 20, 31), (5, 9, 12, 4), (12, 12, 12, 12), (1, 1, 3, 4), (1, 9, 1, 4),
    (9, 1, 20, 1), (3, 9, 1, 1), (2, 3, 2, 3), (1001, 3, 997, 2),
]


@pytest.mark.parametrize("h,w,oh,ow", SIZES)
def test_twins_agree(rng, h, w, oh, ow):
    img = rng.random((h, w, 3)) * 255
    ref = resample_naive(img, oh, ow)
    fast = resample(img, oh, ow)
    assert ref.dtype == fast.dtype == np.float32
    assert fast.shape == (oh, ow, 3)
    np.testing.assert_allclose(fast, ref, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("n_in,n_out", [(10, 3), (7, 5), (1000, 1), (1001, 1000), (3, 7), (5, 5), (1, 4)])
def test_tap_tables_match_dense_weights(n_in, n_out):
    idx, wts = axis_taps(n_in, n_out)
    dense = np.zeros((n_out, n_in))
    for b in range(n_out):
        np.add.at(dense[b], idx[b], wts[b])
    np.testing.assert_allclose(dense, axis_weights_naive(n_in, n_out), rtol=0, atol=1e-15)


def test_uint8_input_and_2d_input(rng):
    img = rng.integers(0, 256, (17, 11, 3)).astype(np.uint8)
    np.testing.assert_array_equal(resample(img, 6, 5), resample(img.astype(np.float64), 6, 5))
    np.testing.assert_array_equal(resample(img[:, :, 1], 6, 5), resample(img, 6, 5)[:, :, 1])
    np.testing.assert_array_equal(resample_naive(img[:, :, 1], 6, 5), resample_naive(img, 6, 5)[:, :, 1])


@pytest.mark.parametrize("fn", [resample, resample_naive])
@pytest.mark.parametrize("h,w,oh,ow", SIZES)
def test_constant_image_stays_constant(fn, h, w, oh, ow):
    img = np.full((h, w, 3), 173.25)
    np.testing.assert_allclose(fn(img, oh, ow), 173.25, rtol=1e-6)


@pytest.mark.parametrize("fn", [resample, resample_naive])
@pytest.mark.parametrize("k", [2, 4])
def test_power_of_two_shrink_is_exact_block_mean(rng, fn, k):
    img = rng.integers(0, 256, (6 * k, 5 * k, 3)).astype(np.float64)
    block_mean = img.reshape(6, k, 5, k, 3).mean(axis=(1, 3))
    np.testing.assert_array_equal(fn(img, 6, 5), block_mean.astype(np.float32))


@pytest.mark.parametrize("fn", [resample, resample_naive])
def test_integer_factor_three_is_block_mean(rng, fn):
    img = rng.random((12, 9, 2)) * 255
    block_mean = img.reshape(4, 3, 3, 3, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(fn(img, 4, 3), block_mean, rtol=1e-6)


@pytest.mark.parametrize("fn", [resample, resample_naive])
@pytest.mark.parametrize("h,w,oh,ow", [(10, 10, 7, 3), (31, 17, 12, 12), (100, 80, 71, 57), (9, 1, 4, 1)])
def test_shrink_preserves_mean_intensity(rng, fn, h, w, oh, ow):
    img = rng.random((h, w, 3)) * 255
    np.testing.assert_allclose(fn(img, oh, ow).mean(axis=(0, 1)), img.mean(axis=(0, 1)), rtol=1e-5)


def test_fractional_area_weights_by_hand():
    # 3 -> 2: s = 2/3, output 0 covers [0, 1.5): pixel 0 (weight 2/3) + half of pixel 1 (1/3).
    row = np.array([[[0.0], [30.0], [90.0]]])
    np.testing.assert_allclose(resample(row, 1, 2)[0, :, 0], [10.0, 70.0], rtol=1e-6)
    np.testing.assert_allclose(axis_weights_naive(3, 2), [[2 / 3, 1 / 3, 0], [0, 1 / 3, 2 / 3]])


@pytest.mark.parametrize("fn", [resample, resample_naive])
def test_enlarged_ramp_is_linear_in_the_interior_and_clamped_at_edges(fn):
    n_in, n_out = 7, 19
    ramp = np.tile(np.arange(n_in, dtype=np.float64)[None, :, None], (3, 1, 1))
    out = fn(ramp, 3, n_out)[1, :, 0].astype(np.float64)
    pos = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5  # half-pixel source coordinates
    inner = (pos >= 0) & (pos <= n_in - 1)
    np.testing.assert_allclose(out[inner], pos[inner], atol=1e-5)
    np.testing.assert_allclose(out[pos < 0], 0.0)
    np.testing.assert_allclose(out[pos > n_in - 1], n_in - 1)


@pytest.mark.parametrize("fn", [resample, resample_naive])
def test_equal_size_is_identity_and_one_pixel_cases(rng, fn):
    img = rng.random((5, 8, 3)) * 255
    np.testing.assert_array_equal(fn(img, 5, 8), img.astype(np.float32))
    one = np.array([[[7.0, 8.0, 9.0]]])
    np.testing.assert_array_equal(fn(one, 4, 3), np.broadcast_to(one, (4, 3, 3)).astype(np.float32))
    col = rng.random((9, 1, 3)) * 255
    np.testing.assert_allclose(fn(col, 1, 1)[0, 0], col.mean(axis=(0, 1)), rtol=1e-6)
    np.testing.assert_allclose(fn(col, 9, 5), np.repeat(col, 5, axis=1), rtol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="output size"):
        resample(np.zeros((4, 4, 3)), 0, 3)
    with pytest.raises(ValueError, match="shape"):
        resample(np.zeros((4, 4, 3, 1)), 2, 2)
    with pytest.raises(TypeError, match="dtype"):
        resample_naive(np.zeros((4, 4, 3), dtype=np.int32), 2, 2)


# --------------------------------------------------------------------------- crops
CROP_BOXES = np.array([
    [1, 1, 40, 30],        # the whole image (1-based inclusive)
    [-5, -3, 10, 12],      # leaves at the top-left
    [35, 25, 60, 50],      # leaves at the bottom-right
    [50, 50, 60, 60],      # entirely outside
    [-100, -100, 200, 200],  # contains the image
    [5, 5, 4, 9],          # empty (x2 < x1)
    [3, 3, 3, 3],          # one pixel: enlarged
    [10, 5, 33, 28],       # 24x24 inside: identity at size 24
])


@pytest.mark.parametrize("size", [24, 48, 1])
def test_crop_twins_agree(rng, size):
    img = (rng.random((30, 40, 3)) * 255).astype(np.float32)
    fast = crop_resize(img, CROP_BOXES, size)
    ref = crop_and_resize_naive(img, CROP_BOXES, size)
    assert fast.shape == ref.shape == (len(CROP_BOXES), 3, size, size)
    assert fast.dtype == ref.dtype == np.float32
    np.testing.assert_allclose(fast, ref, rtol=1e-5, atol=1e-6)


def test_crop_values(rng):
    img = (rng.random((30, 40, 3)) * 255).astype(np.float32)
    out = crop_resize(img, CROP_BOXES, 24)
    black = (0 - 127.5) * 0.0078125
    np.testing.assert_array_equal(out[3], black)  # entirely outside
    np.testing.assert_array_equal(out[5], black)  # empty box
    expect = (img[4:28, 9:33].astype(np.float64) - 127.5) * 0.0078125
    np.testing.assert_allclose(out[7], expect.transpose(2, 0, 1), rtol=1e-6)  # identity crop
    np.testing.assert_allclose(out[6], np.broadcast_to(((img[2, 2] - 127.5) / 128)[:, None, None], (3, 24, 24)),
                               rtol=1e-6)
    assert crop_resize(img, np.zeros((0, 4), dtype=np.int64), 24).shape == (0, 3, 24, 24)
