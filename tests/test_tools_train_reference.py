"""tools/train_reference.py: where it may write, the crowd hold-out, the summary table (no training here)."""
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import train_reference  # noqa: E402

from tinymtcnn.train.readers import Annotation, PhotoList  # noqa: E402


def test_out_inside_the_repository_is_refused(capsys):
    with pytest.raises(SystemExit) as stop:
        train_reference.main([str(REPO / "runs" / "ref")])
    assert stop.value.code == 2 and "inside the repository" in capsys.readouterr().err
    assert not (REPO / "runs" / "ref").exists()


def test_crowd_hold_out_is_every_fourth_photo_and_disjoint():
    photos = PhotoList([Annotation(Path(f"p{k}.jpg"), np.zeros((0, 4))) for k in range(10)], "crowds")
    train, held = train_reference.crowd_parts(photos)
    assert [a.path.name for a in held.annotations] == ["p3.jpg", "p7.jpg"]
    assert len(train) == 8 and not {a.path for a in train.annotations} & {a.path for a in held.annotations}
    assert train.fingerprint != held.fingerprint


def _detection(recall, bins, masked=None):
    d = {"detection": {"recall_at_0.5": recall,
                       "by_size": [{"bin": b, "faces": n, "recall": r} for b, n, r in bins]}}
    if masked is not None:
        d["settings"] = {"masked": {"recall_at_0.5": masked}, "unmasked": {"recall_at_0.5": 1.0}}
    return d


def test_summary_table_reports_small_faces_masks_and_the_ratio():
    bins_a = [("0-20 px", 2, 0.5), ("20-40 px", 2, 1.0), ("40-80 px", 4, 1.0)]
    bins_b = [("0-20 px", 2, 0.0), ("20-40 px", 2, 0.5), ("40-80 px", 4, 1.0)]
    results = [{"set": {"name": "crowds"}, "detectors": {"authors": _detection(0.875, bins_a, 0.8),
                                                          "mine": _detection(0.625, bins_b, 0.4)}},
               {"set": {"name": "MTFL"}, "detectors": {"authors": {"landmarks": {"inter-ocular": {"mean": 0.05}}},
                                                        "mine": {"landmarks": {"inter-ocular": {"mean": 0.06}}}}}]
    results[0]["detectors"]["laptop"] = _detection(0.4375, bins_b, 0.2)
    results[1]["detectors"]["laptop"] = {"landmarks": {"inter-ocular": {"mean": 0.07}}}
    text = train_reference.summary_table(results, ["authors", "mine", "laptop"])
    assert "| set | authors | mine | laptop | mine / authors | laptop / authors |" in text
    assert "| crowds: recall | 87.5 | 62.5 | 43.8 | 71 % | 50 % |" in text
    text = train_reference.summary_table(results, ["authors", "mine"])
    assert "| crowds: recall | 87.5 | 62.5 | 71 % |" in text
    assert "| crowds: recall < 40 px | 75.0 | 25.0 | 33 % |" in text  # (1 + 2) / 4 against (0 + 1) / 4
    assert "| crowds: recall masked | 80.0 | 40.0 | 50 % |" in text
    assert "| MTFL: landmark NME (inter-ocular) | 5.0 | 6.0 | 120 % |" in text


@pytest.mark.shared
def test_crowd_hold_out_of_the_shared_set():
    path = SHARED / "data" / "crowds_cc0" / "annotations.json"
    if not path.is_file():
        pytest.skip(f"needs {path} (absent on a fresh clone)")
    from tinymtcnn.train.readers import read_json

    train, held = train_reference.crowd_parts(read_json(path))
    assert (len(train), len(held)) == (595, 198)
    assert sum(len(a.boxes) for a in train.annotations) + sum(len(a.boxes) for a in held.annotations) == 3983
