"""tools/eval_real.py: recall by face size and on the crowd hold-out, and its table (a stand-in detector)."""
import json
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import SHARED
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import eval_real  # noqa: E402

from tinymtcnn.eval import load_set  # noqa: E402

BOXES = [[10, 10, 20, 20], [30, 30, 60, 60], [100, 100, 160, 160]]  # 10, 30 and 60 px
MASK = [True, False, True]


class _Finds:
    """A stand-in detector that returns the given boxes (score 0.9) on every photo."""

    def __init__(self, boxes):
        self.boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)

    def detect(self, image):
        n = len(self.boxes)
        return SimpleNamespace(boxes=self.boxes, scores=np.full(n, 0.9), landmarks=np.zeros((n, 5, 2)))


@pytest.fixture
def crowd(tmp_path):
    Image.fromarray(np.zeros((200, 200, 3), np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "set.json").write_text(json.dumps([{"image": "a.png", "boxes": BOXES, "mask": MASK}]))
    return load_set(tmp_path / "set.json")


def test_box_recall_by_face_size_and_mask(crowd):
    r = eval_real.box_recall(_Finds(BOXES[1:]), crowd)  # the 10-px (masked) face is missed
    assert r["recall@0.5"] == pytest.approx(2 / 3) and r["faces"] == 3
    by_size = {b["bin"]: (b["faces"], b["recall"]) for b in r["by_size"]}
    assert by_size["0-20 px"] == (1, 0.0) and by_size["20-40 px"] == (1, 1.0) and by_size["40-80 px"] == (1, 1.0)
    assert by_size["80-160 px"][0] == 0 and math.isnan(by_size["80-160 px"][1])
    assert (r["faces_under_40"], r["recall_under_40"]) == (2, 0.5)
    assert r["settings"] == {"masked": {"faces": 2, "recall@0.5": 0.5}, "unmasked": {"faces": 1, "recall@0.5": 1.0}}
    assert eval_real.box_recall(_Finds(BOXES), crowd)["settings"]["masked"]["recall@0.5"] == 1.0


def _landmarks(nme):
    return {"faces": 10, "found": 1.0, "nme_mean": nme, "nme_median": nme, "failure_rate_10pct": 0.0}


def test_table_has_size_rows_and_the_crowd_settings(crowd):
    results = {}
    for name, found in (("pretrained", BOXES), ("trained", BOXES[2:])):
        r = eval_real.box_recall(_Finds(found), crowd)
        results[name] = {"caltech_val": r, "faces_dev": r, "crowds_holdout": r, "mtfl_holdout": _landmarks(0.05)}
    text = eval_real.markdown(results)
    assert "| crowds_cc0 hold-out recall (IoU >= 0.5) | 1.000 | 0.333 | 0.333 |" in text
    assert "| crowds_cc0 hold-out: faces 20-40 px (1) | 1.000 | 0.000 | 0.000 |" in text
    assert "| crowds_cc0 hold-out: faces under 40 px (2) | 1.000 | 0.000 | 0.000 |" in text
    assert "| crowds_cc0 hold-out: masked faces (2) | 1.000 | 0.500 | 0.500 |" in text
    assert "| crowds_cc0 hold-out: unmasked faces (1) | 1.000 | 0.000 | 0.000 |" in text
    assert "80-160 px" not in text  # no face of that size: no row
    assert "| MTFL held-out: landmark NME mean | 5.00% | 5.00% | 1.000 |" in text
    for name in results:  # a run evaluated before the crowd set: its rows are left out
        del results[name]["crowds_holdout"]
    text = eval_real.markdown(results)
    assert "crowds_cc0" not in text and "| Caltech val recall (IoU >= 0.5) | 1.000 | 0.333 | 0.333 |" in text


def test_missing_weights_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        eval_real.main([str(tmp_path)])
    assert stop.value.code == 2 and "missing" in capsys.readouterr().err


@pytest.mark.shared
def test_crowd_hold_out_set_of_the_shared_data():
    data = SHARED / "data"
    if not (data / "crowds_cc0" / "annotations.json").is_file():
        pytest.skip(f"needs {data / 'crowds_cc0'} (absent on a fresh clone)")
    from train_reference import crowd_holdout_set

    crowds = crowd_holdout_set(data)
    assert len(crowds.annotations) == 198 and sum(len(a.boxes) for a in crowds.annotations) == 963
    assert set(crowds.splits) == {"masked", "unmasked"}
