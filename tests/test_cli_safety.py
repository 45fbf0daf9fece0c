"""tinymtcnn detect never loses or overwrites a user's data: inputs refused as outputs, results
streamed and resumable, atomic JSON, failed picture saves, Ctrl-C, and a worker killed mid-run."""
import errno
import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinymtcnn import cli, outputs, records
from tinymtcnn.detect.result import Detections

ASTRONAUT = Path(__file__).resolve().parents[1] / "tinymtcnn" / "assets" / "astronaut.png"


def _noise(path, seed, size=40):
    """A small generated picture (no face): fast to detect on."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def photos(tmp_path):
    """``in/``: five small pictures p0..p4.png (p2 is a small astronaut: one face)."""
    d = tmp_path / "in"
    d.mkdir()
    for i in range(5):
        _noise(d / f"p{i}.png", i)
    Image.open(ASTRONAUT).resize((128, 128), Image.BILINEAR).save(d / "p2.png")
    return d


class CountingDetector:
    """Stands in for MTCNN: no faces, counts its calls, raises KeyboardInterrupt on call ``interrupt_at``."""

    def __init__(self, interrupt_at=None):
        self.calls, self.interrupt_at = [], interrupt_at

    def detect(self, image):
        self.calls.append(image.shape)
        if len(self.calls) == self.interrupt_at:
            raise KeyboardInterrupt
        return Detections.empty()


@pytest.fixture
def fake_detector(monkeypatch):
    detector = CountingDetector()
    monkeypatch.setattr(cli, "_make_detector", lambda options: detector)
    return detector


def _tree_bytes(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def _detect(*argv):
    return cli.main(["detect", *map(str, argv), "--no-progress"])


# ------------------------------------------------------------------ inputs are sacred
def test_out_onto_the_input_folder_is_refused(photos, fake_detector, capsys):
    before = _tree_bytes(photos)
    assert _detect(photos, "--out", photos) == 2
    assert "inside the input folder" in capsys.readouterr().err
    assert _detect(photos / "p0.png", "--out", photos) == 2  # not searched, but p0.png would be replaced
    assert "would overwrite the input" in capsys.readouterr().err
    assert _tree_bytes(photos) == before and fake_detector.calls == []


def test_out_inside_a_searched_input_tree_is_refused(photos, fake_detector, capsys):
    assert _detect(photos, "--out", photos / "annotated") == 2
    assert "read as inputs" in capsys.readouterr().err
    assert not (photos / "annotated").exists() and fake_detector.calls == []


@pytest.mark.parametrize("name", ["results.json", "r.jpg", "sub/results.json"])
def test_json_inside_a_searched_input_tree_is_refused(photos, fake_detector, capsys, name):
    # a results file named like a photo would be read as one by the next run; none is written into an input folder
    before = _tree_bytes(photos)
    assert _detect(photos, "--json", photos / name) == 2
    assert "--json" in (err := capsys.readouterr().err) and "inside the input folder" in err
    assert _tree_bytes(photos) == before and fake_detector.calls == []
    assert _detect(photos / "p0.png", "--json", photos / name) != 2  # a photo given by name: its folder is not searched


def test_out_never_replaces_a_file_tinymtcnn_did_not_write(photos, tmp_path, fake_detector, capsys):
    out = tmp_path / "out"
    out.mkdir()
    _noise(out / "p0.png", 99)  # the user's own picture, not an input
    before = (out / "p0.png").read_bytes()
    assert _detect(photos / "p0.png", "--out", out) == 2
    assert "did not write" in capsys.readouterr().err
    assert (out / "p0.png").read_bytes() == before
    (out / "p0.png").unlink()
    assert _detect(photos / "p0.png", "--out", out) == 0  # a rerun replaces tinymtcnn's own picture
    assert _detect(photos / "p0.png", "--out", out) == 0
    assert outputs.written_by_tinymtcnn(out / "p0.png")


def test_json_onto_an_input_is_refused(photos, fake_detector, capsys):
    before = _tree_bytes(photos)
    assert _detect(photos, "--json", photos / "p1.png") == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert _tree_bytes(photos) == before and fake_detector.calls == []


def test_unwritable_destinations_are_refused_before_any_work(photos, tmp_path, fake_detector, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert _detect(photos, "--out", blocker / "out") == 2
    assert "--out: cannot write into the folder" in capsys.readouterr().err
    assert _detect(photos, "--json", blocker / "r.json") == 2
    assert "--json: cannot write into the folder" in capsys.readouterr().err
    assert _detect(photos, "--resume") == 2  # --resume needs --json
    assert fake_detector.calls == []


def test_colliding_names_are_recorded(tmp_path, fake_detector, capsys):
    d, out = tmp_path / "in", tmp_path / "out"
    (d / "sub").mkdir(parents=True)
    for i, name in enumerate(["a.jpg", "a.png", "sub/a.jpg"]):
        _noise(d / name, i)
    assert _detect(d, "--out", out) == 0
    found = {Path(r["path"]).relative_to(d).as_posix(): r["annotated"] for r in json.loads(capsys.readouterr().out)}
    assert found == {"a.jpg": str(out / "a.png"), "a.png": str(out / "a-1.png"), "sub/a.jpg": str(out / "a-2.png")}
    assert sorted(p.name for p in out.iterdir()) == ["a-1.png", "a-2.png", "a.png"]
    assert _detect(d) == 0
    assert [r["annotated"] for r in json.loads(capsys.readouterr().out)] == [None, None, None]


# ------------------------------------------------------------------ no finished result is lost
def test_failed_picture_save_keeps_the_detection(photos, tmp_path, fake_detector, monkeypatch, capsys):
    def read_only(image, path):
        if Path(path).name == "p1.png":
            raise OSError(errno.EROFS, "Read-only file system")
        return save_picture(image, path)

    save_picture = outputs.save_picture
    monkeypatch.setattr(outputs, "save_picture", read_only)
    result = tmp_path / "r.json"
    assert _detect(photos, "--out", tmp_path / "out", "--json", result) == 1
    err = capsys.readouterr().err
    assert "Read-only file system" in err and "1 annotated picture(s) could not be written" in err
    saved = json.loads(result.read_text())
    assert len(saved) == 5 and saved[1]["annotated"] is None and "Read-only" in saved[1]["annotate_error"]
    assert all(r["annotated"] == str(tmp_path / "out" / f"p{i}.png") for i, r in enumerate(saved) if i != 1)


def test_ctrl_c_keeps_finished_records_and_resume_skips_them(photos, tmp_path, monkeypatch, capsys):
    result = tmp_path / "r.json"
    result.write_text("previous results\n")
    interrupted = CountingDetector(interrupt_at=3)
    monkeypatch.setattr(cli, "_make_detector", lambda options: interrupted)
    assert _detect(photos, "--json", result) == 130
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "2 of 5 photo(s) done" in err and "--resume" in err and "r.json.partial.jsonl" in err
    lines = records.partial_path(result).read_text().splitlines()
    assert [Path(json.loads(line)["path"]).name for line in lines[1:]] == ["p0.png", "p1.png"]
    assert result.read_text() == "previous results\n"

    assert _detect(photos, "--json", result) == 2  # without --resume the partial results are not thrown away
    assert "--resume" in capsys.readouterr().err
    assert _detect(photos, "--json", result, "--min-face-size", "40", "--resume") == 2  # other settings
    assert "other settings" in capsys.readouterr().err

    _noise(photos / "p1.png", 7, size=48)  # changed since: redone
    resumed = CountingDetector()
    monkeypatch.setattr(cli, "_make_detector", lambda options: resumed)
    assert _detect(photos, "--json", result, "--resume") == 0
    assert len(resumed.calls) == 4 and (48, 48, 3) in resumed.calls
    saved = json.loads(result.read_text())
    assert [Path(r["path"]).name for r in saved] == [f"p{i}.png" for i in range(5)] and saved[1]["width"] == 48
    assert not records.partial_path(result).exists()


def test_ctrl_c_without_json_prints_the_finished_records(photos, monkeypatch, capsys):
    monkeypatch.setattr(cli, "_make_detector", lambda options: CountingDetector(interrupt_at=3))
    assert _detect(photos) == 130
    captured = capsys.readouterr()
    assert [Path(r["path"]).name for r in json.loads(captured.out)] == ["p0.png", "p1.png"]
    assert len(captured.err.splitlines()) == 1


def test_a_line_cut_short_by_a_crash_is_dropped(photos, tmp_path, monkeypatch, capsys):
    result = tmp_path / "r.json"
    monkeypatch.setattr(cli, "_make_detector", lambda options: CountingDetector(interrupt_at=3))
    assert _detect(photos, "--json", result) == 130
    with open(records.partial_path(result), "a") as f:
        f.write('{"path": "p2.png", "wid')  # the power went out here
    resumed = CountingDetector()
    monkeypatch.setattr(cli, "_make_detector", lambda options: resumed)
    assert _detect(photos, "--json", result, "--resume") == 0
    assert len(resumed.calls) == 3  # p2 (cut short), p3, p4
    assert len(json.loads(result.read_text())) == 5


@pytest.mark.parametrize("where", ["final", "stream"])
def test_full_disk_keeps_the_previous_json(photos, tmp_path, fake_detector, monkeypatch, capsys, where):
    result = tmp_path / "r.json"
    result.write_text('["previous"]\n')
    write = records._write_synced

    def full_disk(f, data):
        final = f.name.endswith(".tmp")
        if (where == "final") == final and (final or len(fake_detector.calls) == 3):
            f.write(data[:10])
            raise OSError(errno.ENOSPC, "No space left on device")
        write(f, data)

    monkeypatch.setattr(records, "_write_synced", full_disk)
    assert _detect(photos, "--json", result) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "--resume" in err
    assert result.read_text() == '["previous"]\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "r.json", "r.json.partial.jsonl"]  # no .tmp left
    monkeypatch.setattr(records, "_write_synced", write)
    assert _detect(photos, "--json", result, "--resume") == 0
    assert len(json.loads(result.read_text())) == 5
    assert len(fake_detector.calls) == (5 if where == "final" else 3 + 3)  # finished ones not redone


def test_demo_never_overwrites_the_bundled_photo(capsys):
    before = ASTRONAUT.read_bytes()
    assert cli.main(["demo", "--out", str(ASTRONAUT)]) == 2
    assert "bundled photo" in capsys.readouterr().err and ASTRONAUT.read_bytes() == before


# ------------------------------------------------------------------ a worker killed mid-run
def _die_in_worker(task):
    """Worker work (pickled by reference into spawned workers): SIGKILL itself on ``kill-once.png`` the first
    time (a flag file in $TINYMTCNN_TEST_FLAGS remembers it) and on ``kill-always.png`` every time."""
    name = Path(task[0]).name
    flag = Path(os.environ["TINYMTCNN_TEST_FLAGS"]) / name
    if name == "kill-always.png" or (name == "kill-once.png" and not flag.exists()):
        flag.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return cli._process_in_worker(task)


@pytest.mark.pipeline
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_killed_worker_is_replaced_and_its_photo_retried_once(photos, tmp_path, monkeypatch, capsys):
    flags = tmp_path / "flags"
    flags.mkdir()
    monkeypatch.setenv("TINYMTCNN_TEST_FLAGS", str(flags))
    monkeypatch.setattr(cli, "_process_in_worker", _die_in_worker)
    _noise(photos / "kill-once.png", 10)
    _noise(photos / "kill-always.png", 11)
    result = tmp_path / "r.json"
    assert _detect(photos, "--json", result, "--workers", "2", "--out", tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "died (killed by SIGKILL) on" in err and "retrying it on a new worker" in err
    assert "kill-always.png" in err and "died 2 times on it" in err and "1 of 7 file(s) failed" in err
    saved = json.loads(result.read_text())
    assert [Path(r["path"]).name for r in saved] == ["kill-once.png", "p0.png", "p1.png", "p2.png", "p3.png",
                                                     "p4.png"]
    assert len(saved[3]["faces"]) == 1 and all(Path(r["annotated"]).is_file() for r in saved)
    assert not records.partial_path(result).exists()


@pytest.mark.pipeline
def test_ctrl_c_with_workers_ends_them_and_keeps_the_finished_records(photos, tmp_path, monkeypatch, capsys):
    import multiprocessing
    from multiprocessing import connection

    wait, result, pressed = connection.wait, tmp_path / "r.json", []

    def interrupted_wait(*args, **kwargs):  # Ctrl-C (once) in the main process when three records are kept
        if not pressed and len(records.partial_path(result).read_text().splitlines()) >= 1 + 3:
            pressed.append(True)
            raise KeyboardInterrupt
        return wait(*args, **kwargs)

    monkeypatch.setattr(connection, "wait", interrupted_wait)
    assert _detect(photos, "--json", result, "--workers", "2", "--out", tmp_path / "out") == 130
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "--resume" in err
    kept = records.partial_path(result).read_text().splitlines()[1:]
    assert len(kept) == 3 and "3 of 5 photo(s) done" in err
    assert multiprocessing.active_children() == []
    assert not [p for p in (tmp_path / "out").iterdir() if p.suffix == ".tmp"]


def _exit_at_start(options):
    """Worker initializer that fails as an out-of-memory start-up would."""
    os._exit(3)


def test_workers_dying_at_start_stop_the_run_with_a_message(photos, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "_init_worker", _exit_at_start)
    result = tmp_path / "r.json"
    assert _detect(photos, "--json", result, "--workers", "2") == 1
    err = capsys.readouterr().err
    assert "3 worker processes in a row died while starting (exit status 3)" in err and "--resume" in err
    assert not result.exists() and records.partial_path(result).exists()
