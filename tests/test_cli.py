"""tinymtcnn.cli: argument handling, detect over folders (errors, JSON, PNGs, workers), demo."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tinymtcnn import __version__, cli
from tinymtcnn.outputs import annotated_names

REPO = Path(__file__).resolve().parents[1]
ASTRONAUT = REPO / "tinymtcnn" / "assets" / "astronaut.png"


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    """A half-size astronaut (fast), a mirrored copy in a sub-folder, a corrupt .jpg and a text file."""
    d = tmp_path_factory.mktemp("photos")
    small = Image.open(ASTRONAUT).resize((256, 256), Image.BILINEAR)
    small.save(d / "astronaut.png")
    (d / "sub").mkdir()
    small.transpose(Image.FLIP_LEFT_RIGHT).save(d / "sub" / "astronaut.png")
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 10)
    (d / "notes.txt").write_text("not an image")
    return d


def test_version(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"tinymtcnn {__version__}"


@pytest.mark.parametrize("argv", [[], ["detect"], ["detect", "x.png", "--thresholds", "0.5", "0.5"],
                                  ["detect", "x.png", "--workers", "0"], ["detect", "x.png", "--landmarks", "nope"],
                                  ["detect", "x.png", "--min-face-size", "abc"], ["detect", "x.png", "--threads", "0"],
                                  ["frobnicate"]])
def test_usage_errors_exit_2(argv, capsys):
    assert cli.main(argv) == 2
    assert capsys.readouterr().err


@pytest.mark.parametrize("argv", [["detect", "x.png", "--min-face-size", "0"],
                                  ["detect", "x.png", "--scale-factor", "1.5"],
                                  ["detect", "x.png", "--thresholds", "0.5", "0.5", "2"]])
def test_bad_detector_values_exit_2(argv, capsys):
    assert cli.main(argv) == 2
    assert "error" in capsys.readouterr().err


def test_png_names_avoid_collisions(tmp_path):
    names = annotated_names([Path("a/x.jpg"), Path("b/x.png"), Path("y.tif"), Path("c/X.bmp")], tmp_path)
    assert [n.name for n in names] == ["x.png", "x-1.png", "y.png", "X-2.png"]
    # --resume: a photo done earlier keeps its picture; the others avoid its name
    names = annotated_names([Path("a/x.jpg"), Path("b/x.png")], tmp_path, reserved={1: tmp_path / "x.png"})
    assert [n.name for n in names] == ["x-1.png", "x.png"]


@pytest.mark.pipeline
def test_detect_folder(photo_dir, tmp_path, capsys):
    out = tmp_path / "annotated"
    status = cli.main(["detect", str(photo_dir), "--out", str(out), "--no-progress"])
    captured = capsys.readouterr()
    assert status == 1  # broken.jpg failed
    assert "broken.jpg" in captured.err and "notes.txt" not in captured.err  # .txt not listed from a folder
    records = json.loads(captured.out)
    assert [Path(r["path"]).relative_to(photo_dir).as_posix() for r in records] == ["astronaut.png",
                                                                                    "sub/astronaut.png"]
    first, mirrored = records
    assert (first["width"], first["height"]) == (256, 256)
    assert len(first["faces"]) == 1 and first["faces"][0]["score"] > 0.99
    assert set(first["faces"][0]["landmarks"]) == {"left_eye", "right_eye", "nose", "mouth_left", "mouth_right"}
    # the mirrored photo has the mirrored face: x1' = 256 - x2
    assert len(mirrored["faces"]) == 1
    assert abs(mirrored["faces"][0]["box"][0] - (256 - first["faces"][0]["box"][2])) < 6
    assert sorted(p.name for p in out.iterdir()) == ["astronaut-1.png", "astronaut.png"]
    png = Image.open(out / "astronaut.png")
    assert png.size == (256, 256) and png.mode == "RGB"
    assert not np.array_equal(np.asarray(png), np.asarray(Image.open(photo_dir / "astronaut.png")))


@pytest.mark.pipeline
def test_detect_explicit_files_and_json_file(photo_dir, tmp_path, capsys):
    target = tmp_path / "result.json"
    status = cli.main(["detect", str(photo_dir / "astronaut.png"), str(photo_dir / "notes.txt"),
                       str(tmp_path / "missing.png"), "--json", str(target), "--no-progress"])
    captured = capsys.readouterr()
    assert status == 1 and captured.out == ""
    assert "notes.txt" in captured.err and "missing.png" in captured.err
    records = json.loads(target.read_text())
    assert len(records) == 1 and len(records[0]["faces"]) == 1


@pytest.mark.pipeline
def test_detect_success_exit_0_and_empty_folder(photo_dir, tmp_path, capsys):
    assert cli.main(["detect", str(photo_dir / "sub"), "--no-progress"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    (tmp_path / "empty").mkdir()
    assert cli.main(["detect", str(tmp_path / "empty")]) == 1
    assert "no image files" in capsys.readouterr().err


def test_workers_give_same_json(photo_dir, tmp_path, capsys):
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    assert cli.main(["detect", str(photo_dir), "--json", str(one), "--no-progress"]) == 1
    assert cli.main(["detect", str(photo_dir), "--json", str(two), "--no-progress", "--workers", "2"]) == 1
    assert one.read_text() == two.read_text()
    assert "broken.jpg" in capsys.readouterr().err


def test_workers_run_one_thread_each_unless_told():
    args = cli.build_parser().parse_args(["detect", "x.png", "--workers", "2"])
    assert cli._detector_options(args)["num_threads"] is None  # the single-process path: all cores
    assert cli._worker_options(cli._detector_options(args))["num_threads"] == 1
    args = cli.build_parser().parse_args(["detect", "x.png", "--workers", "2", "--threads", "2"])
    assert cli._worker_options(cli._detector_options(args))["num_threads"] == 2


@pytest.mark.pipeline
def test_weights_folder_gives_the_same_answers(photo_dir, tmp_path, capsys):
    from tinymtcnn.weights import load_net, save_net

    folder = tmp_path / "weights"
    folder.mkdir()
    for kind in ("pnet", "rnet", "onet"):
        save_net(load_net(kind), folder / f"{kind}.npz")
    photo = str(photo_dir / "astronaut.png")
    assert cli.main(["detect", photo, "--no-progress", "--threads", "1"]) == 0
    default = json.loads(capsys.readouterr().out)
    assert cli.main(["detect", photo, "--no-progress", "--weights", str(folder)]) == 0
    assert json.loads(capsys.readouterr().out) == default and len(default[0]["faces"]) == 1
    assert cli.main(["detect", photo, "--weights", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err


@pytest.mark.pipeline
def test_demo(tmp_path, capsys):
    out = tmp_path / "demo.png"
    assert cli.main(["demo", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "1 face(s)" in text and "left_eye" in text
    assert Image.open(out).size == (512, 512)


def test_every_subcommand_is_registered(capsys):
    for command in ("detect", "demo", "align", "train", "evaluate"):
        assert cli.main([command, "--help"]) == 0
        assert f"usage: tinymtcnn {command}" in capsys.readouterr().out


def test_importing_the_cli_loads_neither_numpy_nor_numba():
    """So that the command starts at once, and a Ctrl-C while the heavy modules load is main()'s to catch."""
    code = "import sys, tinymtcnn.cli; print(sorted(m for m in ('numpy', 'numba') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr


def test_ctrl_c_while_the_modules_load_is_exit_130_without_traceback(monkeypatch, capsys):
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["demo"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "tinymtcnn: interrupted" and "Traceback" not in err


def test_python_dash_m(tmp_path):
    result = subprocess.run([sys.executable, "-m", "tinymtcnn", "--version"], capture_output=True, text=True,
                            cwd=REPO, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == f"tinymtcnn {__version__}"


@pytest.mark.pipeline
def test_closed_stdout_ends_quietly(tmp_path):
    """``tinymtcnn demo | head -1``: writing to a pipe nobody reads gives exit status 1, no traceback."""
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE
    try:
        proc = subprocess.run([sys.executable, "-m", "tinymtcnn", "demo", "--out", str(tmp_path / "d.png")],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr


def test_cost_budgets_from_the_command_line(capsys):
    parse = cli.build_parser().parse_args
    options = cli._detector_options(parse(["detect", "x.png", "--max-memory", "3e9", "--max-pyramid-pixels", "inf"]))
    assert options["max_memory"] == 3e9 and options["max_pyramid_pixels"] == float("inf")
    options = cli._detector_options(parse(["detect", "x.png"]))
    assert "max_memory" not in options and "max_pyramid_pixels" not in options  # MTCNN's defaults
    for bad in ("0", "-1", "lots"):
        assert cli.main(["detect", "x.png", "--max-memory", bad]) == 2
    assert "--max-memory" in capsys.readouterr().err


def test_a_photo_over_budget_names_the_command_line_option(tmp_path, capsys):
    from tinymtcnn.detect.pyramid import check_pyramid_cost

    with pytest.raises(ValueError, match="--max-memory .* --max-pyramid-pixels"):
        check_pyramid_cost(2048, 2048, 2, 0.709, threads=2)
