"""tools/reference_summary.py: train_reference.py runs' evaluations, compact, for notebook 08."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import reference_summary  # noqa: E402

BINS = ["0-20 px", "20-40 px", "40-80 px", "80-160 px", ">= 160 px"]


def _detection(recall, by_size):
    return {"faces": sum(n for n, _ in by_size), "recall_at_0.5": recall,
            "by_size": [{"bin": b, "faces": n, "recall": r} for b, (n, r) in zip(BINS, by_size)]}


def _run(folder, arm, ref_recall, authors_recall, minutes):
    folder.mkdir()
    crowd = {"detection": _detection(ref_recall, [(10, 0.2), (30, 0.6), (0, 0.0), (5, 1.0), (0, 0.0)]),
             "settings": {"masked": {"recall_at_0.5": 0.7}, "unmasked": {"recall_at_0.5": 0.3}}}
    evaluation = [
        {"set": {"name": "crowds"}, "detectors": {
            "authors/auto": {"detection": _detection(authors_recall, [(10, 0.5)] + [(0, 0.0)] * 4)},
            "reference/auto": crowd}},
        {"set": {"name": "MTFL hold-out"}, "detectors": {
            "authors/auto": {"landmarks": {"inter-ocular": {"mean": 0.055}}},
            "reference/auto": {"landmarks": {"inter-ocular": {"mean": 0.072}}}}},
    ]
    (folder / "evaluation.json").write_text(json.dumps(evaluation))
    (folder / "arm.json").write_text(json.dumps({"arm": arm, "seed": 0}))
    (folder / "timing.json").write_text(json.dumps({"wall_seconds": minutes * 60}))


def test_runs_are_summarised_with_their_arms(tmp_path):
    _run(tmp_path / "a", "blur", 0.5, 0.9, 41.5)
    _run(tmp_path / "b", "longer", 0.6, 0.1, 48.6)  # the authors again: the first run's numbers stay
    out = tmp_path / "summary.json"
    assert reference_summary.main([str(tmp_path / "a"), f"reference={tmp_path / 'b'}", "--out", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["sets"] == ["crowds", "MTFL hold-out"] and summary["size_bins"] == BINS
    assert list(summary["runs"]) == ["authors", "blur", "reference"]
    blur = summary["runs"]["blur"]
    assert blur["minutes"] == 41.5 and blur["settings"] == {"arm": "blur", "seed": 0} and blur["nme"] == 0.072
    crowds = blur["sets"]["crowds"]
    assert crowds["recall"] == 0.5 and crowds["masked"] == 0.7 and crowds["unmasked"] == 0.3
    assert crowds["under_40"] == pytest.approx((10 * 0.2 + 30 * 0.6) / 40)  # the two small bins pooled
    assert crowds["by_size"] == [0.2, 0.6, None, 1.0, None]  # an empty bin has no recall
    authors = summary["runs"]["authors"]
    assert authors["sets"]["crowds"]["recall"] == 0.9 and authors["minutes"] is None and authors["nme"] == 0.055
    assert summary["runs"]["reference"]["minutes"] == 48.6


def test_a_folder_without_evaluation_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        reference_summary.main([str(tmp_path), "--out", str(tmp_path / "s.json")])
    assert stop.value.code == 2 and "no evaluation.json" in capsys.readouterr().err
    assert not (tmp_path / "s.json").exists()
