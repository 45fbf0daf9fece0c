"""Validation metrics of the trainer: recall of the positive samples by face size, and the log line."""
import numpy as np
import pytest

from tinymtcnn.train.metrics import (evaluate_samples, format_record, recall_by_face_size,
                                     sample_face_sizes)
from tinymtcnn.train.sampleset import SampleSet


def _samples(sides, labels, boxes=None, bright=None):
    """12-px samples of the given crop sides and labels; ``bright`` ones are white (faces to the stub net)."""
    n = len(sides)
    images = np.zeros((n, 3, 12, 12), np.uint8)
    if bright is not None:
        images[np.asarray(bright, bool)] = 255
    boxes = np.zeros((n, 4), np.float32) if boxes is None else np.asarray(boxes, np.float32)
    return SampleSet({"images": images, "labels": np.asarray(labels, np.int8), "boxes": boxes,
                      "landmarks": np.zeros((n, 10), np.float32), "sides": np.asarray(sides, np.float32),
                      "photos": np.arange(n, dtype=np.int32)}, 12)


def test_face_size_comes_from_the_crop_side_and_the_box_target():
    # a 40-px crop whose face starts 4 px in and ends 4 px short on x (32 wide), 0/-8 px on y (32 high)
    s = _samples([40, 10], [1, -1], boxes=[[0.1, 0.0, -0.1, -0.2], [0.0, 0.0, 0.0, 0.0]])
    assert sample_face_sizes(s) == pytest.approx([32.0, 10.0])
    s = _samples([30], [1], boxes=[[0.0, 0.0, 0.0, -0.5]])  # 30 wide, 15 high
    assert sample_face_sizes(s) == pytest.approx([np.sqrt(30 * 15)])


def test_recall_by_face_size_counts_only_positives_per_bin():
    sides = [10, 15, 30, 30, 50, 100, 200, 10, 300]
    labels = [1, 1, 1, 1, 1, 1, 1, 0, -1]  # a negative and a part sample: not counted
    prob = np.array([0.9, 0.1, 0.6, 0.4, 0.2, 0.7, 0.8, 0.9, 0.1])
    rows = recall_by_face_size(prob, _samples(sides, labels))
    assert [r["bin"] for r in rows] == ["0-20 px", "20-40 px", "40-80 px", ">= 80 px"]
    assert [r["faces"] for r in rows] == [2, 2, 1, 2]
    assert [r["recall"] for r in rows] == [0.5, 0.5, 0.0, 1.0]
    rows = recall_by_face_size(prob[:2], _samples(sides[:2], labels[:2]))
    assert rows[0]["recall"] == 0.5 and all(r["recall"] is None and r["faces"] == 0 for r in rows[1:])
    assert rows == recall_by_face_size(prob[:2], _samples(sides[:2], labels[:2]))  # a history equals itself


class _BrightIsFace:
    """A stand-in net: P(face) is 1 for a white crop, 0 for a black one (zero box/landmark outputs)."""

    training = False

    def eval(self):
        return self

    def train(self, mode=True):
        return self

    def forward(self, images):
        white = np.asarray(images).reshape(len(images), -1).mean(axis=1) > 0
        logits = np.stack([np.where(white, -20.0, 20.0), np.where(white, 20.0, -20.0)], axis=1)
        return {"face_logits": logits, "face_prob": white.astype(np.float64), "box_reg": np.zeros((len(images), 4)),
                "landmarks": np.zeros((len(images), 10))}


@pytest.mark.pipeline  # evaluate_samples runs the joint loss (a student task)
def test_validation_reports_the_small_faces_it_misses():
    # the net finds the large positives and misses the small ones: overall recall hides which
    sides = [12, 16, 25, 35, 60, 90, 120, 150, 14, 200]
    labels = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]
    bright = [False, False, False, True, True, True, True, True, True, False]
    m = evaluate_samples(_BrightIsFace(), _samples(sides, labels, bright=bright))
    assert m["recall"] == pytest.approx(5 / 8)
    assert [(r["faces"], r["recall"]) for r in m["recall_by_size"]] == [(2, 0.0), (2, 0.5), (1, 1.0), (3, 1.0)]
    rec = {"epoch": 1, "lr": 0.01, "seconds": 1.0, "cpu_seconds": 1.0, "val": m,
           "train": {"loss": 0.1, "cls": 0.1, "box": 0.0, "landmark": 0.0}}
    line = format_record("pnet", rec, 3)
    assert "(recall by px <20 .000 20-40 .500 40-80 1.000 80+ 1.000)" in line
    del rec["val"]["recall_by_size"]  # a record from before the size bins (an old checkpoint) still prints
    assert "recall by px" not in format_record("pnet", rec, 3)


@pytest.mark.pipeline  # evaluate_samples runs the joint loss (a student task)
def test_an_empty_size_bin_is_shown_as_a_dash():
    m = evaluate_samples(_BrightIsFace(), _samples([100, 10], [1, 0], bright=[True, False]))
    assert "recall by px <20 - 20-40 - 40-80 - 80+ 1.000" in format_record(
        "rnet", {"epoch": 1, "lr": 0.01, "seconds": 1.0, "val": m,
                 "train": {"loss": 0.1, "cls": 0.1, "box": 0.0, "landmark": 0.0}}, 1)
