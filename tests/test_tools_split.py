"""tools/split_mtfl.py: the held-out landmark faces never reach the training list."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from split_mtfl import main, split_lines  # noqa: E402


def _lines(n_plain, n_shifted):
    plain = [f"lfw_5590/f{i}.jpg 1 2 3 4 5 6 7 8 9 10" for i in range(n_plain)]
    shifted = [f"net_7876/_{a}_s{i}.jpg 1 2 3 4 5 6 7 8 9 10" for i, a in enumerate([-30, 0, 45][:n_shifted])]
    return plain[:5] + shifted + plain[5:] + [""]


def test_every_tenth_usable_face_is_held_out_and_shifted_labels_left_out():
    fit, holdout, shifted = split_lines(_lines(25, 3), every=10)
    assert [ln.split()[0] for ln in holdout] == ["lfw_5590/f9.jpg", "lfw_5590/f19.jpg"]
    assert len(fit) == 23 and len(shifted) == 3
    assert not set(fit) & set(holdout) and not any("_-30_" in ln or "_45_" in ln for ln in fit)
    fit_all, holdout_all, _ = split_lines(_lines(25, 3), every=10, keep_shifted=True)
    assert len(fit_all) == 26 and holdout_all == holdout


def test_command_writes_both_lists(tmp_path, capsys):
    src = tmp_path / "training.txt"
    src.write_text("\n".join(_lines(12, 1)))
    assert main([str(src), "--out", str(tmp_path / "out"), "--every", "4"]) == 0
    fit = (tmp_path / "out" / "mtfl_fit.txt").read_text().splitlines()
    held = (tmp_path / "out" / "mtfl_holdout.txt").read_text().splitlines()
    assert len(fit) == 9 and len(held) == 3 and "1 shifted-label faces left out" in capsys.readouterr().out
    with pytest.raises(ValueError, match="--every"):
        split_lines([], every=1)
