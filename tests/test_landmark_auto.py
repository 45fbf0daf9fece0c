"""``landmarks="auto"`` (the default): per face, the mirror points, LNet's, or the documented blend by box size."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinymtcnn import MTCNN
from tinymtcnn.detect import detector as det_module
from tinymtcnn.detect.detector import AUTO_MIRROR_MAX_SIDE, AUTO_REFINE_MIN_SIDE, auto_refine_weight
from tinymtcnn.eval.images import pad_crop, resize_with_points
from tinymtcnn.eval.landmarks import detect_all_modes, match_face, nme

ASTRONAUT = Path(det_module.__file__).resolve().parents[1] / "assets" / "astronaut.png"
pytestmark = pytest.mark.pipeline  # runs the whole detector


def test_auto_is_the_default_and_the_rule_is_a_ramp():
    assert MTCNN().landmarks == "auto"
    lo, hi = AUTO_MIRROR_MAX_SIDE, AUTO_REFINE_MIN_SIDE
    assert 0 < lo < hi
    np.testing.assert_allclose(auto_refine_weight([0, lo, (lo + hi) / 2, hi, 10 * hi]), [0, 0, 0.5, 1, 1])


def _three_sizes():
    """The astronaut photo at full size (face box ~88 px), 0.55x (~48 px) and 0.3x (~26 px) side by side."""
    with Image.open(ASTRONAUT) as im:
        big = np.asarray(im.convert("RGB"))
    parts = [big] + [np.asarray(Image.fromarray(big).resize((round(512 * s),) * 2, Image.BILINEAR)) for s in (0.55, 0.3)]
    canvas = np.full((512, sum(p.shape[1] for p in parts), 3), 128, dtype=np.uint8)
    x = 0
    for p in parts:
        canvas[:p.shape[0], x:x + p.shape[1]] = p
        x += p.shape[1]
    return canvas


def test_auto_picks_per_face_by_the_documented_rule():
    image = _three_sizes()
    detector = MTCNN(landmarks="auto", num_threads=1)
    faces = detector.detect(image)
    boxes, scores, modes = detect_all_modes(detector, image)
    np.testing.assert_array_equal(faces.boxes, boxes)
    sides = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    weight = auto_refine_weight(sides)
    # the picture holds a face below the ramp, one on it and one above it
    assert (weight == 0).any() and ((weight > 0) & (weight < 1)).any() and (weight == 1).any(), sides
    w = weight[:, None, None]
    np.testing.assert_allclose(faces.landmarks, (1 - w) * modes["mirror"] + w * modes["refine_mirror"], atol=1e-9)
    # and the fixed modes still give their own points on the same faces
    np.testing.assert_allclose(MTCNN(landmarks="mirror", num_threads=1).detect(image).landmarks, modes["mirror"],
                               atol=1e-9)
    small = weight == 0
    np.testing.assert_allclose(faces.landmarks[small], modes["mirror"][small], atol=1e-9)
    assert not np.allclose(faces.landmarks[~small], modes["mirror"][~small])


@pytest.mark.shared
@pytest.mark.slow
def test_default_is_as_good_as_the_best_fixed_mode_per_size(shared_dir):
    """40 MTFL hold-out faces (every 19th of split_mtfl's hold-out) at three eye distances."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    from split_mtfl import split_lines

    root = shared_dir / "data" / "mtfl_train"
    _, holdout, _ = split_lines((root / "training.txt").read_text().splitlines())
    detector = MTCNN(landmarks="auto", num_threads=1)
    for target in (12.0, 30.0, 70.0):
        errors = {m: [] for m in ("onet", "mirror", "refine", "default")}
        for line in holdout[::19][:40]:
            parts = line.split()
            v = np.array(parts[1:11], dtype=np.float64)
            with Image.open(root / parts[0]) as im:
                image, offset = pad_crop(np.asarray(im.convert("RGB")), 160)
            gt = np.stack([v[:5], v[5:]], axis=1) + offset
            image, gt = resize_with_points(image, gt, target / np.linalg.norm(gt[0] - gt[1]))
            detector.min_face_size = max(12.0, 1.3 * target)
            boxes, _, modes = detect_all_modes(detector, image)
            default = MTCNN(min_face_size=detector.min_face_size, num_threads=1).detect(image)
            k = match_face(boxes, gt)
            if k < 0:
                continue
            np.testing.assert_array_equal(default.boxes, boxes)
            for m in ("onet", "mirror", "refine"):
                errors[m].append(nme(modes[m][k], gt))
            errors["default"].append(nme(default.landmarks[k], gt))
        mean = {m: 100 * np.mean(e) for m, e in errors.items()}
        assert len(errors["default"]) >= 35
        assert mean["default"] <= min(mean["onet"], mean["mirror"], mean["refine"]) + 0.05, (target, mean)
