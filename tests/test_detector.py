"""The cascade gives the same answers as the authors' pipeline.

Reference: ``tests/fixtures/detect_reference*.json``, made by ``tools/make_detect_fixtures.py``
with ``tools/reference_pipeline.py``: an independent float64 port of the authors'
``detect_face.m`` running the original caffemodels through OpenCV's ``cv2.dnn``.
Target: the same faces, box corners and landmarks within 0.5 px, scores within 1e-3.
"""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import tinymtcnn
from tinymtcnn import MTCNN, Detections

ASTRONAUT = Path(tinymtcnn.__file__).parent / "assets" / "astronaut.png"
PX, SCORE = 0.5, 1e-3


def _astronaut():
    return np.asarray(Image.open(ASTRONAUT).convert("RGB"))


def _nearest_resize(img, h, w):
    return img[(np.arange(h) * img.shape[0]) // h][:, (np.arange(w) * img.shape[1]) // w]


def _gray(img):
    r, g, b = (img[..., k].astype(np.int64) for k in range(3))
    g = (299 * r + 587 * g + 114 * b + 500) // 1000
    return np.repeat(g[..., None], 3, axis=2).astype(np.uint8)


def _image_for(case):
    a = _astronaut()
    name = case["name"]
    if name == "astronaut":
        return a
    if name == "astronaut_mirrored":
        return np.ascontiguousarray(a[:, ::-1])
    if name.startswith("astronaut_371x297"):
        return _nearest_resize(a, 371, 297)
    if name == "astronaut_gray_150x130":
        return _gray(_nearest_resize(a, 150, 130))
    if name.startswith("gray_"):
        return np.full((case["height"], case["width"], 3), 128, np.uint8)
    raise KeyError(name)


@pytest.fixture(scope="module")
def cases(fixtures_dir):
    return json.loads((fixtures_dir / "detect_reference.json").read_text())["cases"]


@pytest.fixture(scope="module")
def detectors():
    return {mode: MTCNN(landmarks=mode) for mode in ("onet", "mirror", "refine")}


def compare(faces, ref, mode):
    """Worst differences between our Detections and one reference record (reference boxes are 1-based)."""
    ref_boxes = np.asarray(ref["boxes"], dtype=np.float64).reshape(-1, 4) - [1, 1, 0, 0]
    ref_scores = np.asarray(ref["scores"], dtype=np.float64)
    ref_lmk = np.asarray(ref["landmarks"][mode], dtype=np.float64).reshape(-1, 5, 2)
    assert len(faces) == len(ref_scores), f"{len(faces)} faces, reference {len(ref_scores)}"
    if len(faces) == 0:
        return 0.0, 0.0, 0.0
    order = np.argsort(-ref_scores, kind="stable")  # ours are sorted by score
    return (np.abs(faces.boxes - ref_boxes[order]).max(), np.abs(faces.scores - ref_scores[order]).max(),
            np.abs(faces.landmarks - ref_lmk[order]).max())


@pytest.mark.parametrize("mode", ["onet", "mirror", "refine"])
@pytest.mark.pipeline
def test_same_answers_as_the_reference_pipeline(cases, detectors, mode):
    for case in cases:
        p = case["params"]
        det = detectors[mode]
        det.min_face_size, det.scale_factor, det.thresholds = p["minsize"], p["factor"], tuple(p["thresholds"])
        db, ds, dl = compare(det.detect(_image_for(case)), case, mode)
        assert db <= PX and dl <= PX and ds <= SCORE, (case["name"], db, ds, dl)


@pytest.mark.pipeline
def test_stage_candidates_match(cases, detectors):
    case = cases[0]
    t = MTCNN().trace(_image_for(case))
    assert len(t["pnet"][1]) == len(case["stage1_boxes"])
    assert len(t["rnet"][1]) == len(case["stage2_boxes"])
    ref1 = np.asarray(case["stage1_boxes"], dtype=np.float64)[:, :4] - [1, 1, 0, 0]
    np.testing.assert_allclose(t["pnet"][0], ref1, atol=PX)


@pytest.mark.pipeline
def test_astronaut_has_one_face_with_plausible_landmarks():
    faces = MTCNN().detect(ASTRONAUT)
    assert len(faces) == 1 and faces.scores[0] > 0.99
    (x1, y1, x2, y2), lm = faces.boxes[0], faces.landmarks[0]
    assert np.all((lm[:, 0] > x1) & (lm[:, 0] < x2) & (lm[:, 1] > y1) & (lm[:, 1] < y2))
    assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0]  # left = image-left
    assert lm[0, 1] < lm[2, 1] < lm[3, 1]  # eyes above nose above mouth


@pytest.mark.pipeline
def test_no_face_gives_empty_detections():
    for img in (np.full((200, 300, 3), 90, np.uint8), np.zeros((5, 5, 3), np.uint8)):
        faces = MTCNN().detect(img)
        assert isinstance(faces, Detections) and len(faces) == 0
        assert faces.boxes.shape == (0, 4) and faces.landmarks.shape == (0, 5, 2) and faces.to_dicts() == []


@pytest.mark.pipeline
def test_detect_batch_and_to_dicts():
    a = _astronaut()
    out = MTCNN().detect_batch([a, a[:, ::-1].copy()])
    assert [len(d) for d in out] == [1, 1]
    d = out[0].to_dicts()[0]
    assert set(d) == {"box", "score", "landmarks"} and list(d["landmarks"])[0] == "left_eye"
    json.dumps(d)
    # mirroring the image mirrors the box: x1' = W - x2
    np.testing.assert_allclose(out[1].boxes[0, 0], a.shape[1] - out[0].boxes[0, 2], atol=3)


@pytest.mark.parametrize("kwargs", [dict(min_face_size=0), dict(scale_factor=1.0), dict(thresholds=(0.6, 0.7)),
                                    dict(thresholds=(0.6, 0.7, 1.5)), dict(landmarks="fancy"),
                                    dict(weights="/nonexistent/dir")])
def test_bad_settings_are_errors(kwargs):
    with pytest.raises(ValueError):
        MTCNN(**kwargs)


def test_settings_rebuild_the_detector(tmp_path):
    from tinymtcnn.weights import pretrained_path

    given = dict(min_face_size=33, thresholds=[0.5, 0.55, 0.65], scale_factor=0.8, landmarks="onet",
                 weights={"onet": str(pretrained_path("onet"))}, num_threads=2, max_memory=3e9,
                 max_pyramid_pixels=1e8)  # no default left: a setting settings() forgot would show
    detector = MTCNN(**given)
    settings = detector.settings()
    assert settings == dict(given, thresholds=(0.5, 0.55, 0.65)), settings
    again = MTCNN(**settings)
    assert again.settings() == settings and repr(again) == repr(detector)
    assert MTCNN().settings()["num_threads"] is None  # not resolved to this machine's cores


# ---------------------------------------------------------------------------- real photos (../shared)
@pytest.mark.shared
@pytest.mark.pipeline
def test_same_answers_on_real_photos(shared_dir, fixtures_dir, detectors):
    ref = json.loads((fixtures_dir / "detect_reference_shared.json").read_text())
    worst = np.zeros(3)
    for case in ref["cases"]:
        path = shared_dir / case["file"]
        for mode, det in detectors.items():
            det.min_face_size, det.scale_factor, det.thresholds = (case["params"]["minsize"], case["params"]["factor"],
                                                                   tuple(case["params"]["thresholds"]))
            worst = np.maximum(worst, compare(det.detect(path), case, mode))
    assert worst[0] <= PX and worst[1] <= SCORE and worst[2] <= PX, worst
