"""tools/train_reference.py: where it may write, the crowd hold-out, the summary table (no training here)."""
import json
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


def _fake_data(root):
    """A tiny ``../shared/data`` layout (lists only; no photo is read): 3 Caltech, 8 crowd photos, 4 MTFL faces."""
    (root / "caltech_train").mkdir(parents=True)
    (root / "caltech_train" / "train_bbx_gt.txt").write_text(
        "".join(f"p{k}.jpg\n1\n10 10 40 40 0 0 0 0 0 0\n" for k in range(3)))
    (root / "crowds_cc0").mkdir()
    records = [{"image": f"images/c{k}.jpg", "width": 100, "height": 100, "boxes": [[5, 5, 25, 25]],
                "mask": [k % 2 == 0]} for k in range(8)]
    (root / "crowds_cc0" / "annotations.json").write_text(json.dumps(records))
    (root / "mtfl_train").mkdir()
    (root / "mtfl_train" / "training.txt").write_text(
        "".join(f"lfw/f{k}.jpg 30 50 40 35 50 35 35 45 55 55\n" for k in range(4)))
    return root


def test_default_arm_is_the_reference_run_and_options_override_an_arm():
    _, args = train_reference.parse_args(["/tmp/x"])
    assert args.settings == {"arm": "reference", **train_reference.ARMS["reference"], "seed": 0}
    _, args = train_reference.parse_args(["/tmp/x", "--arm", "baseline", "--seed", "3"])
    assert args.settings == {"arm": "baseline", "plan": "laptop", "mosaics": 0, "blur": 0.0, "crowds": False,
                             "epochs_scale": 1.0, "seed": 3}
    _, args = train_reference.parse_args(["/tmp/x", "--arm", "blur", "--no-crowds", "--mosaics", "10",
                                          "--blur", "0.25", "--epochs-scale", "2"])
    assert (args.settings["mosaics"], args.settings["blur"], args.settings["crowds"],
            args.settings["epochs_scale"]) == (10, 0.25, False, 2.0)
    _, args = train_reference.parse_args(["/tmp/x", "--arm", "mosaics", "--crowds"])
    assert args.settings["crowds"] is True and args.settings["blur"] == 0.0


def test_each_arm_adds_one_change_to_the_one_before():
    arms = list(train_reference.ARMS.values())
    assert list(train_reference.ARMS) == ["baseline", "mosaics", "blur", "reference", "longer"]
    changed = [{k for k in a if a[k] != b[k]} for a, b in zip(arms, arms[1:])]
    assert changed == [{"plan", "mosaics"}, {"blur"}, {"crowds"}, {"epochs_scale"}]


@pytest.mark.parametrize("option, value, message", [
    ("--blur", "1.5", "--blur must be a probability"), ("--mosaics", "-1", "--mosaics must be >= 0"),
    ("--epochs-scale", "0", "--epochs-scale must be"), ("--epochs-scale", "nan", "--epochs-scale must be"),
    ("--arm", "bigger", "invalid choice"), ("--threads", "0", "--threads and --workers")])
def test_bad_arm_options_are_refused_with_the_option_named(capsys, option, value, message):
    with pytest.raises(SystemExit) as stop:
        train_reference.parse_args(["/tmp/x", option, value])
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_stage_plans_scale_the_epochs_and_keep_the_plan_face_sizes():
    from tinymtcnn.train.cascade import PLANS

    base = {**train_reference.ARMS["reference"], "seed": 0}
    laptop, ref = PLANS["laptop"](), train_reference.stage_plans(base, 2)
    longer = train_reference.stage_plans({**base, "epochs_scale": 1.5}, 1)
    for kind in ("pnet", "rnet", "onet"):
        assert ref[kind].train.epochs == laptop[kind].train.epochs and ref[kind].train.num_threads == 2
        assert longer[kind].train.epochs == round(1.5 * laptop[kind].train.epochs) > laptop[kind].train.epochs
        assert ref[kind].sampling.min_face == 12.0 and ref[kind].min_side == 12
    small = train_reference.stage_plans({**train_reference.ARMS["baseline"], "seed": 0}, 1)
    assert small["pnet"].sampling.min_face == laptop["pnet"].sampling.min_face == 20.0
    assert small["rnet"].min_side == 20


def test_arms_change_the_photo_list_and_its_fingerprint(tmp_path):
    data = _fake_data(tmp_path / "data")
    lists = {}
    for arm, settings in train_reference.ARMS.items():
        photos, landmarks = train_reference.training_photos(data, tmp_path, 0, settings["mosaics"],
                                                            blur=settings["blur"], crowds=settings["crowds"])
        lists[arm] = photos
        assert len(landmarks) == 4  # the MTFL hold-out is every 10th face: none of these 4
    assert [len(p) for p in lists.values()] == [3, 3 + 1200, 3 + 1200, 3 + 1200 + 6, 3 + 1200 + 6]
    assert "blur=0.0" in lists["mosaics"].fingerprint and "blur=0.5" in lists["blur"].fingerprint
    prints = [p.fingerprint for p in lists.values()]
    assert len(set(prints[:4])) == 4 and prints[3] == prints[4]  # "longer" differs by its plan only
    assert lists["mosaics"].parts[1].blur == 0.0 and lists["blur"].parts[1].blur == 0.5
    # the baseline is Caltech as it is: the fingerprint (sample cache) of ``tinymtcnn train --plan laptop``
    assert lists["baseline"].fingerprint.startswith("wider:") and "mosaic" not in lists["baseline"].fingerprint


def test_sample_cache_manifests_differ_between_arms(tmp_path):
    """What the sample cache compares (source fingerprint and sampling config) differs between any two
    training arms that train on different samples, so a shard of one arm is never reused by another."""
    from dataclasses import asdict

    data = _fake_data(tmp_path / "data")
    keys = {}
    for arm, settings in train_reference.ARMS.items():
        photos, _ = train_reference.training_photos(data, tmp_path, 0, settings["mosaics"],
                                                    blur=settings["blur"], crowds=settings["crowds"])
        plan = train_reference.stage_plans({**settings, "seed": 0}, 1)["pnet"]
        keys[arm] = json.dumps([photos.fingerprint, asdict(plan.sampling)], sort_keys=True)
    assert len(set(keys.values())) == 4 and keys["reference"] == keys["longer"]  # same P-Net samples


def test_out_folder_records_its_arm_and_refuses_another(tmp_path):
    a = {"arm": "blur", **train_reference.ARMS["blur"], "seed": 0}
    train_reference.claim_out(tmp_path, a)
    assert json.loads((tmp_path / "arm.json").read_text()) == a
    train_reference.claim_out(tmp_path, dict(a))  # the same settings: resumes
    with pytest.raises(ValueError, match="crowds: False there, True now"):
        train_reference.claim_out(tmp_path, {**a, "crowds": True})
    with pytest.raises(ValueError, match="seed: 0 there, 1 now"):
        train_reference.claim_out(tmp_path, {**a, "seed": 1})


def test_a_run_of_the_older_tool_resumes_only_as_the_reference_arm(tmp_path):
    (tmp_path / "pnet.npz").write_bytes(b"")
    (tmp_path / "timing.json").write_text(json.dumps({"mosaics": 1200, "seed": 0}))
    with pytest.raises(ValueError, match="without arm.json"):
        train_reference.claim_out(tmp_path, {"arm": "blur", **train_reference.ARMS["blur"], "seed": 0})
    assert not (tmp_path / "arm.json").exists()
    ref = {"arm": "reference", **train_reference.ARMS["reference"], "seed": 0}
    train_reference.claim_out(tmp_path, ref)
    assert json.loads((tmp_path / "arm.json").read_text()) == ref
