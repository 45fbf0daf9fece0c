"""Procedural faces: deterministic, boxes inside the photo, landmarks on the drawn features."""
import numpy as np
import pytest

from tinymtcnn.train.synthetic import SyntheticFaces


def test_deterministic_by_seed_and_index():
    a, b = SyntheticFaces(3, seed=7), SyntheticFaces(3, seed=7)
    for i in range(3):
        np.testing.assert_array_equal(a[i].image, b[i].image)
        np.testing.assert_array_equal(a[i].boxes, b[i].boxes)
    assert not np.array_equal(SyntheticFaces(1, seed=8)[0].image, a[0].image) or \
        a[0].image.shape != SyntheticFaces(1, seed=8)[0].image.shape
    assert a.fingerprint == b.fingerprint != SyntheticFaces(3, seed=8).fingerprint


def test_shapes_boxes_and_landmark_order():
    ds = SyntheticFaces(12, seed=1, faces=(1, 4))
    n_faces = 0
    for i in range(len(ds)):
        p = ds[i]
        h, w = p.image.shape[:2]
        assert p.image.dtype == np.uint8 and p.image.shape[2] == 3
        assert p.boxes.shape == (len(p.boxes), 4) and p.landmarks.shape == (len(p.boxes), 5, 2)
        n_faces += len(p.boxes)
        for box, pts in zip(p.boxes, p.landmarks):
            assert box[0] >= 0 and box[1] >= 0 and box[2] <= w and box[3] <= h
            assert box[2] - box[0] == pytest.approx(box[3] - box[1]) and box[2] - box[0] >= 14
            assert np.all((pts[:, 0] > box[0]) & (pts[:, 0] < box[2]) & (pts[:, 1] > box[1]) & (pts[:, 1] < box[3]))
            assert pts[0, 0] < pts[1, 0] and pts[3, 0] < pts[4, 0]  # image-left first
            assert pts[2, 1] > pts[:2, 1].mean() and pts[3:, 1].mean() > pts[2, 1]
    assert n_faces >= 12


def test_landmarks_sit_on_the_drawn_features():
    """Pupils are drawn black at the eye landmarks: the pixel there is much darker than the face."""
    ds = SyntheticFaces(6, seed=2, faces=(1, 1), min_face=120, max_face=150, size=(200, 200))
    for i in range(len(ds)):
        p = ds[i]
        img = p.image.astype(float).mean(axis=2)
        x1, y1, x2, y2 = p.boxes[0].astype(int)
        face = np.median(img[y1:y2, x1:x2])
        for x, y in p.landmarks[0, :2]:
            assert img[int(round(y)), int(round(x))] < 0.6 * face + 5
