"""tinymtcnn align: aligned crops of a photo tree, mirrored under --out, an index, reruns that skip
what is done, faceless and unreadable photos reported, Ctrl-C, and the detect command's refusals."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinymtcnn import cli, outputs, records
from tinymtcnn.align import ARCFACE_TEMPLATE_112, template_for_size
from tinymtcnn.detect.result import Detections

ASTRONAUT = Path(__file__).resolve().parents[1] / "tinymtcnn" / "assets" / "astronaut.png"
FACE_BOX = (150, 30, 300, 200)  # x1, y1, x2, y2 of the astronaut's head in the bundled photo


def _noise(path, seed, size=40):
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
    return path


def _face(width, height):
    return Image.open(ASTRONAUT).convert("RGB").crop(FACE_BOX).resize((width, height), Image.BILINEAR)


@pytest.fixture
def tree(tmp_path):
    """``in/``: top.png (the astronaut, one face), a/b/face.jpg (her head), a/noise.png (no face), a/broken.jpg."""
    d = tmp_path / "in"
    (d / "a" / "b").mkdir(parents=True)
    Image.open(ASTRONAUT).convert("RGB").resize((200, 200), Image.BILINEAR).save(d / "top.png")
    _face(150, 170).save(d / "a" / "b" / "face.jpg", quality=95)
    _noise(d / "a" / "noise.png", 0)
    (d / "a" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return d


class FakeDetector:
    """Stands in for MTCNN: ``n_faces`` faces shaped like the template in photos of 64 px and more (none in
    smaller ones); face k is the template scaled by 0.3 (k + 1), score 0.99 - 0.1 k (the largest face has
    the lowest score). Raises KeyboardInterrupt on call ``interrupt_at``."""

    def __init__(self, n_faces=1, interrupt_at=None):
        self.n_faces, self.interrupt_at, self.calls = n_faces, interrupt_at, []

    def detect(self, image):
        self.calls.append(image.shape)
        if len(self.calls) == self.interrupt_at:
            raise KeyboardInterrupt
        if min(image.shape[:2]) < 64:
            return Detections.empty()
        scales = 0.3 * np.arange(1, self.n_faces + 1)
        landmarks = np.stack([ARCFACE_TEMPLATE_112 * s + 2 for s in scales])
        boxes = np.array([[2, 2, 2 + 112 * s, 2 + 112 * s] for s in scales])
        return Detections(boxes, 0.99 - 0.1 * np.arange(self.n_faces), landmarks)


@pytest.fixture
def fake(monkeypatch):
    detector = FakeDetector()
    monkeypatch.setattr(cli, "_make_detector", lambda options: detector)
    return detector


def _align(*argv):
    return cli.main(["align", *map(str, argv), "--no-progress"])


def _index(out):
    return json.loads((out / "index.json").read_text())


def _tree_bytes(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


# ------------------------------------------------------------------ layout, index, report
def test_crops_mirror_the_tree_and_the_index_lists_every_photo(tree, tmp_path, fake, capsys):
    out = tmp_path / "out"
    before = _tree_bytes(tree)
    assert _align(tree, "--out", out) == 1  # the broken file
    assert sorted(_tree_bytes(out)) == ["a/b/face_0.png", "index.json", "top_0.png"]
    assert _tree_bytes(tree) == before
    index = _index(out)
    assert index["format"] == "tinymtcnn align index" and index["settings"]["size"] == 112
    photos = {Path(p["path"]).relative_to(tree).as_posix(): p for p in index["photos"]}
    assert list(photos) == ["a/b/face.jpg", "a/broken.jpg", "a/noise.png", "top.png"]  # input order
    assert {k: p["status"] for k, p in photos.items()} == {"a/b/face.jpg": "ok", "a/broken.jpg": "unreadable",
                                                           "a/noise.png": "no face", "top.png": "ok"}
    assert "a/broken.jpg" in photos["a/broken.jpg"]["error"] and photos["a/noise.png"]["faces"] == []
    face = photos["top.png"]["faces"][0]
    assert face["face"] == 0 and face["crop"] == "top_0.png" and face["score"] == pytest.approx(0.99)
    assert face["box"] == pytest.approx([2, 2, 2 + 33.6, 2 + 33.6])
    assert face["landmarks"]["left_eye"] == pytest.approx(list(ARCFACE_TEMPLATE_112[0] * 0.3 + 2))
    assert photos["top.png"]["stamp"]["size"] == (tree / "top.png").stat().st_size
    crop = Image.open(out / "top_0.png")
    assert crop.size == (112, 112) and outputs.written_by_tinymtcnn(out / "top_0.png")
    err = capsys.readouterr().err
    assert "broken.jpg" in err and "4 photo(s): 2 with faces (2 crops), 1 without a face, 1 unreadable" in err
    assert "without a face: " in err and "noise.png" in err
    assert not records.partial_path(out / "index.json").exists()


def test_colliding_names_and_several_inputs(tmp_path, fake, capsys):
    d, other, out = tmp_path / "in", tmp_path / "other", tmp_path / "out"
    d.mkdir(), other.mkdir()
    for folder, name in [(d, "a.jpg"), (d, "A.png"), (other, "a.png")]:
        Image.open(ASTRONAUT).convert("RGB").resize((80, 80)).save(folder / name)
    assert _align(d, other / "a.png", "--out", out) == 0
    crops = [p["faces"][0]["crop"] for p in _index(out)["photos"]]
    assert crops == ["A_0.png", "a-1_0.png", "a-2_0.png"]  # sorted input order; case-insensitive names
    assert sorted(p.name for p in out.iterdir()) == ["A_0.png", "a-1_0.png", "a-2_0.png", "index.json"]


def test_largest_only_keeps_the_largest_box_not_the_best_score(tree, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "_make_detector", lambda options: FakeDetector(n_faces=2))
    assert _align(tree / "top.png", "--out", tmp_path / "all") == 0
    assert [f["crop"] for f in _index(tmp_path / "all")["photos"][0]["faces"]] == ["top_0.png", "top_1.png"]
    assert _align(tree / "top.png", "--out", tmp_path / "one", "--largest-only") == 0
    [face] = _index(tmp_path / "one")["photos"][0]["faces"]
    assert face["score"] == pytest.approx(0.89) and face["crop"] == "top_0.png"  # scale 0.6, not 0.3
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == ["index.json", "top_0.png"]


# ------------------------------------------------------------------ reruns
def test_rerun_skips_done_photos_and_redoes_changed_ones(tree, tmp_path, fake, capsys):
    out = tmp_path / "out"
    assert _align(tree, "--out", out) == 1
    assert len(fake.calls) == 3  # the broken file never reaches the detector
    first = _index(out)
    fake.calls.clear()
    assert _align(tree, "--out", out) == 1
    assert fake.calls == [] and _index(out) == first
    assert "3 done before, skipped" in capsys.readouterr().err
    (out / "a" / "b" / "face_0.png").unlink()  # a missing crop: redone
    Image.open(ASTRONAUT).convert("RGB").resize((96, 96)).save(tree / "top.png")  # changed: redone
    assert _align(tree, "--out", out) == 1
    assert sorted(fake.calls) == [(96, 96, 3), (170, 150, 3)] and (out / "a" / "b" / "face_0.png").is_file()
    assert next(p for p in _index(out)["photos"] if p["path"].endswith("top.png"))["width"] == 96


def test_crops_of_a_face_no_longer_found_are_removed(tree, tmp_path, monkeypatch, capsys):
    out, detector = tmp_path / "out", FakeDetector(n_faces=3)
    monkeypatch.setattr(cli, "_make_detector", lambda options: detector)
    assert _align(tree / "top.png", "--out", out) == 0
    assert sorted(p.name for p in out.glob("top_*")) == ["top_0.png", "top_1.png", "top_2.png"]
    detector.n_faces = 1
    _noise(tree / "top.png", 5, size=100)  # changed photo, now one face
    assert _align(tree / "top.png", "--out", out) == 0
    assert sorted(p.name for p in out.glob("top_*")) == ["top_0.png"]


def test_ctrl_c_keeps_finished_photos_and_a_rerun_finishes(tree, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    monkeypatch.setattr(cli, "_make_detector", lambda options: FakeDetector(interrupt_at=2))
    assert _align(tree, "--out", out) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.splitlines()[0].endswith("broken.jpg' is not an image file Pillow can read")
    assert len(err.splitlines()) == 2 and "interrupted: 2 of 4 photo(s) done" in err.splitlines()[1]
    assert "2 of 4 photo(s) done" in err and "index.json.partial.jsonl" in err  # face.jpg and broken.jpg
    assert not (out / "index.json").exists()
    resumed = FakeDetector()
    monkeypatch.setattr(cli, "_make_detector", lambda options: resumed)
    assert _align(tree, "--out", out) == 1
    assert len(resumed.calls) == 2  # noise.png and top.png; face.jpg was done, broken.jpg is retried
    assert len(_index(out)["photos"]) == 4 and not records.partial_path(out / "index.json").exists()


def test_photos_left_out_of_a_rerun_stay_in_the_index(tree, tmp_path, fake, capsys):
    out = tmp_path / "out"
    assert _align(tree / "a", "--out", out / "a") == 1
    assert _align(tree / "top.png", "--out", out / "a") == 0
    assert [Path(p["path"]).name for p in _index(out / "a")["photos"]] == ["top.png", "face.jpg", "broken.jpg",
                                                                           "noise.png"]


# ------------------------------------------------------------------ refusals, before any work
def test_out_inside_an_input_folder_is_refused(tree, fake, capsys):
    before = _tree_bytes(tree)
    assert _align(tree, "--out", tree / "aligned") == 2
    assert "inside the input folder" in capsys.readouterr().err
    extra = tree.parent / "x" / "a"
    extra.mkdir(parents=True)
    _noise(extra / "p.png", 3)
    assert _align(tree, extra, "--out", extra.parent) == 2  # in/a/b/face.jpg would be cropped into x/a/b/
    assert "inside the input folder" in capsys.readouterr().err and sorted(extra.parent.rglob("*")) == [
        extra, extra / "p.png"]
    assert _tree_bytes(tree) == before and fake.calls == []


def test_files_tinymtcnn_did_not_write_are_never_replaced(tree, tmp_path, fake, capsys):
    out = tmp_path / "out"
    out.mkdir()
    _noise(out / "top_0.png", 9)  # the user's own picture, named like a crop
    before = (out / "top_0.png").read_bytes()
    assert _align(tree / "top.png", "--out", out) == 2
    assert "did not write" in capsys.readouterr().err and (out / "top_0.png").read_bytes() == before
    (out / "top_0.png").unlink()
    (out / "index.json").write_text('{"mine": true}')
    assert _align(tree / "top.png", "--out", out) == 2
    assert "not a tinymtcnn align index" in capsys.readouterr().err
    assert (out / "index.json").read_text() == '{"mine": true}' and fake.calls == []


def test_a_file_appearing_under_a_crop_name_during_the_run_is_left_alone(tree, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"

    class Intruder(FakeDetector):
        def detect(self, image):  # someone saves a picture of theirs there while the photo is detected
            _noise(out / "top_0.png", 4)
            return super().detect(image)

    monkeypatch.setattr(cli, "_make_detector", lambda options: Intruder())
    out.mkdir()
    assert _align(tree / "top.png", "--out", out) == 1
    assert "tinymtcnn did not write" in capsys.readouterr().err
    assert not outputs.written_by_tinymtcnn(out / "top_0.png")
    assert _index(out)["photos"][0]["status"] == "failed"


def test_other_settings_and_bad_values_are_refused(tree, tmp_path, fake, capsys):
    out = tmp_path / "out"
    assert _align(tree / "top.png", "--out", out) == 0
    assert _align(tree / "top.png", "--out", out, "--size", "64") == 2
    assert "other settings" in capsys.readouterr().err
    assert _align(tree / "top.png", "--out", tmp_path / "o2", "--size", "64", "--margin", "64") == 2
    assert "--margin must be in [0, --size)" in capsys.readouterr().err
    assert len(fake.calls) == 1 and not (tmp_path / "o2").exists()


# ------------------------------------------------------------------ the real detector
@pytest.mark.pipeline
def test_real_photos_crops_and_eyes_on_the_template(tree, tmp_path, capsys):
    from tinymtcnn.detect.detector import MTCNN

    out = tmp_path / "out"
    assert _align(tree / "a", "--out", out, "--size", "160", "--margin", "40") == 1
    photos = {Path(p["path"]).name: p for p in _index(out)["photos"]}
    assert [p["status"] for p in photos.values()] == ["ok", "unreadable", "no face"]
    [face] = photos["face.jpg"]["faces"]
    assert face["crop"] == "b/face_0.png" and face["score"] > 0.9
    crop = np.asarray(Image.open(out / "b" / "face_0.png"))
    assert crop.shape == (160, 160, 3)
    again = MTCNN().detect(crop)  # found again in the crop, its eyes where the template puts them
    assert len(again) == 1
    np.testing.assert_allclose(again.landmarks[0, :2], template_for_size(160, 40)[:2], atol=5)


@pytest.mark.pipeline
def test_real_largest_only_on_two_pasted_faces(tmp_path, capsys):
    d = tmp_path / "in"
    d.mkdir()
    canvas = Image.new("RGB", (320, 200), (128, 128, 128))
    canvas.paste(_face(66, 75), (20, 60))
    canvas.paste(_face(132, 150), (150, 25))
    canvas.save(d / "two.png")
    assert _align(d, "--out", tmp_path / "all") == 0
    assert len(_index(tmp_path / "all")["photos"][0]["faces"]) == 2
    assert _align(d, "--out", tmp_path / "one", "--largest-only") == 0
    [face] = _index(tmp_path / "one")["photos"][0]["faces"]
    assert face["box"][0] > 140 and face["box"][2] - face["box"][0] > 60  # the big face, on the right
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == ["index.json", "two_0.png"]


@pytest.mark.pipeline
def test_workers_give_the_same_index(tree, tmp_path, capsys):
    assert _align(tree, "--out", tmp_path / "one") == 1
    assert _align(tree, "--out", tmp_path / "two", "--workers", "2") == 1
    assert _index(tmp_path / "one")["photos"] == _index(tmp_path / "two")["photos"]
    assert _tree_bytes(tmp_path / "one").keys() == _tree_bytes(tmp_path / "two").keys()
