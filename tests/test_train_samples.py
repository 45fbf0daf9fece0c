"""Training samples: IoU, targets that invert the detector's decoders, crops, mixing, shards."""
import numpy as np
import pytest
from _grading_asserts import assert_close, seed_repro

from tinymtcnn.detect.boxes import (apply_box_regression, decode_landmarks, points_to_zero_based, to_one_based,
                                    to_zero_based)
from tinymtcnn.detect.crops import crop_and_resize
from tinymtcnn.train.dataset import build_samples
from tinymtcnn.train.readers import Photo
from tinymtcnn.train.samples import (SamplingConfig, box_targets, crop_samples, iou, label_for_iou,
                                     landmark_targets, make_samples, photo_crops)
from tinymtcnn.train.sampleset import SampleSet, flip_targets, normalize_images
from tinymtcnn.train.synthetic import SyntheticFaces


@pytest.mark.task_6_2
def test_iou_by_hand():
    # 10x10 box vs a 10x10 box shifted by 5: overlap 50, union 150
    assert_close("iou", iou([0, 0, 10, 10], [[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30]]),
                 np.array([1 / 3, 1, 0]), rtol=1e-12, atol=1e-15,
                 repro="iou([0, 0, 10, 10], [[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30]])")
    for value, label in zip((0.7, 0.65, 0.5, 0.4, 0.35, 0.29), (1, 1, -1, -1, None, 0)):
        got = label_for_iou(value)
        assert got == label, f"label_for_iou({value}) is wrong: expected {label}, got {got}"


@pytest.mark.task_4_2
def test_box_targets_invert_the_rnet_onet_decoder(rng):
    crops = np.array([[10, 20, 34, 44], [0, 0, 48, 48]], dtype=float)
    gts = crops + rng.uniform(-6, 6, size=(2, 4))
    t = box_targets(crops, gts)
    one_based = crops + [1, 1, 0, 0]  # M's inclusive box of the same pixels
    decoded = to_zero_based(apply_box_regression(one_based, t, plus_one=True))
    assert_close("boxes decoded by apply_box_regression", decoded, gts, rtol=0, atol=1e-12,
                 repro=seed_repro(1234, "crops = np.array([[10, 20, 34, 44], [0, 0, 48, 48]], dtype=float); "
                                        "gts = crops + rng.uniform(-6, 6, size=(2, 4)); t = box_targets(crops, gts); "
                                        "apply_box_regression(crops + [1, 1, 0, 0], t, plus_one=True)"))


def test_landmark_targets_invert_decode_landmarks_and_are_planar(rng):
    crops = np.array([[10, 20, 34, 44]], dtype=float)
    pts = rng.uniform(10, 40, size=(1, 5, 2))
    t = landmark_targets(crops, pts)
    np.testing.assert_allclose(t[0, :5], (pts[0, :, 0] - 10) / 24)
    np.testing.assert_allclose(t[0, 5:], (pts[0, :, 1] - 20) / 24)
    # the detector decodes 1-based and reports points_to_zero_based of that
    np.testing.assert_allclose(points_to_zero_based(decode_landmarks(to_one_based(crops), t)), pts, atol=1e-12)


def test_crops_are_the_detectors_crops(rng):
    image = rng.integers(0, 256, size=(40, 50, 3), dtype=np.uint8)
    crops = np.array([[4, 5, 27, 28], [-4, -4, 19, 19], [31, 11, 50, 30]])  # 1-based inclusive, as the cascade's
    ours = crop_samples(image, crops, 12)
    assert ours.dtype == np.uint8 and ours.shape == (3, 3, 12, 12)
    raw = crop_and_resize(image, crops, 12, normalise=False)  # the detector's crops before normalising
    np.testing.assert_array_equal(ours, np.rint(raw))  # rounded once
    # normalised at batch time: the detector's net input to within half a grey level
    np.testing.assert_allclose(normalize_images(ours), crop_and_resize(image, crops, 12), rtol=0, atol=0.5 / 128 + 1e-7)


@pytest.mark.pipeline  # photo_crops labels with iou (task 6.2); this checks the coordinates, not the IoU
def test_sample_pixels_are_the_pixels_of_their_target_crop():
    # photo_crops labels 0-based half-open crops and hands 1-based ones to crop_samples: cut at their own
    # size (no resampling), the sample must be exactly the photo's pixels of the 0-based rectangle
    photo = SyntheticFaces(1, seed=4, faces=(2, 2), min_face=30, max_face=50, size=(150, 120))[0]
    crops = photo_crops(photo, np.random.default_rng(2), SamplingConfig(random_negatives=8, face_crops=8))
    assert crops["crops"].dtype == np.int64 and len(crops["crops"]) >= 10
    samples = make_samples(photo, 0, 24, crops)
    faces = 0
    for crop, side, label, t in zip(crops["crops"], samples["sides"], crops["labels"], crops["boxes"]):
        x1, y1, x2, y2 = to_zero_based(crop[None])[0].astype(int)
        assert side == x2 - x1 == y2 - y1
        np.testing.assert_array_equal(crop_samples(photo.image, crop[None], int(side))[0],
                                      photo.image[y1:y2, x1:x2].transpose(2, 0, 1))
        if label in (1, -1):  # the box targets were computed on that same 0-based rectangle: g - t*S
            implied = photo.boxes - t.astype(np.float64) * side
            assert np.abs(implied - [x1, y1, x2, y2]).max(axis=1).min() < 1e-3, (crop, implied)
            faces += 1
    assert faces >= 3


def test_flip_matches_cropping_the_mirrored_photo(rng):
    photo = SyntheticFaces(1, seed=5, faces=(1, 1), min_face=40, max_face=60, size=(96, 80))[0]
    w = photo.image.shape[1]
    g, pts = photo.boxes[0], photo.landmarks[0]
    crop = np.array([[int(g[0]) - 3, int(g[1]) - 2, int(g[0]) - 3 + 50, int(g[1]) - 2 + 50]])  # 0-based
    t_box, t_lm = box_targets(crop, g[None]), landmark_targets(crop, pts[None])
    fb, fl = flip_targets(t_box, t_lm, np.array([50.0]))
    # the same crop in the mirrored photo: columns x -> w - x (edges), pixel centres x -> w - 1 - x
    mcrop = np.array([[w - crop[0, 2], crop[0, 1], w - crop[0, 0], crop[0, 3]]])
    mg = np.array([[w - g[2], g[1], w - g[0], g[3]]])
    mpts = np.stack([w - 1 - pts[:, 0], pts[:, 1]], axis=1)[[1, 0, 2, 4, 3]]
    np.testing.assert_allclose(fb, box_targets(mcrop, mg), atol=1e-12)
    np.testing.assert_allclose(fl, landmark_targets(mcrop, mpts[None]), atol=1e-12)
    np.testing.assert_array_equal(crop_samples(photo.image, to_one_based(crop), 24)[..., ::-1],
                                  crop_samples(np.ascontiguousarray(photo.image[:, ::-1]), to_one_based(mcrop), 24))


@pytest.mark.task_6_2
def test_photo_crops_are_labelled_by_their_iou_and_deterministic():
    photo = SyntheticFaces(1, seed=3, faces=(2, 2), min_face=30, max_face=60, size=(160, 140))[0]
    a = photo_crops(photo, np.random.default_rng(1))
    b = photo_crops(photo, np.random.default_rng(1))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    for k, (crop, label) in enumerate(zip(to_zero_based(a["crops"]), a["labels"])):  # 1-based -> gts' convention
        best = iou(crop, photo.boxes).max()
        wrong = (label == 0 and not best < 0.3) or (label == 1 and not best >= 0.65) or \
            (label == -1 and not best >= 0.4)
        assert not wrong, f"crop {k} {crop.tolist()} has label {label} but its best IoU with the faces is {best:.4f}"
        assert crop[2] - crop[0] == crop[3] - crop[1] >= 12
    assert set(np.unique(a["labels"])) == {-2, -1, 0, 1}
    lm = a["labels"] == -2
    assert np.all((a["landmarks"][lm] > -0.3) & (a["landmarks"][lm] < 1.3))


@pytest.mark.task_6_2
def test_landmark_only_sources_give_no_detection_samples():
    photo = Photo(np.zeros((80, 80, 3), np.uint8), np.array([[10.0, 10, 70, 70]]),
                  np.array([[[30.0, 35], [50, 35], [40, 45], [32, 58], [48, 58]]]))
    cfg = SamplingConfig(random_negatives=0, near_negatives=0, face_crops=0, landmark_crops=5)
    labels = photo_crops(photo, np.random.default_rng(0), cfg)["labels"]
    assert len(labels) >= 1 and np.all(labels == -2)


def _toy_set(counts, size=12):
    labels = np.concatenate([np.full(n, v, np.int8) for v, n in zip((0, 1, -1, -2), counts)])
    n = len(labels)
    return SampleSet({"images": np.zeros((n, 3, size, size), np.uint8), "labels": labels,
                      "boxes": np.zeros((n, 4), np.float32), "landmarks": np.zeros((n, 10), np.float32),
                      "sides": np.full(n, 20, np.float32), "photos": np.arange(n, dtype=np.int32) % 10})


def test_mix_keeps_the_paper_ratio():
    mixed = _toy_set((1000, 100, 300, 500)).mix(rng=np.random.default_rng(0))
    assert mixed.counts() == {"negative": 300, "positive": 100, "part": 100, "landmark": 200}
    repeated = _toy_set((1000, 100, 300, 50)).mix(rng=np.random.default_rng(0), max_repeat=4)
    assert repeated.counts() == {"negative": 300, "positive": 100, "part": 100, "landmark": 200}
    no_landmarks = _toy_set((90, 30, 60, 0)).mix()
    assert no_landmarks.counts() == {"negative": 90, "positive": 30, "part": 30, "landmark": 0}


def test_split_is_by_photo():
    train, val = _toy_set((100, 50, 50, 50)).split(0.2, seed=1)
    assert len(train) + len(val) == 250
    assert not set(train["photos"]) & set(val["photos"]) and len(set(val["photos"])) == 2


@pytest.mark.task_6_2
def test_shards_are_deterministic_and_reused(tmp_path):
    photos = SyntheticFaces(5, seed=9, size=(96, 96))
    logs = []
    a = build_samples(photos, 12, tmp_path / "a", seed=4, shard_photos=2, progress=False, log=logs.append)
    assert len(list((tmp_path / "a").glob("shard-*.npz"))) == 3
    b = build_samples(photos, 12, tmp_path / "b", seed=4, shard_photos=5, progress=False)
    for k in a.arrays:
        np.testing.assert_array_equal(a[k], b[k])
    again = build_samples(photos, 12, tmp_path / "a", seed=4, shard_photos=2, progress=False, log=logs.append)
    assert any("reusing 3" in m for m in logs)
    np.testing.assert_array_equal(again["images"], a["images"])
    other = build_samples(photos, 12, tmp_path / "a", seed=5, shard_photos=2, progress=False, log=logs.append)
    assert any("rebuilding" in m for m in logs) and len(other) > 0
    batch = a.batch(np.arange(4), flip=np.array([True, False, True, False]))
    assert batch["images"].dtype == np.float32 and batch["images"].shape == (4, 3, 12, 12)
