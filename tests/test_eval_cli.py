"""``tinymtcnn evaluate`` end to end on the bundled photo: JSON, FDDB and landmark-list sets, outputs, refusals."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinymtcnn import MTCNN
from tinymtcnn.cli import build_parser, main

ASTRONAUT = Path(__file__).resolve().parents[1] / "tinymtcnn" / "assets" / "astronaut.png"
pytestmark = pytest.mark.pipeline  # runs the detector


@pytest.fixture(scope="module")
def truth():
    """The astronaut's face as the shipped detector sees it: box and five points (0-based)."""
    faces = MTCNN(landmarks="onet", num_threads=1).detect(str(ASTRONAUT))
    return faces.boxes[0], faces.landmarks[0]


def _evaluate(args, capsys):
    status = main(["evaluate", "--no-progress", "--threads", "1"] + [str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def test_json_set_with_an_ignored_face(tmp_path, truth, capsys):
    box, points = truth
    Image.open(ASTRONAUT).save(tmp_path / "a.png")
    far = [400.0, 400.0, 440.0, 440.0]  # an annotated face nothing detects, flagged ignore
    record = {"image": "a.png", "boxes": [box.tolist(), far], "landmarks5": [points.tolist(), [[0, 0]] * 5],
              "ignore": [False, True]}
    (tmp_path / "set.json").write_text(json.dumps([record]))
    status, out, err = _evaluate([tmp_path / "set.json", "--landmarks", "onet", "mirror",
                                  "--out", tmp_path / "res"], capsys)
    assert status == 0, err
    results = json.loads((tmp_path / "res" / "results.json").read_text())
    onet = results[0]["detectors"]["authors/onet"]
    assert results[0]["set"]["faces"] == 1 and results[0]["set"]["ignored"] == 1
    assert onet["detection"]["recall_at_0.5"] == 1.0 and onet["detection"]["ap"] == 1.0
    # the truth is O-Net's own output: NME 0 for onet, > 0 for mirror (it moves the points)
    assert onet["landmarks"]["inter-ocular"]["mean"] < 1e-9
    assert results[0]["detectors"]["authors/mirror"]["landmarks"]["inter-ocular"]["mean"] > 1e-4
    assert "| authors/onet |" in out and (tmp_path / "res" / "results.md").read_text() in out + "\n"
    assert {p.name for p in (tmp_path / "res").iterdir()} == {"results.json", "results.md", "pr.png", "ced.png"}


def test_fddb_set_gives_a_roc(tmp_path, truth, capsys):
    box, _ = truth
    (tmp_path / "img").mkdir()
    Image.open(ASTRONAUT).convert("RGB").save(tmp_path / "img" / "astro.jpg", quality=95)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    ellipse = f"{(box[3] - box[1]) / 2:.3f} {(box[2] - box[0]) / 2:.3f} {math.pi / 2:.6f} {cx:.3f} {cy:.3f} 1"
    (tmp_path / "FDDB-fold-01-ellipseList.txt").write_text(f"astro\n1\n{ellipse}\n")
    status, out, err = _evaluate([tmp_path / "FDDB-fold-01-ellipseList.txt", "--images", tmp_path / "img",
                                  "--out", tmp_path / "res"], capsys)
    assert status == 0, err
    det = json.loads((tmp_path / "res" / "results.json").read_text())[0]["detectors"]["authors/auto"]["detection"]
    assert det["roc"]["tpr"][0] == 1.0 and det["roc"]["false_positives"][0] == 0
    assert (tmp_path / "res" / "roc.png").stat().st_size > 0


def test_landmark_list_pads_the_crops(tmp_path, truth, capsys):
    box, points = truth
    x1, y1 = int(box[0]), int(box[1])
    crop = np.asarray(Image.open(ASTRONAUT).convert("RGB"))[y1:y1 + 100, x1:x1 + 90]
    Image.fromarray(crop).save(tmp_path / "face.png")
    local = points - [x1, y1]
    (tmp_path / "list.txt").write_text("face.png " + " ".join(f"{v:.3f}" for v in local[:, 0]) + " "
                                       + " ".join(f"{v:.3f}" for v in local[:, 1]) + "\n")
    status, out, err = _evaluate([tmp_path / "list.txt", "--format", "landmarks"], capsys)
    assert status == 0, err
    assert "AP (IoU 0.5)" not in out and "| authors/auto | 1 / 1 |" in out


def test_refusals(tmp_path, capsys):
    Image.open(ASTRONAUT).save(tmp_path / "a.png")
    (tmp_path / "set.json").write_text(json.dumps([{"image": "a.png", "boxes": [[1, 1, 50, 50]]}]))
    status, _, err = _evaluate([tmp_path / "set.json", "--split", "easy=x.txt"], capsys)
    assert status == 2 and "WIDER" in err
    status, _, err = _evaluate([tmp_path / "missing.json"], capsys)
    assert status == 2 and "missing.json" in err
    (tmp_path / "gone.json").write_text(json.dumps([{"image": "nothere.png", "boxes": []}]))
    status, _, err = _evaluate([tmp_path / "gone.json"], capsys)
    assert status == 2 and "nothere.png" in err
    (tmp_path / "results.json").write_text("[]")
    status, _, err = _evaluate([tmp_path / "results.json", "--out", tmp_path], capsys)
    assert status == 2 and "overwrite" in err and (tmp_path / "results.json").read_text() == "[]"


def test_detect_accepts_auto_and_defaults_to_it():
    assert build_parser().parse_args(["detect", "x.png"]).landmarks == "auto"
    assert build_parser().parse_args(["detect", "x.png", "--landmarks", "auto"]).landmarks == "auto"
