"""Annotation readers: WIDER bbx_gt, FDDB ellipses, landmark lists, JSON; errors name file and line."""
import json
import math

import numpy as np
import pytest

from tinymtcnn.train.readers import (box_from_landmarks, read_annotations, read_fddb, read_json,
                                     read_landmark_list, read_wider)


def test_wider(tmp_path):
    f = tmp_path / "bbx_gt.txt"
    f.write_text("a/1.jpg\n2\n10 20 30 40 0 0 0 0 0 0\n1 2 3 4 0 0 0 1 0 0\nb.jpg\n0\n0 0 0 0 0 0 0 0 0 0\n"
                 "c.jpg\n1\n5.5 6 7 8\n")
    photos = read_wider(f, tmp_path / "imgs")
    assert len(photos) == 3
    np.testing.assert_array_equal(photos.annotations[0].boxes, [[10, 20, 40, 60]])  # invalid face dropped
    assert photos.annotations[1].boxes.shape == (0, 4)
    np.testing.assert_array_equal(photos.annotations[2].boxes, [[5.5, 6, 12.5, 14]])
    assert photos.annotations[0].path == tmp_path / "imgs" / "a/1.jpg"


def test_wider_errors_name_file_and_line(tmp_path):
    f = tmp_path / "bad.txt"
    f.write_text("a.jpg\n1\n10 20 x 40\n")
    with pytest.raises(ValueError, match=r"bad.txt:3"):
        read_wider(f)
    f.write_text("a.jpg\ntwo\n")
    with pytest.raises(ValueError, match=r"bad.txt:2: expected a face count"):
        read_wider(f)
    f.write_text("a.jpg\n2\n1 2 3 4\n")
    with pytest.raises(ValueError, match=r"bad.txt:4"):
        read_wider(f)


def test_fddb_ellipse_bounding_box(tmp_path):
    f = tmp_path / "FDDB-fold-01-ellipseList.txt"
    f.write_text(f"2002/07/19/big/img_1\n2\n20 10 {math.pi / 2} 100 50 1\n20 10 0 30 40 1\n")
    photos = read_annotations(f, tmp_path)
    np.testing.assert_allclose(photos.annotations[0].boxes, [[90, 30, 110, 70], [10, 30, 50, 50]], atol=1e-9)
    assert photos.annotations[0].path.name == "img_1.jpg"
    f.write_text("x\n1\n20 10 0.1\n")
    with pytest.raises(ValueError, match=r"ellipseList.txt:3"):
        read_fddb(f, tmp_path)
    f.write_text("x\n2\n20 10 0 30 40 1\n")
    with pytest.raises(ValueError, match=r"ellipseList.txt:4: expected 2 ellipses for 'x', file ended"):
        read_fddb(f, tmp_path)
    f.write_text("x\n1\n20 10 0 30 40 1\ny\n")
    with pytest.raises(ValueError, match=r"ellipseList.txt:5: missing face count after 'y'"):
        read_fddb(f, tmp_path)


def test_landmark_list_planar_and_interleaved(tmp_path):
    f = tmp_path / "training.txt"
    f.write_text("lfw/a.jpg 30 50 40 32 48 35 35 45 58 58\n")
    p = read_landmark_list(f).annotations[0]
    np.testing.assert_array_equal(p.landmarks[0], [[30, 35], [50, 35], [40, 45], [32, 58], [48, 58]])
    assert p.boxes.shape == (1, 4) and p.boxes[0, 0] < 30 and p.boxes[0, 2] > 50
    f.write_text("a.jpg 30 35 50 35 40 45 32 58 48 58\n")
    q = read_landmark_list(f, layout="interleaved").annotations[0]
    np.testing.assert_array_equal(q.landmarks, p.landmarks)
    f.write_text("a.jpg 1 2 3\n")
    with pytest.raises(ValueError, match=r"training.txt:1: expected an image path and 10 numbers"):
        read_landmark_list(f)


def test_box_from_landmarks_is_square_and_centred():
    pts = np.array([[[30.0, 35], [50, 35], [40, 45], [32, 58], [48, 58]]])
    b = box_from_landmarks(pts)[0]
    assert b[2] - b[0] == pytest.approx(b[3] - b[1]) == pytest.approx(2.44 * 23)
    assert (b[0] + b[2]) / 2 == pytest.approx(40)


def test_json(tmp_path):
    f = tmp_path / "a.json"
    f.write_text(json.dumps([{"image": "x.jpg", "boxes": [[1, 2, 3, 4], [5, 6, 7, 8]], "ignore": [False, True],
                              "landmarks5": [[[0, 0]] * 5, [[1, 1]] * 5]}]))
    p = read_json(f).annotations[0]
    np.testing.assert_array_equal(p.boxes, [[1, 2, 3, 4]])
    assert p.landmarks.shape == (1, 5, 2)
    f.write_text("[{\"image\": 1,}]")
    with pytest.raises(ValueError, match=r"a.json:1: invalid JSON"):
        read_json(f)


@pytest.mark.shared
def test_shared_annotation_files(shared_dir):
    data = shared_dir / "data"
    dev = read_json(data / "faces_dev" / "annotations.json")
    assert len(dev) == 71
    assert dev[0].image.ndim == 3
    caltech = read_wider(data / "caltech_train" / "train_bbx_gt.txt", data / "caltech_train" / "images")
    assert len(caltech) == 4953 and all(len(a.boxes) >= 1 for a in caltech.annotations)
    mtfl = read_landmark_list(data / "mtfl_train" / "training.txt")
    assert len(mtfl) == 10000
    p = mtfl[0]
    assert p.image.shape[:2] == (80, 80)
