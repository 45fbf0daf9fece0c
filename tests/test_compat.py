"""tinymtcnn.compat against what facenet-pytorch 2.6 and mtcnn 1.0 returned on the same photos.

The fixtures (tests/fixtures/compat_*.json) were written by tools/make_compat_fixtures.py,
which ran the real packages in their own venv; here the same calls (the tool's
``facenet_cases`` / ``ipazc_cases``) run on the compat classes, and the answers must have the
same structure (types, dtypes, shapes, key names), the same face counts and ordering rule,
and boxes and landmarks close to theirs: landmarks within 5 px, box corners within 5 px
(issue 15), except for the faces in :data:`EXPLAINED`.

The compat layers keep tinymtcnn's pipeline (the authors'), so the boxes are not theirs.
Traced stage by stage (each package's deviations emulated one at a time on our nets; with
all of them on, the emulation gives the package's boxes to 0.01 px, which also shows that
the compat layers' numbering is theirs), two faces differ by more than 5 px, both because of
the package's own deviations from the authors' pipeline (docs/migration.md, "Where the
larger differences come from"):

- facenet-pytorch, group photo, the 110 px face: 5.13 px (top edge). Its pyramid resampler
  (adaptive average pooling, whole-pixel bins) and its NMS without the +1 (torchvision) in
  stages 1-2 together keep another stage-1 candidate, a 95 px O-Net input box instead of
  our 114 px one; O-Net's regression from the two differs by 5.5 px at the top. Either
  deviation alone changes nothing; both together: 1.06 px. Our stage 3 on their O-Net
  input boxes: within 0.7 px.
- mtcnn 1.0, astronaut_large (768 px), the 161 px face: 6 px (top edge, 6.2 px unrounded).
  On the same O-Net input box, its stage 3 alone moves the top edge by 4.8 px (2.2 px from
  cropping the float box instead of M's truncated one, 2.6 px from TF's point-sampled
  bilinear crop_and_resize instead of an area resample); the rest (1.3 px) comes from a
  different O-Net input box out of its stages 1-2 (164 px, ours 155 px). No single
  deviation brings it under 3.5 px; two or three together 2.6 px at best.
"""
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
from make_compat_fixtures import (ASTRONAUT, compat_photos, describe, faces_in, facenet_cases,  # noqa: E402
                                  ipazc_cases, match_faces)

from tinymtcnn.compat import facenet, ipazc  # noqa: E402
from tinymtcnn.io import load_image  # noqa: E402

THEIRS = {k: json.loads((REPO / "tests" / "fixtures" / f"compat_{k}.json").read_text())["cases"]
          for k in ("facenet", "ipazc")}
LANDMARK_TOLERANCE = 5.0
BOX_TOLERANCE = 5.0
#: Faces where issue 15's 5 px does not hold, each traced to the package's own deviations from
#: the authors' pipeline (module docstring): (package, their recorded box x1, y1, x2, y2) ->
#: allowed largest corner difference in px (measured: 5.13 and 6).
EXPLAINED = {
    ("facenet", (541.5, 128.2, 630.4, 237.8)): 5.5,
    ("ipazc", (272.0, 97.0, 400.0, 258.0)): 6.0,
}


def box_tolerance(package, box):
    """5 px, or the allowance of an :data:`EXPLAINED` face (their box within 0.1 px of the entry's)."""
    for (pkg, explained), allowed in EXPLAINED.items():
        if pkg == package and np.abs(np.asarray(box, dtype=float) - explained).max() <= 0.1:
            return allowed
    return BOX_TOLERANCE


@pytest.fixture(scope="module")
def photos():
    return compat_photos(load_image(ASTRONAUT))


@pytest.fixture(scope="module")
def ours(photos, tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the compat classes warn only for settings they ignore
        return {"facenet": facenet_cases(facenet.MTCNN, photos, Image.fromarray, tmp_path_factory.mktemp("faces")),
                "ipazc": ipazc_cases(ipazc.MTCNN, photos)}


def answer_of(out):
    """Our answer in the fixtures' JSON form (numpy scalars as numbers, arrays as lists)."""
    return json.loads(json.dumps(out["answer"], default=lambda v: v.item() if hasattr(v, "item") else v.tolist()))


def per_image(package, case, answer):
    """``[(answer for one image, box format)]`` of a case (batches split)."""
    fmt = "xyxy" if "xyxy" in case else "xywh"
    if "batch" not in case:
        return [(answer, fmt)]
    if package == "facenet":
        return [((b, p, lm), fmt) for b, p, lm in zip(*answer)]
    return [(a, fmt) for a in answer]


# ------------------------------------------------------------------------------ structure
CASES = [(p, c) for p in ("facenet", "ipazc") for c, v in THEIRS[p].items() if "error" not in v]


@pytest.mark.parametrize("package,case", CASES, ids=[f"{p}:{c}" for p, c in CASES])
def test_same_structure(ours, package, case):
    theirs, mine = THEIRS[package][case], ours[package][case]
    assert "error" not in mine, mine
    if case.startswith("face_detection_only"):  # R-Net's candidates: counts differ, each has these keys
        assert [sorted(f) for f in mine["answer"]] == [["box", "confidence"]] * len(mine["answer"])
        assert mine["structure"]["items"][0] == theirs["structure"]["items"][0]
    elif case.startswith("save_path"):
        assert mine["files"] == theirs["files"]
    else:
        assert mine["structure"] == theirs["structure"]


def test_facenet_batch_forward_with_a_faceless_image_does_not_raise(ours):
    """facenet-pytorch 2.6 raises ValueError (ragged np.array) here; the compat layer returns [face, None]."""
    assert THEIRS["facenet"]["forward_batch/astronaut+faceless"]["error"] == "ValueError"
    faces = ours["facenet"]["forward_batch/astronaut+faceless"]["answer"]
    assert faces[0] == {"type": "ndarray", "dtype": "float32", "shape": [3, 160, 160]} and faces[1] is None


def test_none_conventions(photos):
    fn = facenet.MTCNN()
    boxes, probs, points = fn.detect(photos["faceless"], landmarks=True)
    assert boxes is None and points is None and probs.dtype == object and probs.tolist() == [None]
    assert fn(photos["faceless"], return_prob=True) == (None, None)
    assert ipazc.MTCNN().detect_faces(photos["faceless"]) == []
    assert ipazc.MTCNN().detect_faces([photos["faceless"]]) == [[]]
    assert ipazc.MTCNN().detect_faces(photos["faceless"], output_type="numpy").shape == (0, 16)
    assert ipazc.MTCNN().detect_faces([], output_type="numpy").shape == (0, 16)
    assert ipazc.MTCNN().detect_faces([]) == []


# ------------------------------------------------------------------------------ detections
DETECTIONS = [(p, c) for p, c in CASES if c.startswith(("detect", "face_detection_only")) and "numpy" not in c]


@pytest.mark.parametrize("package,case", DETECTIONS, ids=[f"{p}:{c}" for p, c in DETECTIONS])
def test_detections_close_to_theirs(ours, package, case):
    theirs_images = per_image(package, case, THEIRS[package][case]["answer"])
    our_images = per_image(package, case, answer_of(ours[package][case]))
    assert len(theirs_images) == len(our_images)
    for (theirs, fmt), (mine, _) in zip(theirs_images, our_images):
        (tb, tl), (ob, ol) = faces_in(package, theirs, fmt), faces_in(package, mine, fmt)
        if case.startswith("face_detection_only"):  # their best R-Net box is among ours
            assert any(np.abs(tb[0] - b).max() <= box_tolerance(package, tb[0]) for b in ob)
            continue
        assert len(ob) == len(tb), f"{len(ob)} faces, theirs {len(tb)}"
        pairs = match_faces(tb, ob)
        assert len(pairs) == len(tb)
        for i, j in pairs:
            assert np.abs(ob[j] - tb[i]).max() <= box_tolerance(package, tb[i]), (tb[i], ob[j])
            if tl is not None:
                assert np.abs(ol[j] - tl[i]).max() <= LANDMARK_TOLERANCE, (tl[i], ol[j])


def test_explained_faces_are_still_over_5_px(ours):
    """Each :data:`EXPLAINED` face is in the fixtures and still needs its allowance (else drop it)."""
    worst = {key: None for key in EXPLAINED}
    for package, case in DETECTIONS:
        if case.startswith("face_detection_only"):
            continue
        theirs_images = per_image(package, case, THEIRS[package][case]["answer"])
        for (theirs, fmt), (mine, _) in zip(theirs_images, per_image(package, case, answer_of(ours[package][case]))):
            (tb, _), (ob, _) = faces_in(package, theirs, fmt), faces_in(package, mine, fmt)
            for i, j in match_faces(tb, ob):
                for key in EXPLAINED:
                    if key[0] == package and np.abs(tb[i] - key[1]).max() <= 0.1:
                        worst[key] = max(worst[key] or 0.0, np.abs(ob[j] - tb[i]).max())
    assert all(v is not None and v > BOX_TOLERANCE for v in worst.values()), worst


def ordering_key(package, case, answer, boxes):
    """What the package sorts by: box area (facenet's select_largest) or the probability."""
    if package == "facenet" and "by_probability" not in case:
        return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return np.array(answer[1] if package == "facenet" else [f["confidence"] for f in answer], dtype=float)


@pytest.mark.parametrize("package,case", [("facenet", "detect/group"), ("facenet", "detect_by_probability/group"),
                                          ("ipazc", "detect_faces/group")])
def test_same_ordering(ours, package, case):
    theirs, mine = THEIRS[package][case]["answer"], answer_of(ours[package][case])
    tb, ob = faces_in(package, theirs)[0], faces_in(package, mine)[0]
    ours_key, theirs_key = ordering_key(package, case, mine, ob), ordering_key(package, case, theirs, tb)
    assert np.all(np.diff(ours_key) <= 0), ours_key  # sorted by the package's rule
    pairs = dict(match_faces(tb, ob))
    for a in range(len(tb)):  # faces theirs tells apart clearly come in the same order
        for b in range(a + 1, len(tb)):
            if theirs_key[a] > 1.2 * theirs_key[b]:
                assert pairs[a] < pairs[b]


@pytest.mark.parametrize("case", [c for c, v in THEIRS["facenet"].items() if "pooled" in v and v["pooled"]])
def test_facenet_crops_close_to_theirs(ours, case):
    """Same face chosen and cropped alike: 8x8 block means of the crops within 10 grey levels on average."""
    theirs = np.array(THEIRS["facenet"][case]["pooled"], dtype=float)
    mine = np.array(ours["facenet"][case]["pooled"], dtype=float)
    scale = 1.0 if "raw" in case else 128.0  # post-processed crops are (v - 127.5) / 128
    assert mine.shape == theirs.shape
    assert np.abs(mine - theirs).mean() * scale < 10


def test_ipazc_numpy_output(ours):
    theirs = np.array(THEIRS["ipazc"]["detect_faces_numpy/astronaut"]["answer"])
    mine = np.array(answer_of(ours["ipazc"]["detect_faces_numpy/astronaut"]))
    assert mine.shape == theirs.shape == (1, 16) and mine[0, 0] == 0
    assert np.abs(mine[:, 6:] - theirs[:, 6:]).max() <= LANDMARK_TOLERANCE


def test_box_numbering_is_the_packages(photos):
    """Both packages number boxes as the authors (1-based x1, y1): tinymtcnn's 0-based x1, y1 plus 1,
    x2, y2 and landmarks unchanged (with each package's deviations emulated on tinymtcnn's nets,
    this numbering gives their boxes to 0.01 px; one less was 1 px off on every mtcnn box)."""
    from tinymtcnn import MTCNN

    img = photos["group"]
    faces = MTCNN(landmarks="onet", thresholds=(0.6, 0.7, 0.8)).detect(img)
    rows = ipazc.MTCNN().detect_faces(img, output_type="numpy", box_format="xyxy", postprocess=False)
    assert np.allclose(rows[:, 1:3], faces.boxes[:, :2] + 1) and np.allclose(rows[:, 3:5], faces.boxes[:, 2:])
    assert np.allclose(rows[:, 6:11], faces.landmarks[:, :, 0]) and np.allclose(rows[:, 11:], faces.landmarks[:, :, 1])
    face = ipazc.MTCNN().detect_faces(img, postprocess=False)[0]
    x1, y1, x2, y2 = faces.boxes[0]
    assert face["box"] == np.round([x1 + 1, y1 + 1, x2 - x1 - 1, y2 - y1 - 1]).astype(int).tolist()
    faces = MTCNN(landmarks="onet", thresholds=(0.6, 0.7, 0.7)).detect(img)
    boxes, _ = facenet.MTCNN(select_largest=False).detect(img)
    assert np.allclose(boxes[:, :2], faces.boxes[:, :2] + 1, atol=1e-4)
    assert np.allclose(boxes[:, 2:], faces.boxes[:, 2:], atol=1e-4)


# ------------------------------------------------------------------------------ settings and inputs
def test_ipazc_defaults_are_its_own(photos):
    det = ipazc.MTCNN()
    assert det._detector(det._settings({})).thresholds == (0.6, 0.7, 0.8)
    assert det._detector(det._settings({})).min_face_size == 20
    by_path = det.detect_faces(str(ASTRONAUT))
    assert by_path == det.detect_faces(ASTRONAUT.read_bytes()) == det.detect_faces(photos["astronaut"])


def test_ipazc_refuses_or_warns_on_what_it_does_not_do(photos):
    det = ipazc.MTCNN()
    with pytest.raises(TypeError, match="threshold_onett"):
        det.detect_faces(photos["faceless"], threshold_onett=0.9)
    with pytest.raises(TypeError, match="threshold_onet"):
        det.detect_faces(photos["faceless"], threshold_onet="high")
    with pytest.raises(ValueError, match="scale_factor"):
        det.detect_faces(photos["faceless"], scale_factor=1.5)
    with pytest.raises(ValueError, match="min_size"):
        det.detect_faces(photos["faceless"], min_size=24)
    with pytest.warns(UserWarning, match="nms_rnet"):
        det.detect_faces(photos["faceless"], nms_rnet=0.5)
    with pytest.raises(ValueError, match="box_format"):
        det.detect_faces(photos["faceless"], box_format="xy")
    with pytest.raises(ValueError, match="stages"):
        ipazc.MTCNN(stages="landmarks")
    with pytest.raises(ValueError, match="could not be decoded"):
        det.detect_faces(b"not an image")
    with pytest.warns(UserWarning, match="GPU:0"):
        ipazc.MTCNN(device="GPU:0")


def test_facenet_refuses_bad_settings(photos, tmp_path):
    with pytest.raises(ValueError, match="margin"):
        facenet.MTCNN(image_size=32, margin=32)
    with pytest.raises(ValueError, match="selection_method"):
        facenet.MTCNN(selection_method="biggest")
    with pytest.raises(TypeError, match="image_size"):
        facenet.MTCNN(image_size=160.0)
    with pytest.warns(UserWarning, match="cuda"):
        facenet.MTCNN(device="cuda:0")
    det = facenet.MTCNN()
    with pytest.raises(ValueError, match="one path per image"):
        det([photos["astronaut"], photos["astronaut"]], save_path=[str(tmp_path / "a.png")])
    with pytest.raises(ValueError, match="image extension"):
        det(photos["astronaut"], save_path=str(tmp_path / "face.txt"))
    source = tmp_path / "me.png"
    Image.fromarray(photos["astronaut"]).save(source)
    before = source.read_bytes()
    with pytest.raises(ValueError, match="input image itself"):
        det(str(source), save_path=str(source))
    assert source.read_bytes() == before


def test_facenet_module_calls_return_the_detector():
    det = facenet.MTCNN()
    assert det.eval() is det and det.to("cpu") is det
    with pytest.warns(UserWarning, match="cuda"):
        assert det.to("cuda") is det


def test_facenet_save_path_writes_the_raw_crop(photos, tmp_path):
    det = facenet.MTCNN(post_process=True)
    face = det(photos["astronaut"], save_path=str(tmp_path / "deep" / "face.png"))
    saved = np.asarray(Image.open(tmp_path / "deep" / "face.png"))
    assert saved.shape == (160, 160, 3)
    assert np.allclose(face, (saved.transpose(2, 0, 1) - 127.5) / 128)  # saved before post-processing
    assert sorted(p.name for p in (tmp_path / "deep").iterdir()) == ["face.png"]  # no temporary left


def test_facenet_batches_of_different_sizes_and_4d_arrays(photos):
    det = facenet.MTCNN()
    boxes, _ = det.detect([photos["astronaut"], photos["astronaut_small"]])
    single, _ = det.detect(photos["astronaut_small"])
    assert np.array_equal(np.array(boxes[1], dtype=float), np.array(single, dtype=float))
    stacked, _ = det.detect(np.stack([photos["astronaut"], photos["faceless"]]))
    assert describe(stacked)["shape"] == [2] and stacked[1] is None


class ArrayLike:
    """What a CPU tensor of another framework looks like to numpy."""

    def __init__(self, a):
        self.a = a

    def __array__(self, dtype=None, copy=None):
        return self.a


def test_array_likes_are_read_as_arrays(photos):
    small = photos["astronaut_small"]
    assert ipazc.MTCNN().detect_faces(ArrayLike(small)) == ipazc.MTCNN().detect_faces(small)
    boxes, _ = facenet.MTCNN().detect(ArrayLike(small))
    assert np.array_equal(np.array(boxes, dtype=float), np.array(facenet.MTCNN().detect(small)[0], dtype=float))
