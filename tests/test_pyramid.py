"""Image pyramid (detect_face.m scale loop, ceil level sizes, resample + normalise)."""
import math

import numpy as np
import pytest

from tinymtcnn.detect.pyramid import build_pyramid, iter_pyramid, level_size, normalize, pyramid_scales
from tinymtcnn.kernels.resample import resample_naive


def test_spec_example_min_side_240():
    # Spec §4: min side 240, minsize 20 -> 8 levels, the smallest one 13 px (ceil).
    scales = pyramid_scales(240, 320)
    assert len(scales) == 8
    assert level_size(240, 320, scales[-1])[0] == 13
    assert scales[0] == pytest.approx(0.6)
    np.testing.assert_allclose(np.diff(np.log(scales)), math.log(0.709))


def test_level_size_spec_example():
    assert level_size(500, 500, 0.6) == (300, 300)  # spec §4 table (M: ceil)
    assert level_size(100, 7, 0.5) == (50, 4)
    assert level_size(3, 3, 1.2) == (4, 4)


@pytest.mark.parametrize("min_face", [10, 20, 40, 80])
def test_level_count_matches_closed_form(min_face):
    for min_side in range(1, 1100, 7):
        ratio = math.log(min_side / min_face) / math.log(1 / 0.709)
        if abs(ratio - round(ratio)) < 1e-9:
            continue  # exact boundary: float rounding decides, as in M
        expected = max(math.floor(ratio) + 1, 0)
        assert len(pyramid_scales(min_side, min_side + 3, min_face)) == expected


def test_smallest_level_is_at_least_a_pnet_window():
    for h, w in [(12, 12), (20, 33), (240, 320), (481, 640), (1080, 1920)]:
        for scale in pyramid_scales(h, w):
            assert min(level_size(h, w, scale)) >= 12


def test_no_levels_when_image_is_smaller_than_min_face():
    assert pyramid_scales(19, 500) == []
    assert build_pyramid(np.zeros((19, 500, 3), np.uint8)) == []


def test_small_min_face_enlarges():
    scales = pyramid_scales(30, 40, min_face_size=10)
    assert scales[0] == pytest.approx(1.2)
    assert level_size(30, 40, scales[0]) == (36, 48)
    assert pyramid_scales(5, 5, min_face_size=1)[0] == 12.0


def test_normalize():
    out = normalize(np.array([0, 127.5, 255], dtype=np.float32))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [-0.99609375, 0.0, 0.99609375])
    assert normalize(np.array([[0]], np.uint8)).dtype == np.float32


def test_iter_and_build_agree_and_levels_are_resampled_normalised(rng):
    img = rng.integers(0, 256, (61, 83, 3)).astype(np.uint8)
    levels = build_pyramid(img, 15, 0.6)
    streamed = list(iter_pyramid(img, 15, 0.6))
    assert [s for s, _ in levels] == pyramid_scales(61, 83, 15, 0.6)
    assert len(streamed) == len(levels) >= 2
    for (s1, l1), (s2, l2) in zip(levels, streamed):
        assert s1 == s2
        np.testing.assert_array_equal(l1, l2)
        assert l1.dtype == np.float32 and l1.shape == level_size(61, 83, s1) + (3,)
        expect = (resample_naive(img, *l1.shape[:2]).astype(np.float64) - 127.5) / 128
        np.testing.assert_allclose(l1, expect, atol=2e-6)


def test_iter_pyramid_is_lazy():
    gen = iter_pyramid(np.zeros((100, 100, 3), np.uint8))
    scale, level = next(gen)
    assert scale == pytest.approx(0.6) and level.shape == (60, 60, 3)


def test_bad_arguments():
    with pytest.raises(ValueError, match="min_face_size"):
        pyramid_scales(100, 100, min_face_size=0.5)
    for bad in (0, 1, 1.5, -0.2):
        with pytest.raises(ValueError, match="scale_factor"):
            pyramid_scales(100, 100, scale_factor=bad)
    with pytest.raises(ValueError, match="shape"):
        build_pyramid(np.zeros((10, 10), np.uint8))
    with pytest.raises(TypeError, match="dtype"):
        iter_pyramid(np.zeros((30, 30, 3), np.int16))  # eager, before the first level
