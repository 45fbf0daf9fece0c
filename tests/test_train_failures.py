"""``tinymtcnn train`` under bad options, a diverging run, damaged checkpoints and shards, a full disk,
Ctrl-C: each fails with a clear message (file, line, epoch, step), the right exit status and no
traceback, and never replaces a good file by a bad one."""
import builtins
import errno
import json
import re
import shutil
from dataclasses import replace

import numpy as np
import pytest

from tinymtcnn.cli import build_parser, main
from tinymtcnn.train.cascade import write_report
from tinymtcnn.train.checkpoint import CheckpointError
from tinymtcnn.train.optim import SGD
from tinymtcnn.train.sampleset import SampleSet
from tinymtcnn.train.trainer import TrainConfig, Trainer, TrainingDiverged

pytestmark = pytest.mark.pipeline  # most cases run the trainer (the code of several assignment tasks)

QUICK = ["--synthetic", "3", "--workers", "1", "--no-progress"]


def _run(capsys, *argv):
    """``tinymtcnn train ...`` through the package's entry point: (status, stdout, stderr)."""
    status = main(["train", *map(str, argv)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """An output folder after one good P-Net epoch on three synthetic photos."""
    from tinymtcnn.train.cli import main as train_main  # lets a stub's NotImplementedError through

    out = tmp_path_factory.mktemp("good") / "run"
    assert train_main(["train", "pnet", *QUICK, "--epochs", "1", "--out", str(out)]) == 0
    return out


@pytest.fixture
def run_dir(trained, tmp_path):
    """A private copy of ``trained``."""
    return shutil.copytree(trained, tmp_path / "run")


# ------------------------------------------------------------------ options
BAD_OPTIONS = [("--batch-size", "0"), ("--batch-size", "-4"), ("--batch-size", "2.5"), ("--workers", "0"),
               ("--threads", "0"), ("--epochs", "0"), ("--epochs", "-1"), ("--lr", "0"), ("--lr", "-0.1"),
               ("--lr", "nan"), ("--lr", "inf"), ("--lr", "fast"), ("--weight-decay", "-1"),
               ("--weight-decay", "nan"), ("--min-face-size", "0"), ("--min-face-size", "inf"), ("--seed", "-1"),
               ("--synthetic", "0"), ("--max-photos", "0"), ("--eval-synthetic", "-1"), ("--mosaics", "-1")]


@pytest.mark.parametrize("option,value", BAD_OPTIONS)
def test_every_bad_number_is_a_usage_error_before_any_work(tmp_path, capsys, option, value):
    args = [a for a in QUICK if a != "--synthetic" and a != "3"] if option == "--synthetic" else QUICK
    status, _, err = _run(capsys, "pnet", *args, "--out", tmp_path / "r", option, value)
    assert status == 2
    assert f"argument {option}:" in err and value in err
    assert not (tmp_path / "r").exists()


def test_the_table_covers_every_numeric_option():
    train = next(a for a in build_parser()._subparsers._group_actions[0].choices.values() if a.prog.endswith("train"))
    numeric = {a.option_strings[0] for a in train._actions if a.option_strings and a.type is not None}
    assert numeric == {o for o, _ in BAD_OPTIONS}


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "taken").write_text("a user's file")
    status, _, err = _run(capsys, "pnet", *QUICK, "--out", tmp_path / "taken")
    assert status == 2 and "taken exists and is not a folder" in err
    assert (tmp_path / "taken").read_text() == "a user's file"


def test_options_that_do_not_apply_are_refused(tmp_path, capsys):
    status, _, err = _run(capsys, "pnet", *QUICK, "--out", tmp_path / "r", "--landmarks", tmp_path / "l.txt")
    assert status == 2 and "--landmarks apply to --data, not to --synthetic" in err
    (tmp_path / "a.txt").write_text("a.jpg\n1\n1 2 30 40\n")
    status, _, err = _run(capsys, "pnet", "--data", tmp_path / "a.txt", "--images", tmp_path / "nowhere",
                          "--out", tmp_path / "r")
    assert status == 2 and f"--images {tmp_path / 'nowhere'}: no such folder" in err
    assert not (tmp_path / "r").exists()


# ------------------------------------------------------------------ divergence
@pytest.mark.pipeline
def test_diverging_run_names_epoch_and_step_and_keeps_the_last_good_checkpoint(run_dir, capsys):
    before = {p: (run_dir / p).read_bytes() for p in ("pnet.ckpt.npz", "pnet.npz")}
    status, _, err = _run(capsys, "pnet", *QUICK, "--out", run_dir, "--resume", "--epochs", "3", "--lr", "1e6")
    assert status == 1
    assert re.search(r"pnet diverged at epoch 2/3, (step \d+/\d+|validation after the last step): the ", err)
    assert "learning rate is probably too high" in err
    assert f"{run_dir / 'pnet.ckpt.npz'} (after epoch 1) is kept" in err
    assert all((run_dir / p).read_bytes() == b for p, b in before.items())


@pytest.mark.pipeline
def test_fresh_diverging_run_writes_nothing(tmp_path, capsys):
    status, _, err = _run(capsys, "pnet", *QUICK, "--out", tmp_path / "r", "--epochs", "2", "--lr", "1e6",
                          "--batch-size", "8")
    assert status == 1 and "diverged at epoch 1/2, step " in err and "no checkpoint was written" in err
    assert not (tmp_path / "r" / "pnet.npz").exists() and not (tmp_path / "r" / "pnet.ckpt.npz").exists()


def _toy_samples(n):
    rng = np.random.default_rng(0)
    labels = rng.choice(np.array([0, 1, -1, -2], np.int8), n)
    return SampleSet({"images": rng.integers(0, 255, (n, 3, 12, 12)).astype(np.uint8), "labels": labels,
                      "boxes": np.zeros((n, 4), np.float32), "landmarks": np.zeros((n, 10), np.float32),
                      "sides": np.full(n, 12, np.float32), "photos": np.arange(n, dtype=np.int32)}, 12)


@pytest.mark.pipeline
def test_weights_that_turn_nan_at_the_last_step_of_an_epoch_are_never_saved(tmp_path, monkeypatch):
    """The loss of that step is still finite: the weights themselves are checked after each step."""
    cfg = TrainConfig(epochs=2, batch_size=16, lr=0.01, schedule="constant")
    t = Trainer("pnet", tmp_path, replace(cfg, epochs=1), progress=False, log=lambda m: None)
    t.fit(_toy_samples(16))
    good = (tmp_path / "pnet.ckpt.npz").read_bytes()
    t = Trainer("pnet", tmp_path, cfg, progress=False, log=lambda m: None)
    step = SGD.step

    def poisoned(self, grads):
        step(self, grads)
        self.params["conv1.w"][0, 0, 0, 0] = np.nan

    monkeypatch.setattr(SGD, "step", poisoned)
    with pytest.raises(TrainingDiverged, match=r"epoch 2/2, step 1/1: the weights of conv1.w became NaN"):
        t.fit(_toy_samples(16), resume=True)
    assert (tmp_path / "pnet.ckpt.npz").read_bytes() == good


def test_train_config_rejects_counts_and_rates_out_of_range():
    for bad in (dict(batch_size=0), dict(batch_size=-4), dict(epochs=True), dict(lr=float("inf")),
                dict(ohem=1.5), dict(num_threads=0), dict(weight_decay=float("nan"))):
        name = next(iter(bad))
        with pytest.raises(ValueError, match=f"TrainConfig.{name} must be"):
            TrainConfig(**bad)


# ------------------------------------------------------------------ damaged checkpoints
def _truncate(p):
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _random_bytes(p):
    p.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())


def _npz_without_meta(p):
    np.savez(p, a=np.zeros(3))


def _zip_of_text(p):
    import zipfile

    with zipfile.ZipFile(p, "w") as z:
        z.writestr("hello.txt", "not a checkpoint")


def _pickled_objects(p):
    np.savez(p, meta=np.array([{"kind": "pnet"}], dtype=object))


def _mis_shaped_parameter(p):
    with np.load(p) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["param::conv1.w"] = np.zeros((1, 2, 3))
    np.savez(p, **arrays)


def _nan_parameter(p):
    with np.load(p) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["param::conv1.b"] = arrays["param::conv1.b"] * np.nan
    np.savez(p, **arrays)


def _bad_meta(p):
    with np.load(p) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["meta"] = np.array('{"kind": "pnet", "epoch": "one"')
    np.savez(p, **arrays)


DAMAGE = {"truncated": (_truncate, "not an .npz archive"), "random bytes": (_random_bytes, "not an .npz archive"),
          "npz without meta": (_npz_without_meta, "no 'meta' entry"), "zip of text": (_zip_of_text, "no 'meta'"),
          "pickled objects": (_pickled_objects, "pickled objects"),
          "mis-shaped parameter": (_mis_shaped_parameter, "conv1.w"),
          "NaN parameter": (_nan_parameter, "conv1.b"), "bad meta": (_bad_meta, "'meta' entry is not valid JSON")}


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.pipeline
def test_damaged_checkpoint_names_the_file_and_what_to_do(run_dir, capsys, damage):
    spoil, reason = DAMAGE[damage]
    spoil(run_dir / "pnet.ckpt.npz")
    status, out, err = _run(capsys, "pnet", *QUICK, "--out", run_dir, "--resume", "--epochs", "2")
    assert status == 2
    assert f"cannot resume from checkpoint {run_dir / 'pnet.ckpt.npz'}" in err and reason in err
    assert "delete" in err and "without --resume" in err
    assert "samples" not in out  # refused before the samples are built
    for raw in ("allow_pickle", "BadZipFile", "KeyError", "EOFError"):
        assert raw not in err


@pytest.mark.pipeline
def test_checkpoint_of_another_optimizer_is_refused_and_changes_nothing(run_dir, capsys):
    status, out, err = _run(capsys, "pnet", *QUICK, "--out", run_dir, "--resume", "--epochs", "2", "--optimizer", "adam")
    assert status == 2 and str(run_dir / "pnet.ckpt.npz") in err and "slot 'velocity'" in err
    assert "samples" not in out  # refused before the samples are built
    t = Trainer("pnet", run_dir, TrainConfig(optimizer="adam"), progress=False)
    before = {k: v.copy() for k, v in t.net.params.items()}
    with pytest.raises(CheckpointError):
        t.load_checkpoint()
    assert t.epoch == 0 and all(np.array_equal(t.net.params[k], v) for k, v in before.items())


@pytest.mark.pipeline
def test_damaged_sample_shard_is_named(run_dir, capsys):
    shard = run_dir / "samples" / "pnet" / "shard-00000.npz"
    _truncate(shard)
    status, _, err = _run(capsys, "pnet", *QUICK, "--out", run_dir, "--epochs", "1")
    assert status == 2 and f"damaged sample shard {shard}" in err and "delete it" in err


@pytest.mark.pipeline
def test_unreadable_manifest_rebuilds_the_shards(run_dir, capsys):
    (run_dir / "samples" / "pnet" / "manifest.json").write_bytes(b"\xff{")
    status, out, _ = _run(capsys, "pnet", *QUICK, "--out", run_dir, "--epochs", "1")
    assert status == 0 and "rebuilding 1 shards" in out


# ------------------------------------------------------------------ full disk, Ctrl-C
class _FullDisk:
    """A file that takes ``room`` bytes, then fails like a full disk (after a partial write)."""

    def __init__(self, f, room):
        self._f, self._room = f, room

    def write(self, data):
        n = memoryview(data).nbytes
        if n > self._room:
            self._f.write(bytes(memoryview(data).cast("B")[: self._room]))
            self._room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= n
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


@pytest.fixture
def full_disk(monkeypatch):
    """Writes to atomic temporary files (``*.tmp``) run out of space after 100 bytes."""
    real_open = builtins.open

    def fake_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        return _FullDisk(f, 100) if "w" in mode and str(file).endswith(".tmp") else f

    monkeypatch.setattr(builtins, "open", fake_open)


@pytest.mark.pipeline
def test_full_disk_keeps_the_previous_checkpoint(run_dir, capsys, full_disk):
    before = (run_dir / "pnet.ckpt.npz").read_bytes()
    status, _, err = _run(capsys, "pnet", *QUICK, "--out", run_dir, "--resume", "--epochs", "2")
    assert status == 1
    assert f"cannot write {run_dir / 'pnet.ckpt.npz'}: No space left on device" in err
    assert (run_dir / "pnet.ckpt.npz").read_bytes() == before
    assert not list(run_dir.glob("*.tmp"))


def test_full_disk_keeps_the_previous_report(tmp_path, monkeypatch):
    path = tmp_path / "report.json"
    write_report(path, {"recall": 0.9, "landmark_nme": float("nan")})
    before = path.read_text()
    assert json.loads(before) == {"recall": 0.9, "landmark_nme": None}  # strict JSON: NaN as null
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda f, mode="r", *a, **k: _FullDisk(real_open(f, mode, *a, **k), 10)
                        if "w" in mode else real_open(f, mode, *a, **k))
    with pytest.raises(OSError, match=f"cannot write {path}: No space left on device"):
        write_report(path, {"recall": 0.5, "notes": "x" * 1000})
    assert path.read_text() == before and [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_ctrl_c_is_a_one_line_message_and_status_130(tmp_path, capsys, monkeypatch):
    import tinymtcnn.train.cascade as cascade

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cascade, "train_cascade", interrupted)
    status, _, err = _run(capsys, "pnet", *QUICK, "--out", tmp_path / "r")
    assert status == 130 and "interrupted" in err and "--resume" in err


def test_workers_that_die_while_starting_end_the_run_with_a_message(tmp_path, capsys, monkeypatch):
    """The sample builders' pool gives up after three start-up deaths in a row (PoolBroken): exit 1, one
    message, no traceback (as ``detect`` reports it)."""
    import tinymtcnn.train.cascade as cascade
    from tinymtcnn.process_pool import PoolBroken

    def broken(*args, **kwargs):
        raise PoolBroken("3 worker processes in a row died while starting (killed by SIGKILL)")

    monkeypatch.setattr(cascade, "train_cascade", broken)
    status, _, err = _run(capsys, "pnet", *QUICK, "--out", tmp_path / "r")
    assert status == 1 and "died while starting" in err and "Traceback" not in err


# ------------------------------------------------------------------ annotation files
def _data_error(tmp_path, capsys, name, content, *extra):
    """Train on an annotation file ``name`` holding ``content`` (str: UTF-8, bytes: as given)."""
    f = tmp_path / name
    f.write_bytes(content.encode() if isinstance(content, str) else content)
    option = "--landmarks" if name.endswith(".lst") else "--data"
    data = ["--data", tmp_path / "ok.txt"] if option == "--landmarks" else []
    if data:
        (tmp_path / "ok.txt").write_text("a.jpg\n1\n10 10 30 30\n")
    status, _, err = _run(capsys, "pnet", "--workers", "1", "--no-progress", "--out", tmp_path / "r", *data,
                          option, f, *extra)
    assert status == 2 and not (tmp_path / "r").exists()
    return err


READER_CASES = {
    "latin-1 name": ("bbx_gt.txt", "a.jpg\n1\n1 2 3 4\nd\xe9j\xe0.jpg\n".encode("latin-1"), ":4: not UTF-8 text (byte 0xe9)"),
    "UTF-16": ("bbx_gt.txt", "a.jpg\n1\n1 2 3 4\n".encode("utf-16"), "UTF-16 text"),
    "WIDER negative width": ("bbx_gt.txt", "a.jpg\n2\n1 2 3 4\n10 20 -5 40 0 0 0 0 0 0\n", ":4: inverted box"),
    "WIDER extra fields": ("bbx_gt.txt", "a.jpg\n1\n1 2 3 4 0 0 0 0 0 0 7\n", ":3: expected at most 10 numbers"),
    "WIDER NaN": ("bbx_gt.txt", "a.jpg\n1\n1 nan 3 4\n", ":3: NaN or infinity"),
    "WIDER text for a number": ("bbx_gt.txt", "a.jpg\n1\n1 two 3 4\n", ":3: expected numbers"),
    "WIDER too few faces": ("bbx_gt.txt", "a.jpg\n1\n1 2 3 4\n5 6 7 8\nb.jpg\n0\n", ":5: expected a face count"),
    "FDDB zero radius": ("FDDB-fold-01-ellipseList.txt", "x\n1\n0 10 0.1 30 40 1\n", ":3: ellipse radii must be > 0"),
    "FDDB extra fields": ("FDDB-fold-01-ellipseList.txt", "x\n1\n20 10 0 30 40 1 9\n", ":3: expected at most 6"),
    "landmarks wrong count": ("points.lst", "a.jpg 1 2 3 4 5 6 7 8 9\n", ":1: expected an image path and 10 numbers"),
    "landmarks same point": ("points.lst", "b.jpg" + " 5" * 10 + "\n", ":1 (box from the five points): empty box"),
    "JSON flat boxes": ("a.json", '[\n {"image": "a.jpg", "boxes": [[1, 2, 30, 40]]},\n {"image": "b.jpg",\n'
                                  '  "boxes": [1, 2, 30, 40]}\n]', ":3: record 1 (b.jpg): boxes"),
    "JSON ragged boxes": ("a.json", '[{"image": "a.jpg", "boxes": [[1, 2, 30, 40], [1, 2]]}]', ":1: record 0 (a.jpg)"),
    "JSON inverted box": ("a.json", '[\n{"image": "a.jpg", "boxes": [[1, 2, 30, 40], [50, 2, 30, 40]]}]',
                          ":2: record 0 (a.jpg), box 1: inverted box"),
    "JSON empty box": ("a.json", '[{"image": "a.jpg", "boxes": [[1, 2, 1, 40]]}]', "box 0: empty box"),
    "JSON NaN": ("a.json", '[{"image": "a.jpg", "boxes": [[1, NaN, 30, 40]]}]', "hold NaN or infinity"),
    "JSON strings": ("a.json", '[{"image": "a.jpg", "boxes": [["1", "b", 3, 4]]}]', "boxes [[x1, y1, x2, y2], ...] must be numbers"),
    "JSON landmarks shape": ("a.json", '[{"image": "a.jpg", "boxes": [[1, 2, 30, 40]], "landmarks5": [[1, 2]]}]',
                             "landmarks5 must have shape (1, 5, 2)"),
    "JSON ignore flags": ("a.json", '[{"image": "a.jpg", "boxes": [[1, 2, 30, 40]], "ignore": ["no"]}]',
                          "ignore must be a list of 1 true/false flags"),
    "JSON no image": ("a.json", '[{"boxes": []}]', ":1: record 0: needs 'image' and 'boxes'"),
    "JSON invalid": ("a.json", '[\n{"image": "a.jpg", "boxes": []},\n{"image": }]', ":3: invalid JSON"),
    "JSON missing comma": ("a.json", '[\n{"image": "a.jpg", "boxes": []}\n{"image": "b.jpg", "boxes": []}]',
                           ":3: invalid JSON: expected ',' or ']'"),
    "JSON trailing data": ("a.json", '[]\n]', ":2: invalid JSON: extra data"),
    "JSON not a list": ("a.json", '{"image": "a.jpg"}', "expected a JSON list"),
}


@pytest.mark.parametrize("case", READER_CASES)
def test_bad_annotation_names_file_and_line(tmp_path, capsys, case):
    name, content, message = READER_CASES[case]
    err = _data_error(tmp_path, capsys, name, content)
    assert f"{tmp_path / name}" in err and message in err


def test_readers_skip_a_byte_order_mark(tmp_path):
    from tinymtcnn.train.readers import read_fddb, read_json, read_landmark_list, read_wider

    bom = b"\xef\xbb\xbf"
    (tmp_path / "w.txt").write_bytes(bom + b"a.jpg\r\n1\r\n1 2 3 4\r\n")
    (tmp_path / "f.txt").write_bytes(bom + b"x\n1\n20 10 0 30 40 1\n")
    (tmp_path / "l.txt").write_bytes(bom + b"a.jpg 30 50 40 32 48 35 35 45 58 58\n")
    (tmp_path / "j.json").write_bytes(bom + b'[{"image": "a.jpg", "boxes": [[1, 2, 4, 6]]}]')
    for photos in (read_wider(tmp_path / "w.txt"), read_fddb(tmp_path / "f.txt", tmp_path),
                   read_landmark_list(tmp_path / "l.txt"), read_json(tmp_path / "j.json")):
        assert photos.annotations[0].path.name in ("a.jpg", "x.jpg")
    np.testing.assert_array_equal(read_wider(tmp_path / "w.txt").annotations[0].boxes, [[1, 2, 4, 6]])


def test_boxes_beyond_the_left_edge_do_not_crash_sampling():
    """Once "high - low < 0" from the near-negative sampler, without a file or a line."""
    from tinymtcnn.train.readers import Photo
    from tinymtcnn.train.samples import SamplingConfig, photo_crops

    photo = Photo(np.zeros((64, 64, 3), np.uint8), np.array([[-50.0, -60, -30, -40], [10, 10, 40, 40]]))
    crops = photo_crops(photo, np.random.default_rng(0), SamplingConfig(near_negatives=20))
    assert len(crops["crops"]) > 0


def test_unreadable_image_in_a_worker_names_the_image(tmp_path):
    from PIL import Image

    from tinymtcnn.train.dataset import build_samples
    from tinymtcnn.train.readers import Annotation, PhotoList

    Image.fromarray(np.full((40, 40, 3), 90, np.uint8)).save(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(b"not a picture")
    box = np.array([[5.0, 5, 30, 30]])
    photos = PhotoList([Annotation(tmp_path / "good.png", box), Annotation(tmp_path / "bad.png", box)], "t")
    with pytest.raises(ValueError, match="bad.png.* is not an image file"):
        build_samples(photos, 12, tmp_path / "s", shard_photos=1, workers=2, progress=False, log=lambda m: None)
    assert not list((tmp_path / "s").glob("*.tmp"))  # the other worker, ended, left no partial shard
