"""Ablation runner (tinymtcnn.train.experiment): arms, identical samples, seeds, resume, summary, CLI."""
import json
from dataclasses import replace

import numpy as np
import pytest

from test_train_trainer import _samples
from tinymtcnn.cli import main
from tinymtcnn.train import experiment
from tinymtcnn.train.ablation_summary import summarize, verdict, write_summary
from tinymtcnn.train.cascade import StagePlan
from tinymtcnn.train.experiment import (ARMS, PRESETS, ExperimentPreset, RunLog, run_experiments,
                                        samples_fingerprint, train_run)
from tinymtcnn.train.metrics import evaluate_samples
from tinymtcnn.train.synthetic import SyntheticFaces
from tinymtcnn.train.trainer import TrainConfig, make_net

QUIET = dict(progress=False, log=lambda line: None)
PLAN = StagePlan(TrainConfig(epochs=1, batch_size=32, lr=0.05, weight_decay=0.0, num_threads=1))


@pytest.mark.pipeline
@pytest.mark.parametrize("kind, arm, frozen, moving", [
    ("pnet", "cls", ("conv4-2", "conv4-3"), ("conv4-1",)),
    ("pnet", "landmarks-only", ("conv4-1", "conv4-2"), ("conv4-3",)),
    ("rnet", "cls+box", ("conv5-3",), ("conv5-1", "conv5-2")),
])
def test_an_arm_trains_only_the_heads_of_its_tasks(tmp_path, kind, arm, frozen, moving):
    size = {"pnet": 12, "rnet": 24}[kind]
    data = _samples(96, size)
    record = train_run(kind, arm, 0, data, data, PLAN, tmp_path, **QUIET)
    assert record["task_weights"] == list(ARMS[arm].task_weights)
    from tinymtcnn.weights import load_net

    trained = load_net(kind, tmp_path / "runs" / kind / arm / "seed0" / f"{kind}.npz", landmark_head=True).params
    init = make_net(kind, 0).params
    for head in frozen:  # no gradient reaches a head whose task weight is 0 (and no weight decay here)
        np.testing.assert_array_equal(trained[f"{head}.w"], init[f"{head}.w"])
    for head in moving:
        assert not np.array_equal(trained[f"{head}.w"], init[f"{head}.w"])


@pytest.mark.pipeline
def test_same_seed_same_result_other_seed_other_result(tmp_path):
    data = _samples(96, 12)
    a = train_run("pnet", "joint", 1, data, data, PLAN, tmp_path / "a", **QUIET)
    b = train_run("pnet", "joint", 1, data, data, PLAN, tmp_path / "b", **QUIET)
    c = train_run("pnet", "joint", 2, data, data, PLAN, tmp_path / "c", **QUIET)
    assert a["history"] == b["history"]
    assert a["history"][0]["val"]["cls"] != c["history"][0]["val"]["cls"]


@pytest.mark.pipeline
def test_landmark_nme_divides_by_the_inter_ocular_distance():
    data = _samples(40, 12)
    is_lm = data["labels"] == -2

    class Shifted:  # predicts every landmark target shifted right by 0.05 of the crop
        training = False

        def eval(self):
            return self

        def train(self, mode=True):
            return self

        def forward(self, images):
            n = len(images)
            return {"face_logits": np.zeros((n, 2), np.float32), "face_prob": np.full(n, 0.5, np.float32),
                    "box_reg": np.zeros((n, 4), np.float32), "landmarks": self.targets[:n] + self.shift}

    net = Shifted()
    net.targets = data["landmarks"]
    net.shift = np.r_[np.full(5, 0.05), np.zeros(5)].astype(np.float32)
    m = evaluate_samples(net, data, batch_size=len(data))
    iod = np.hypot(0.7 - 0.3, 0.0)  # the eyes of _samples' targets: (0.3, 0.4) and (0.7, 0.4)
    assert is_lm.any()
    assert m["landmark_error"] == pytest.approx(0.05, rel=1e-5)
    assert m["landmark_nme"] == pytest.approx(0.05 / iod, rel=1e-5)


class FakeFit:
    """Stands in for Trainer.fit: records what each run was given, returns a canned history."""

    def __init__(self):
        self.calls = []

    def __call__(self, trainer, train, val, *, resume=False):
        self.calls.append((trainer.config.seed, trainer.task_weights, trainer.config.ohem,
                           samples_fingerprint(train, val)))
        trainer.history = [{"epoch": 1, "train": {"loss": 1.0}, "val": {"cls": 0.1 + 0.01 * trainer.config.seed,
                                                                           "accuracy": 0.9, "box": 0.05,
                                                                           "landmark_nme": 0.2}}]
        return trainer.history


def _tiny_preset():
    return replace(PRESETS["fast"](), seeds=(0, 1, 2))


@pytest.mark.pipeline
def test_every_arm_and_seed_gets_the_same_samples_and_resume_skips_finished_runs(tmp_path, monkeypatch):
    fake = FakeFit()
    monkeypatch.setattr(experiment.Trainer, "fit", lambda self, train, val, resume=False: fake(self, train, val))
    photos = SyntheticFaces(12, seed=0, min_face=14.0)
    summary = run_experiments(["joint", "ohem"], photos, tmp_path, preset=_tiny_preset(), stages=("pnet",),
                              min_face_size=14.0, **QUIET)
    assert len(fake.calls) == 5 * 3  # 5 arms (joint shared by both experiments) x 3 seeds
    assert len({c[3] for c in fake.calls}) == 1  # one sample fingerprint for every run
    assert {(c[1], c[2]) for c in fake.calls} == {((1.0, 0.0, 0.0), 0.7), ((1.0, 0.5, 0.0), 0.7),
                                                  ((1.0, 0.5, 0.5), 0.7), ((0.0, 0.0, 1.0), 0.7),
                                                  ((1.0, 0.5, 0.5), None)}
    assert sorted({c[0] for c in fake.calls}) == [0, 1, 2]
    assert (tmp_path / "summary.md").is_file() and (tmp_path / "curves-joint-pnet.png").is_file()
    assert summary["results"]["ohem"]["pnet"]["no-ohem"]["final"]["cls"]["mean"] == pytest.approx(0.11)

    with pytest.raises(ValueError, match="--resume"):  # the finished runs are never overwritten
        run_experiments(["joint"], photos, tmp_path, preset=_tiny_preset(), stages=("pnet",), **QUIET)
    lines = (tmp_path / "runs.jsonl").read_bytes().splitlines(keepends=True)
    (tmp_path / "runs.jsonl").write_bytes(b"".join(lines[:-1]) + lines[-1][:20])  # last run cut by a crash
    fake.calls.clear()
    run_experiments(["joint", "ohem"], photos, tmp_path, preset=_tiny_preset(), stages=("pnet",),
                    min_face_size=14.0, resume=True, **QUIET)
    assert len(fake.calls) == 1  # only the run whose line was cut short
    fake.calls.clear()
    more = run_experiments(["joint", "ohem"], photos, tmp_path, preset=_tiny_preset(), stages=("pnet",),
                           seeds=(0, 1, 2, 3), min_face_size=14.0, resume=True, **QUIET)
    assert sorted(c[0] for c in fake.calls) == [3] * 5  # a fourth seed: one new run per arm, nothing redone
    assert more["results"]["joint"]["pnet"]["cls"]["seeds"] == [0, 1, 2, 3]
    fewer = run_experiments(["ohem"], photos, tmp_path, preset=_tiny_preset(), stages=("pnet",), seeds=(0, 1),
                            min_face_size=14.0, resume=True, **QUIET)
    assert fewer["results"]["ohem"]["pnet"]["no-ohem"]["seeds"] == [0, 1] and len(fake.calls) == 5
    with pytest.raises(ValueError, match="other settings"):
        run_experiments(["joint", "ohem"], photos, tmp_path, preset=_tiny_preset(), stages=("pnet",), epochs=7,
                        min_face_size=14.0, resume=True, **QUIET)


def _record(arm, seed, cls, weights=(1.0, 0.5, 0.5), ohem=0.7):
    return {"stage": "rnet", "arm": arm, "seed": seed, "task_weights": list(weights), "ohem": ohem,
            "history": [{"epoch": 1, "val": {"cls": 2 * cls, "accuracy": 0.9, "box": 0.05, "landmark_nme": 0.1}},
                        {"epoch": 2, "val": {"cls": cls, "accuracy": 0.9, "box": 0.05, "landmark_nme": 0.1}}]}


@pytest.mark.parametrize("joint, cls_only, words, better", [
    ((0.10, 0.11, 0.12), (0.20, 0.21, 0.22), "larger than the seed spread", "better by 0.1000"),
    ((0.10, 0.14, 0.12), (0.11, 0.13, 0.15), "not distinguishable from seed noise", "better by 0.0100"),
    ((0.30, 0.31, 0.32), (0.20, 0.21, 0.22), "larger than the seed spread", "worse by 0.1000"),
])
def test_verdict_compares_the_difference_with_the_seed_spread(joint, cls_only, words, better):
    records = [_record("joint", s, v) for s, v in enumerate(joint)]
    records += [_record("cls", s, v, weights=(1.0, 0.0, 0.0)) for s, v in enumerate(cls_only)]
    table = summarize(records, ["joint"], ["rnet"])
    c = table["joint"]["rnet"]["cls"]["compared"]["cls"]
    assert c["difference"] == pytest.approx(np.mean(cls_only) - np.mean(joint))
    assert c["spread"] == pytest.approx(max(np.ptp(joint), np.ptp(cls_only)))
    assert "box" not in table["joint"]["rnet"]["cls"]["final"]  # an untrained head is not compared
    line = next(v for v in verdict(table) if "classification loss" in v)
    assert words in line and better in line and line.startswith("R-Net")
    wins = sum(j < o for j, o in zip(joint, cls_only))  # a lower loss is better; seeds paired by index
    assert c["reference_better_seeds"] == wins and c["paired_seeds"] == 3
    assert f"better in {wins} of 3 runs paired by seed" in line


def test_write_summary_writes_json_markdown_and_curves(tmp_path):
    records = [_record("joint", s, 0.1 + s / 100) for s in range(3)]
    records += [_record("no-ohem", s, 0.2 + s / 100, ohem=None) for s in range(3)]
    result = write_summary(tmp_path, records, ["ohem"], stages=["rnet"], seeds=[0, 1, 2], settings={},
                           timing={"seconds": 1.0})
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["verdict"] == result["verdict"] and len(saved["verdict"]) == 4
    assert saved["headline"] == ["ohem (R-Net): of 4 comparisons with the other arms, OHEM (70 % hardest) was "
                                 "better by more than the seed spread in 1, worse by more than the seed spread "
                                 "in 0, and not distinguishable from seed noise in 3."]
    assert "all samples (no OHEM)" in (tmp_path / "summary.md").read_text()
    assert (tmp_path / "curves-ohem-rnet.png").read_bytes()[:4] == b"\x89PNG"


def test_run_log_refuses_another_file(tmp_path):
    (tmp_path / "runs.jsonl").write_text('{"hello": 1}\n')
    with pytest.raises(ValueError, match="not a tinymtcnn experiment file"):
        RunLog(tmp_path, {}, resume=True)


@pytest.mark.parametrize("argv, message", [
    (["--synthetic", "5", "--data", "x.txt"], "either --synthetic or --data"),
    (["--synthetic", "5", "--fast", "--preset", "real"], "--fast contradicts"),
    (["--data", "{d}/boxes.txt", "--out", "{d}/images/ablation"], "inside the input folder"),
    (["--data", "{d}/boxes.txt", "--images", "{d}/images", "--out", "{d}/images/x"], "inside the input folder"),
    (["--synthetic", "0"], "must be at least 1"),
    (["--synthetic", "5", "--min-face-size", "0"], "must be a finite number >= 1"),
    (["--synthetic", "5", "--max-photos", "3"], "apply to --data"),
    (["--data", "{d}/missing.txt"], "not found"),
])
def test_cli_refuses_bad_options_with_exit_2(tmp_path, capsys, argv, message):
    data = tmp_path / "in"
    (data / "images").mkdir(parents=True)
    (data / "boxes.txt").write_text("")
    argv = [a.replace("{d}", str(data)) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    assert main(["experiment", "joint", *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (data / "images" / "ablation").exists() and not (data / "images" / "x").exists()


def test_cli_ctrl_c_keeps_the_runs_and_says_resume(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(experiment, "run_experiments", interrupted)
    assert main(["experiment", "all", "--synthetic", "3", "--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--resume continues" in err[0]


def test_the_presets_cover_every_stage_and_three_seeds():
    for name, make in PRESETS.items():
        preset = make()
        assert isinstance(preset, ExperimentPreset) and set(preset.plans) == {"pnet", "rnet", "onet"}
        assert len(preset.seeds) >= 3, name
