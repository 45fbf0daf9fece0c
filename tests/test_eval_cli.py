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


def _wider_set(tmp_path, box):
    """A WIDER bbx_gt file: the astronaut's face (position 1), an invalid face (2), a face nothing finds (3)."""
    (tmp_path / "images" / "0--Parade").mkdir(parents=True)
    Image.open(ASTRONAUT).convert("RGB").save(tmp_path / "images" / "0--Parade" / "0_Parade_1.jpg", quality=95)
    x, y, w, h = box[0], box[1], box[2] - box[0], box[3] - box[1]
    (tmp_path / "gt.txt").write_text(f"0--Parade/0_Parade_1.jpg\n3\n{x:.2f} {y:.2f} {w:.2f} {h:.2f} 0 0 0 0 0 0\n"
                                     f"10 10 30 30 0 0 0 1 0 0\n400 400 40 40 0 0 0 0 0 0\n")


def test_wider_easy_and_hard_lists(tmp_path, truth, capsys):
    _wider_set(tmp_path, truth[0])
    (tmp_path / "easy.txt").write_text("0_Parade_1 1\n")     # only the astronaut
    (tmp_path / "hard.txt").write_text("0_Parade_1 1 3\n")   # and the face nothing finds
    status, out, err = _evaluate([tmp_path / "gt.txt", "--images", tmp_path / "images", "--split",
                                  f"easy={tmp_path / 'easy.txt'}", "--split", f"hard={tmp_path / 'hard.txt'}",
                                  "--out", tmp_path / "res"], capsys)
    assert status == 0, err
    r = json.loads((tmp_path / "res" / "results.json").read_text())[0]["detectors"]["authors/auto"]
    assert r["settings"]["easy"]["faces"] == 1 and r["settings"]["easy"]["ap"] == 1.0
    assert r["settings"]["hard"]["faces"] == 2 and r["settings"]["hard"]["recall_at_0.5"] == 0.5
    assert r["detection"]["faces"] == 2  # without a list: the invalid face is ignored, the others count
    assert "| AP easy | recall easy | AP hard | recall hard |" in out.replace("detector | ", "")
    assert "| authors/auto | 100.0 | 100.0 | 50.0 | 50.0 |" in out  # hard: one of its two faces found


def test_wider_mat_split(tmp_path):
    """The official .mat layout: file_list / gt_list, one cell per event, 1-based face positions."""
    scipy_io = pytest.importorskip("scipy.io")
    from tinymtcnn.eval.datasets import read_split

    files = np.empty((1, 1), dtype=object)
    files[0, 0] = np.array([["0_Parade_1"], ["0_Parade_2"]], dtype=object)
    gts = np.empty((1, 1), dtype=object)
    gts[0, 0] = np.empty((2, 1), dtype=object)
    gts[0, 0][0, 0], gts[0, 0][1, 0] = np.array([[1], [3]]), np.array([[2]])
    scipy_io.savemat(tmp_path / "wider_easy_val.mat", {"gt_list": gts})  # as WIDER's: names elsewhere
    with pytest.raises(ValueError, match="wider_face_val.mat"):
        read_split(tmp_path / "wider_easy_val.mat")
    scipy_io.savemat(tmp_path / "wider_face_val.mat", {"file_list": files})
    assert read_split(tmp_path / "wider_easy_val.mat") == {"0_Parade_1": {0, 2}, "0_Parade_2": {1}}


def test_tuned_runs_with_the_authors_weights_and_is_skipped_with_a_note_for_trained_ones(tmp_path, truth, capsys):
    from tinymtcnn.weights import load_net, save_net

    box, points = truth
    Image.open(ASTRONAUT).save(tmp_path / "a.png")
    (tmp_path / "set.json").write_text(json.dumps([{"image": "a.png", "boxes": [box.tolist()],
                                                    "landmarks5": [points.tolist()]}]))
    mine = tmp_path / "mine"
    mine.mkdir()
    for kind in ("pnet", "rnet", "onet"):
        save_net(load_net(kind), mine / f"{kind}.npz")
    status, out, err = _evaluate([tmp_path / "set.json", "--weights", "authors", mine, "--landmarks", "tuned",
                                  "--out", tmp_path / "res"], capsys)
    assert status == 0, err
    assert "--landmarks tuned goes with the authors' weights only" in err and str(mine) in err
    detectors = json.loads((tmp_path / "res" / "results.json").read_text())[0]["detectors"]
    assert list(detectors) == ["authors/tuned"] and detectors["authors/tuned"]["detection"]["recall_at_0.5"] == 1.0
    status, out, err = _evaluate([tmp_path / "set.json", "--weights", mine, "--landmarks", "tuned",
                                  "--out", tmp_path / "none"], capsys)  # nothing left: a usage error
    assert status == 2 and "no detector left" in err and not (tmp_path / "none").exists()


def test_json_set_with_mask_flags_reports_masked_and_unmasked(tmp_path, truth, capsys):
    box, _ = truth
    Image.open(ASTRONAUT).save(tmp_path / "a.png")
    far = [400.0, 400.0, 440.0, 440.0]  # an annotated face nothing detects
    record = {"image": "a.png", "boxes": [box.tolist(), far], "mask": [True, False]}
    (tmp_path / "set.json").write_text(json.dumps([record]))
    status, out, err = _evaluate([tmp_path / "set.json", "--out", tmp_path / "res"], capsys)
    assert status == 0, err
    det = json.loads((tmp_path / "res" / "results.json").read_text())[0]["detectors"]["authors/auto"]
    assert det["detection"]["faces"] == 2 and det["detection"]["recall_at_0.5"] == 0.5
    masked, unmasked = det["settings"]["masked"], det["settings"]["unmasked"]
    # each setting scores its own faces and ignores the others: the found face is masked
    assert masked["faces"] == 1 and masked["recall_at_0.5"] == 1.0 and masked["ap"] == 1.0
    assert unmasked["faces"] == 1 and unmasked["recall_at_0.5"] == 0.0
    assert "| AP masked | recall masked | AP unmasked | recall unmasked |" in out
    assert "| authors/auto | 100.0 | 100.0 | 0.0 | 0.0 |" in out


def test_mask_flags_must_match_the_boxes(tmp_path, capsys):
    Image.open(ASTRONAUT).save(tmp_path / "a.png")
    record = {"image": "a.png", "boxes": [[10, 10, 50, 50], [60, 60, 90, 90]], "mask": [True]}
    (tmp_path / "set.json").write_text(json.dumps([record]))
    status, _, err = _evaluate([tmp_path / "set.json"], capsys)
    assert status == 2 and "mask must be a list of 2 true/false flags" in err
