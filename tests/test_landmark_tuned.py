"""``landmarks="tuned"``: the authors' boxes and scores with O-Net's fine-tuned landmark head (opt-in)."""
from pathlib import Path

import numpy as np
import pytest

from tinymtcnn import MTCNN
from tinymtcnn.detect.boxes import decode_landmarks, mirror_landmarks
from tinymtcnn.weights import TUNED_HEAD_PATH, load_net, load_params_npz, save_params_npz, with_tuned_landmark_head

ASTRONAUT = Path(__file__).resolve().parents[1] / "tinymtcnn" / "assets" / "astronaut.png"


def test_the_tuned_file_holds_only_the_landmark_head_and_says_where_it_comes_from():
    params, layout = load_params_npz(TUNED_HEAD_PATH)
    assert layout == "natural" and set(params) == {"conv6-3.w", "conv6-3.b"}
    text = np.load(TUNED_HEAD_PATH)["__source__"].item()
    assert "MTFL" in text and "research use only" in text
    provenance = (TUNED_HEAD_PATH.parent / "PROVENANCE.md").read_text()
    assert "onet_landmarks_tuned.npz" in provenance and "research use only" in provenance


def test_only_the_landmark_head_differs_from_the_authors_onet():
    authors = load_net("onet")
    tuned = with_tuned_landmark_head(authors)
    for k, v in authors.params.items():
        same = np.array_equal(tuned.params[k], v)
        assert same == (not k.startswith("conv6-3.")), k
    assert tuned is not authors and np.array_equal(authors.params["conv6-3.w"], load_net("onet").params["conv6-3.w"])


@pytest.mark.pipeline
def test_tuned_keeps_the_authors_boxes_and_scores_and_moves_only_the_points():
    authors = MTCNN(landmarks="mirror", num_threads=1).detect(ASTRONAUT)
    tuned = MTCNN(landmarks="tuned", num_threads=1).detect(ASTRONAUT)
    assert len(authors) == len(tuned) == 1
    np.testing.assert_array_equal(tuned.boxes, authors.boxes)
    np.testing.assert_array_equal(tuned.scores, authors.scores)
    moved = np.abs(tuned.landmarks - authors.landmarks).max()
    box_side = float(authors.boxes[0, 2] - authors.boxes[0, 0])
    assert 0 < moved < 0.1 * box_side  # a different head, still on the same face


def test_tuned_refuses_weights_that_replace_onet(tmp_path):
    with pytest.raises(ValueError, match="tuned"):
        MTCNN(landmarks="tuned", weights={"onet": load_net("onet")})
    MTCNN(landmarks="tuned", weights={"pnet": load_net("pnet")})  # other nets may be replaced


def test_a_head_file_with_other_arrays_is_refused_by_name(tmp_path):
    bad = tmp_path / "head.npz"
    save_params_npz(bad, {"conv6-3.w": np.zeros((10, 256)), "conv5.w": np.zeros((256, 1152))}, "natural")
    with pytest.raises(ValueError, match="head.npz"):
        with_tuned_landmark_head(load_net("onet"), bad)
    save_params_npz(bad, {"conv6-3.w": np.zeros((10, 255)), "conv6-3.b": np.zeros(10)}, "natural")
    with pytest.raises(ValueError, match="head.npz"):
        with_tuned_landmark_head(load_net("onet"), bad)


def test_pixel_centre_flip_maps_a_flipped_crops_points_onto_the_same_pixels():
    # a point at 0-based pixel column u of a w-pixel box is at column w - 1 - u in the flipped crop
    rng = np.random.default_rng(0)
    widths = np.array([12.0, 40.0, 97.0])
    boxes = np.stack([np.ones(3), np.ones(3), widths, widths], axis=1)  # 1-based x1 = 1
    cols = rng.integers(0, 12, size=(3, 5)).astype(float)
    rows = rng.integers(0, 12, size=(3, 5)).astype(float)
    planar = np.concatenate([cols / widths[:, None], rows / widths[:, None]], axis=1)
    order = [1, 0, 2, 4, 3]
    flipped = np.concatenate([(widths[:, None] - 1 - cols[:, order]) / widths[:, None],
                              rows[:, order] / widths[:, None]], axis=1)
    back = mirror_landmarks(flipped, widths)
    np.testing.assert_allclose(decode_landmarks(boxes, back), decode_landmarks(boxes, planar), atol=1e-12)
    authors_rule = decode_landmarks(boxes, mirror_landmarks(flipped))
    np.testing.assert_allclose(authors_rule[..., 0] - decode_landmarks(boxes, planar)[..., 0], 1.0)  # 1/w right
    np.testing.assert_allclose(mirror_landmarks(mirror_landmarks(planar, widths), widths), planar)
    with pytest.raises(ValueError, match="widths"):
        mirror_landmarks(planar, widths[:2])


@pytest.mark.pipeline
def test_detect_all_modes_gives_the_tuned_points_of_the_tuned_detector():
    from tinymtcnn.eval.landmarks import detect_all_modes
    from tinymtcnn.io import load_image

    detector = MTCNN(landmarks="refine", num_threads=1)
    boxes, scores, modes = detect_all_modes(detector, load_image(ASTRONAUT), with_tuned_landmark_head(load_net("onet")))
    tuned = MTCNN(landmarks="tuned", num_threads=1).detect(ASTRONAUT)
    np.testing.assert_array_equal(boxes, tuned.boxes)
    np.testing.assert_array_equal(modes["tuned"], tuned.landmarks)
    assert not np.array_equal(modes["tuned"], modes["mirror"])
    with pytest.raises(TypeError, match="ONet"):
        detect_all_modes(detector, load_image(ASTRONAUT), load_net("rnet"))
