"""tinymtcnn.align: Umeyama similarity transform and face warping."""
import numpy as np
import pytest

from tinymtcnn.align import ARCFACE_TEMPLATE_112, align_faces, similarity_transform, template_for_size, warp_affine
from tinymtcnn.detect.result import Detections


def _apply(m, pts):
    return pts @ m[:, :2].T + m[:, 2]


def _similarity(angle_deg, scale, tx, ty):
    a = np.deg2rad(angle_deg)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return np.hstack([scale * r, [[tx], [ty]]])


@pytest.mark.parametrize("angle, scale, tx, ty", [(0, 1, 0, 0), (30, 1.7, -12.5, 40.25), (-170, 0.3, 300, -7),
                                                  (90, 2.0, 1, 1)])
def test_known_transform_recovered(angle, scale, tx, ty):
    m = _similarity(angle, scale, tx, ty)
    src = ARCFACE_TEMPLATE_112
    np.testing.assert_allclose(similarity_transform(src, _apply(m, src)), m, atol=1e-10)


def test_least_squares_with_noise_beats_perturbations(rng):
    src = rng.normal(size=(5, 2)) * 20
    dst = _apply(_similarity(25, 1.3, 5, -3), src) + rng.normal(size=(5, 2))
    m = similarity_transform(src, dst)

    def cost(mm):
        return ((_apply(mm, src) - dst) ** 2).sum()

    best = cost(m)
    angle, scale = np.degrees(np.arctan2(m[1, 0], m[0, 0])), np.hypot(m[0, 0], m[1, 0])
    for da, ds, dx in [(0.5, 0, 0), (-0.5, 0, 0), (0, 0.01, 0), (0, -0.01, 0), (0, 0, 0.1)]:
        other = _similarity(angle + da, scale + ds, m[0, 2] + dx, m[1, 2])
        assert cost(other) > best
    np.testing.assert_allclose(m[0, 0], m[1, 1])  # a similarity: [[a, -b], [b, a]]
    np.testing.assert_allclose(m[0, 1], -m[1, 0])


def test_no_reflection_for_mirrored_points():
    src = ARCFACE_TEMPLATE_112
    mirrored = src * [-1, 1]
    m = similarity_transform(src, mirrored)
    assert np.linalg.det(m[:, :2]) > 0


def test_bad_points_rejected():
    with pytest.raises(ValueError, match="shape"):
        similarity_transform(np.zeros((5, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="same shape"):
        similarity_transform(np.ones((5, 2)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="coincide"):
        similarity_transform(np.ones((5, 2)), ARCFACE_TEMPLATE_112)
    with pytest.raises(ValueError, match="NaN"):
        similarity_transform(np.full((5, 2), np.nan), ARCFACE_TEMPLATE_112)


def test_identity_alignment_returns_same_pixels(rng):
    image = rng.integers(0, 256, (112, 112, 3), dtype=np.uint8)
    out = align_faces(image, ARCFACE_TEMPLATE_112[None])
    assert out.shape == (1, 112, 112, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0], image)


def test_other_size_is_scaled_template(rng):
    image = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    out = align_faces(image, ARCFACE_TEMPLATE_112 * 2, size=224)
    np.testing.assert_array_equal(out[0], image)


def test_margin_puts_the_template_in_the_centred_inner_square(rng):
    np.testing.assert_allclose(template_for_size(160, margin=40), ARCFACE_TEMPLATE_112 * 120 / 112 + 20)
    image = rng.integers(0, 256, (160, 160, 3), dtype=np.uint8)  # landmarks already where margin 40 wants them
    np.testing.assert_array_equal(align_faces(image, template_for_size(160, 40), size=160, margin=40)[0], image)
    with pytest.raises(ValueError, match="margin must be smaller than size"):
        align_faces(image, ARCFACE_TEMPLATE_112, size=112, margin=112)


def test_rotated_and_scaled_face_is_undone(rng):
    """Render a smooth pattern through a known similarity, align back: recovers the pattern."""
    v, u = np.mgrid[0:112, 0:112].astype(float)
    pattern = np.stack([127 + 100 * np.sin(u / 9), 127 + 100 * np.cos(v / 7), 127 + 60 * np.sin((u + v) / 11)], -1)
    m = _similarity(20, 1.5, 60, 30)  # template (crop) -> photo
    inv = np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2]
    photo = warp_affine(np.rint(pattern).astype(np.uint8), m, 300)  # photo[q] = pattern(m^-1 q)
    landmarks = _apply(m, ARCFACE_TEMPLATE_112)
    out = align_faces(photo, Detections(np.zeros((1, 4)), np.ones(1), landmarks[None]))[0]
    np.testing.assert_allclose(similarity_transform(landmarks, ARCFACE_TEMPLATE_112), inv, atol=1e-10)
    err = np.abs(out.astype(int) - np.rint(pattern).astype(int))[2:-2, 2:-2]  # the border blends with black
    assert np.median(err) <= 1 and err.max() <= 8, (np.median(err), err.max())  # two bilinear resamplings


def test_warp_zero_border():
    image = np.full((10, 10, 3), 200, np.uint8)
    m = np.array([[1.0, 0, 50], [0, 1, 50]])  # image moved far outside a 20 px crop
    np.testing.assert_array_equal(warp_affine(image, m, 20), 0)
    shift = np.array([[1.0, 0, 0.5], [0, 1, 0]])  # half-pixel shift: bilinear average
    out = warp_affine(np.array([[[0] * 3, [100] * 3]], np.uint8).repeat(2, 0), shift, 2)
    assert out[0, 1, 0] == 50


def test_empty_and_bad_inputs(rng):
    image = rng.integers(0, 256, (50, 60, 3), dtype=np.uint8)
    out = align_faces(image, Detections.empty(), size=64)
    assert out.shape == (0, 64, 64, 3) and out.dtype == np.uint8
    with pytest.raises(ValueError, match="landmarks"):
        align_faces(image, np.zeros((2, 4, 2)))
    with pytest.raises(ValueError, match="size"):
        align_faces(image, ARCFACE_TEMPLATE_112, size=0)
