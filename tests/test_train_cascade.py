"""Cascade evaluation (matching, recall, landmark error) and the end-to-end ``train all`` on a few photos."""
import json

import numpy as np
import pytest
from _grading_asserts import assert_close

from tinymtcnn.detect.result import Detections
from tinymtcnn.train.cascade import evaluate_detector, match_detections
from tinymtcnn.train.cli import main as train_main
from tinymtcnn.train.synthetic import SyntheticFaces


@pytest.mark.task_6_2
def test_matching_is_greedy_by_score_and_one_to_one():
    gt = np.array([[0.0, 0, 10, 10], [20, 20, 30, 30]])
    pred = np.array([[0.0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]])
    for scores, expected in (([0.5, 0.9, 0.8], [(1, 0)]), ([0.9, 0.5, 0.8], [(0, 0)])):
        got = match_detections(pred, np.array(scores), gt)
        assert got == expected, (f"match_detections(pred, {scores}, gt) is wrong: expected {expected}, got {got} "
                                 f"(pred {pred.tolist()}, gt {gt.tolist()}; uses your iou)")
    got = match_detections(pred[:0], np.zeros(0), gt)
    assert got == [], f"no detections must match nothing, got {got}"


class _Oracle:
    """Returns the ground truth of the photos it is asked about, with shifted landmarks and one false positive."""

    def __init__(self, photos, shift):
        self.truth = {photos[i].image.tobytes(): photos[i] for i in range(len(photos))}
        self.shift = shift

    def detect(self, image):
        p = self.truth[image.tobytes()]
        boxes = np.concatenate([p.boxes, [[0.0, 0, 5, 5]]])
        lms = np.concatenate([p.landmarks + [self.shift, 0], np.zeros((1, 5, 2))])
        return Detections(boxes, np.linspace(1, 0.5, len(boxes)), lms)


@pytest.mark.task_6_2
def test_evaluate_detector_counts_and_normalises_landmark_error():
    photos = SyntheticFaces(3, seed=4, faces=(1, 2), min_face=30)
    r = evaluate_detector(_Oracle(photos, 2.0), photos, progress=False)
    n = sum(len(photos[i].boxes) for i in range(3))
    expected = {"recall": 1.0, "faces": n, "detections": n + 3, "false_positives_per_photo": 1.0}
    got = {k: r[k] for k in expected}
    assert got == expected, f"evaluate_detector (it uses your iou) is wrong: expected {expected}, got {got}"
    iod = np.concatenate([np.linalg.norm(photos[i].landmarks[:, 1] - photos[i].landmarks[:, 0], axis=1)
                          for i in range(3)])
    assert_close("landmark_nme", np.float64(r["landmark_nme"]), np.float64(np.mean(2.0 / iod)),
                 repro="photos = SyntheticFaces(3, seed=4, faces=(1, 2), min_face=30) and _Oracle(photos, 2.0) "
                       "of tests/test_train_cascade.py")


@pytest.mark.pipeline
def test_train_all_end_to_end_on_a_few_photos(tmp_path, capsys):
    """``train all`` on two small photos given as a JSON annotation file (CLI path of real data)."""
    from PIL import Image

    photos = SyntheticFaces(2, seed=6, faces=(1, 2), min_face=20, max_face=40, size=(72, 64))
    records = []
    for i in range(len(photos)):
        p = photos[i]
        Image.fromarray(p.image).save(tmp_path / f"p{i}.png")
        records.append({"image": f"p{i}.png", "boxes": p.boxes.tolist(), "landmarks5": p.landmarks.tolist()})
    (tmp_path / "a.json").write_text(json.dumps(records))
    out = tmp_path / "run"
    status = train_main(["train", "all", "--data", str(tmp_path / "a.json"), "--classroom", "--epochs", "1",
                         "--out", str(out), "--no-progress", "--workers", "1"])
    assert status == 0
    for kind in ("pnet", "rnet", "onet"):
        assert (out / f"{kind}.npz").is_file() and (out / f"{kind}.ckpt.npz").is_file()
    text = capsys.readouterr().out
    assert "onet epoch 1/1" in text and "weights written" in text
