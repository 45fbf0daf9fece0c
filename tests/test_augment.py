"""Mosaics, blur and joined photo sequences (:mod:`tinymtcnn.train.augment`): pixels and boxes agree."""
import json

import numpy as np
import pytest

from tinymtcnn.train.augment import BlurredPhotos, JoinedPhotos, MosaicPhotos, blur_image
from tinymtcnn.train.dataset import build_samples
from tinymtcnn.train.readers import Photo
from tinymtcnn.train.samples import SamplingConfig

RED, GREEN = (255, 0, 0), (0, 255, 0)


class Listed:
    """A plain photo sequence with a fingerprint."""

    def __init__(self, photos, name="listed"):
        self.photos, self.fingerprint = list(photos), name

    def __len__(self):
        return len(self.photos)

    def __getitem__(self, i):
        return self.photos[i]


def pattern_photo(size=(300, 200), faces=((40, 50, 140, 150),), colours=(RED,)):
    """A grey photo whose 'faces' are solid squares; five points at fixed fractions of each box."""
    w, h = size
    image = np.full((h, w, 3), 128, dtype=np.uint8)
    boxes = np.array(faces, dtype=np.float64).reshape(-1, 4)
    for (x1, y1, x2, y2), colour in zip(boxes.astype(int), colours):
        image[y1:y2, x1:x2] = colour
    points = boxes[:, None, :2] + FRACTIONS[None] * (boxes[:, None, 2:] - boxes[:, None, :2])
    return Photo(image, boxes, points, "pattern")


FRACTIONS = np.array([[0.3, 0.35], [0.7, 0.35], [0.5, 0.55], [0.35, 0.75], [0.65, 0.75]])


def _strong(image, colour):
    """Pixels of exactly-ish ``colour`` (resampling blends only the edges)."""
    return np.all(np.abs(image.astype(int) - np.array(colour)) < 40, axis=2)


def test_boxes_and_points_follow_the_pixels():
    photos = Listed([pattern_photo(), pattern_photo((200, 260), ((20, 30, 180, 190),))])
    mosaics = MosaicPhotos(photos, 6, seed=3, blur=0.0)
    for i in range(len(mosaics)):
        m = mosaics[i]
        g = m.image.shape[0] // mosaics.cell
        assert m.image.shape == (g * 96, g * 96, 3) and len(m.boxes) == g * g  # one face per cell, all kept
        red = _strong(m.image, RED)
        covered = np.zeros_like(red)
        for x1, y1, x2, y2 in m.boxes:
            inner = red[int(np.ceil(y1)) + 1:int(y2) - 1, int(np.ceil(x1)) + 1:int(x2) - 1]
            assert inner.size and inner.all()  # the face's pixels are inside its box
            covered[max(0, int(y1) - 1):int(np.ceil(y2)) + 1, max(0, int(x1) - 1):int(np.ceil(x2)) + 1] = True
        assert not (red & ~covered).any()  # and no face pixels outside the boxes
        boxes = m.boxes[:, None]
        expected = boxes[..., :2] + FRACTIONS[None] * (boxes[..., 2:] - boxes[..., :2])
        np.testing.assert_allclose(m.landmarks, expected, atol=1e-9)


def test_face_sizes_land_in_the_range_and_inside_the_canvas():
    photos = Listed([pattern_photo(), pattern_photo((640, 480), ((100, 100, 400, 400),)),
                     pattern_photo((120, 120), ((50, 50, 66, 66),))])  # a 16-px face is scaled up
    mosaics = MosaicPhotos(photos, 20, seed=0, face_sides=(12, 40))
    sides = []
    for i in range(len(mosaics)):
        m = mosaics[i]
        h, w = m.image.shape[:2]
        assert (m.boxes[:, :2] >= 0).all() and (m.boxes[:, 2] <= w).all() and (m.boxes[:, 3] <= h).all()
        sides += list(np.maximum(m.boxes[:, 2] - m.boxes[:, 0], m.boxes[:, 3] - m.boxes[:, 1]))
    sides = np.array(sides)
    assert sides.min() >= 12 - 0.5 and sides.max() <= 40 + 0.5
    assert sides.min() < 16 and sides.max() > 36  # spread over the range, not one size


def test_a_face_the_window_cuts_is_erased_not_left_unannotated():
    # a large red face chosen for the scale and a green one beside it that windows often cut
    photo = pattern_photo((600, 200), ((0, 40, 120, 160), (250, 40, 350, 140)), (RED, GREEN))
    mosaics = MosaicPhotos(Listed([photo]), 30, seed=1, blur=0.0, grid=(1, 1))
    kept = dropped = 0
    for i in range(len(mosaics)):
        m = mosaics[i]
        green_boxes = [b for b in m.boxes if _strong(m.image[int(b[1]) + 1:int(b[3]) - 1,
                                                             int(b[0]) + 1:int(b[2]) - 1], GREEN).all()]
        assert len(m.boxes) == 1 + len(green_boxes)  # the red face, always kept, and the green one if whole
        kept += len(green_boxes)
        if not green_boxes:
            dropped += 1
            assert not _strong(m.image, GREEN).any()  # a green face not in the boxes left no pixels behind
    assert kept > 0 and dropped > 0  # both cases happened


def test_deterministic_by_seed_and_independent_of_order():
    photos = Listed([pattern_photo(), pattern_photo((200, 260), ((20, 30, 180, 190),))])
    a, b = MosaicPhotos(photos, 5, seed=7), MosaicPhotos(photos, 5, seed=7)
    later_first = [b[i] for i in (4, 2, 0)]
    for i, other in zip((4, 2, 0), later_first):
        np.testing.assert_array_equal(a[i].image, other.image)
        np.testing.assert_array_equal(a[i].boxes, other.boxes)
    c = MosaicPhotos(photos, 5, seed=8)
    assert any(a[i].image.shape != c[i].image.shape or not np.array_equal(a[i].image, c[i].image) for i in range(5))
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_edge_cases():
    with pytest.raises(ValueError, match="at least one photo"):
        MosaicPhotos(Listed([]), 3)
    with pytest.raises(ValueError, match="cell"):
        MosaicPhotos(Listed([pattern_photo()]), 3, cell=40)
    with pytest.raises(ValueError, match="face_sides"):
        MosaicPhotos(Listed([pattern_photo()]), 3, face_sides=(30, 20))
    assert len(MosaicPhotos(Listed([pattern_photo()]), 0)) == 0
    one = MosaicPhotos(Listed([pattern_photo()]), 2, grid=(1, 1))
    assert len(one[1].boxes) == 1
    with pytest.raises(IndexError):
        one[2]
    blank = Photo(np.full((150, 200, 3), 90, np.uint8), np.zeros((0, 4)), None, "blank")
    m = MosaicPhotos(Listed([blank]), 1, grid=(2, 2))[0]
    assert m.boxes.shape == (0, 4) and m.landmarks is None and m.image.shape == (192, 192, 3)
    no_points = Photo(pattern_photo().image, pattern_photo().boxes, None)
    assert MosaicPhotos(Listed([no_points]), 1)[0].landmarks is None


def test_blur_keeps_the_frame_and_removes_detail():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (60, 80, 3)).astype(np.uint8)
    blurred = blur_image(image, 3.0)
    assert blurred.shape == image.shape and blurred.dtype == np.uint8
    assert np.abs(np.diff(blurred.astype(int), axis=1)).mean() < 0.5 * np.abs(np.diff(image.astype(int), axis=1)).mean()
    np.testing.assert_array_equal(blur_image(image, 1.0), image)
    with pytest.raises(ValueError, match=">= 1"):
        blur_image(image, 0.5)
    photos = Listed([pattern_photo(), pattern_photo()])
    assert all(np.array_equal(BlurredPhotos(photos, share=0.0)[i].image, photos[i].image) for i in range(2))
    always = BlurredPhotos(photos, share=1.0)
    assert not np.array_equal(always[0].image, photos[0].image)
    np.testing.assert_array_equal(always[0].boxes, photos[0].boxes)


def test_joined_photos_index_across_parts():
    a, b = Listed([pattern_photo()] * 2, "a"), Listed([pattern_photo((100, 100), ((10, 10, 50, 50),))], "b")
    joined = JoinedPhotos(a, Listed([], "empty"), b)
    assert len(joined) == 3 and joined[2].image.shape == (100, 100, 3) and joined[1].image.shape == (200, 300, 3)
    with pytest.raises(IndexError):
        joined[3]
    assert joined.fingerprint == "(a)+(empty)+(b)"


@pytest.mark.pipeline  # samples use task 6.2's IoU and labels
def test_mosaics_feed_the_sample_cache(tmp_path):
    photos = MosaicPhotos(Listed([pattern_photo(), pattern_photo((640, 480), ((100, 100, 400, 400),))]), 4)
    logs = []
    first = build_samples(photos, 12, tmp_path, config=SamplingConfig(min_face=12.0), progress=False,
                          log=logs.append)
    assert first.counts()["positive"] > 0 and set(first.arrays["photos"]) == {0, 1, 2, 3}
    again = build_samples(photos, 12, tmp_path, config=SamplingConfig(min_face=12.0), progress=False,
                          log=logs.append)
    assert any("reusing" in line for line in logs)
    np.testing.assert_array_equal(first.arrays["images"], again.arrays["images"])


@pytest.mark.pipeline  # runs the trainer
def test_train_command_adds_mosaics_to_the_photos(tmp_path, capsys):
    from tinymtcnn.train.cli import main as train_main

    out = tmp_path / "run"
    argv = ["train", "pnet", "--synthetic", "3", "--mosaics", "2", "--plan", "reference", "--epochs", "1",
            "--workers", "1", "--no-progress", "--out", str(out)]
    assert train_main(argv) == 0
    manifest = json.loads((out / "samples" / "pnet" / "manifest.json").read_text())
    assert manifest["n_photos"] == 5 and "mosaic(" in manifest["source"] and manifest["config"]["min_face"] == 12.0
    assert "pnet epoch 1/1" in capsys.readouterr().out
