"""Detection-speed kernels: one-pass pyramid levels (kernels/level.py), the tap runs they share with the
resampler and the crops, P-Net's 2x2 pooling, and the separate cache entries of serial and parallel builds."""
import numpy as np
import pytest

from tinymtcnn import MTCNN
from tinymtcnn.detect import stages
from tinymtcnn.detect.pyramid import normalize
from tinymtcnn.kernels import conv_direct
from tinymtcnn.kernels import level as k_level
from tinymtcnn.kernels import resample as resample_kernels
from tinymtcnn.kernels import maxpool as pool_kernels
from tinymtcnn.detect.crops import crop_and_resize_naive
from tinymtcnn.kernels.resample import axis_taps, axis_weights_naive, crop_resize, resample
from tinymtcnn.kernels.resample_rows import _acc_like, _tap_runs
from tinymtcnn.threads import limit_threads

SIZES = [(61, 83, 37, 50), (100, 80, 71, 57), (30, 40, 30, 40), (13, 7, 20, 31), (300, 200, 14, 12), (5, 9, 1, 1)]


@pytest.mark.parametrize("n_in,n_out", [(10, 3), (7, 5), (1000, 14), (1001, 1000), (3, 7), (5, 5), (1, 4), (3, 1)])
def test_tap_runs_are_the_dense_weights(n_in, n_out):
    first, run, span = _tap_runs(*axis_taps(n_in, n_out))
    dense = np.zeros((n_out, n_in + run.shape[1]))
    for b in range(n_out):
        dense[b, first[b]:first[b] + run.shape[1]] = run[b]
    assert not dense[:, n_in:].any()  # past the end: weight 0 only
    np.testing.assert_allclose(dense[:, :n_in], axis_weights_naive(n_in, n_out), rtol=0, atol=1e-15)


@pytest.mark.parametrize("h,w,oh,ow", SIZES)
def test_level_matches_twin_and_is_normalised_resample_bit_for_bit(rng, h, w, oh, ow):
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    out = k_level.pyramid_level(img, oh, ow)
    assert out.shape == (3, oh, ow) and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, normalize(resample(img, oh, ow)).transpose(2, 0, 1))
    np.testing.assert_allclose(out, k_level.pyramid_level_naive(img, oh, ow), rtol=0, atol=2e-6)
    np.testing.assert_array_equal(k_level.pyramid_level(img.astype(np.float64), oh, ow), out)


def test_level_bad_arguments(rng):
    with pytest.raises(ValueError):
        k_level.pyramid_level(np.zeros((5, 5), np.uint8), 3, 3)
    with pytest.raises(ValueError):
        k_level.pyramid_level(np.zeros((5, 5, 3), np.uint8), 0, 3)
    with pytest.raises(TypeError):
        k_level.pyramid_level(np.zeros((5, 5, 3), np.int32), 3, 3)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.pipeline
def test_propose_fast_path_equals_the_level_by_level_path(rng, threads):
    # the one-pass levels (no on_level) and iter_pyramid + pnet_level (on_level given) give the same bits
    img = np.clip(rng.normal(128, 60, (90, 120, 3)), 0, 255).astype(np.uint8)
    pnet = MTCNN(thresholds=(0.3, 0.7, 0.7)).nets["pnet"]
    with limit_threads(threads, blas=1):
        fast = stages.propose(img, pnet, threshold=0.3)
        slow = stages.propose(img, pnet, threshold=0.3, on_level=lambda *_: None)
    assert len(fast.boxes) > 0
    np.testing.assert_array_equal(fast.boxes, slow.boxes)
    np.testing.assert_array_equal(fast.scores, slow.scores)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_crops_of_boxes_outside_the_image_are_black(rng, dtype):
    # every side, near and far: the in-image column range is empty (it once ran past the row buffers)
    img = rng.integers(0, 256, (40, 50, 3)).astype(dtype)
    boxes = np.array([[55, 3, 60, 9], [51, 1, 300, 40], [-100, 3, -60, 90], [-5, 3, 0, 9],
                      [3, 55, 9, 80], [3, -80, 9, -1], [-300, -300, -200, -250]])
    black = np.float32((0 - 127.5) * 0.0078125)
    for size in (1, 2, 24):
        out = crop_resize(img, boxes, size)
        np.testing.assert_array_equal(out, np.full(out.shape, black))
        np.testing.assert_allclose(out, crop_and_resize_naive(img, boxes, size), atol=1e-6)


@pytest.mark.parametrize("h,w", [(8, 8), (9, 8), (8, 9), (9, 9), (2, 3), (1, 1), (3, 1)])
@pytest.mark.pipeline
def test_pnet_maxpool_rows_match_the_twin(rng, h, w):
    x = rng.standard_normal((4, h, w)).astype(np.float32)
    ref = pool_kernels.maxpool_forward_naive(x[..., None], 2, 2)[0][..., 0]
    out = np.empty_like(ref)
    conv_direct._maxpool2_rows(x, out)
    np.testing.assert_array_equal(out, ref)
