"""Trainer: loss goes down, checkpoints resume exactly, outputs load with load_net and MTCNN."""
from dataclasses import replace

import numpy as np
import pytest

from tinymtcnn import MTCNN
from tinymtcnn.train.cli import main as train_main
from tinymtcnn.train.sampleset import SampleSet
from tinymtcnn.train.trainer import TrainConfig, Trainer, evaluate_samples
from tinymtcnn.weights import load_net


def _samples(n, size, seed=0):
    """Learnable toy samples: faces are bright in the centre, box targets follow the brightness."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(np.array([0, 0, 0, 1, -1, -2, -2], np.int8), n)
    images = rng.integers(0, 120, size=(n, 3, size, size)).astype(np.uint8)
    c = size // 4
    images[labels != 0, :, c:-c, c:-c] += 120
    boxes = np.where((labels == 1) | (labels == -1), 0.1, 0.0)[:, None] * np.ones(4, np.float32)
    lms = np.tile(np.array([0.3, 0.7, 0.5, 0.35, 0.65, 0.4, 0.4, 0.6, 0.8, 0.8], np.float32), (n, 1))
    return SampleSet({"images": images, "labels": labels, "boxes": boxes.astype(np.float32),
                      "landmarks": lms * (labels == -2)[:, None], "sides": np.full(n, size, np.float32),
                      "photos": np.arange(n, dtype=np.int32) // 8}, size)


CFG = TrainConfig(epochs=2, batch_size=32, lr=0.05, schedule="constant", seed=3)


@pytest.mark.pipeline
def test_loss_decreases_and_accuracy_rises(tmp_path):
    data = _samples(256, 12)
    t = Trainer("pnet", tmp_path, replace(CFG, epochs=4), progress=False, log=lambda m: None)
    before = evaluate_samples(t.net, data)
    t.fit(data, data)
    after = t.history[-1]["val"]
    assert after["loss"] < 0.6 * before["loss"]
    assert after["accuracy"] > 0.9 and after["recall"] > 0.8


@pytest.mark.pipeline
def test_resume_reproduces_an_uninterrupted_run(tmp_path):
    data = _samples(128, 12)
    full = Trainer("pnet", tmp_path / "full", CFG, progress=False, log=lambda m: None)
    full.fit(data)
    first = Trainer("pnet", tmp_path / "cut", replace(CFG, epochs=1), progress=False, log=lambda m: None)
    first.fit(data)
    rest = Trainer("pnet", tmp_path / "cut", CFG, progress=False, log=lambda m: None)
    rest.fit(data, resume=True)
    assert rest.epoch == 2 and len(rest.history) == 2
    for k, v in full.net.params.items():
        np.testing.assert_array_equal(rest.net.params[k], v, err_msg=k)


@pytest.mark.pipeline
def test_checkpoint_of_another_kind_is_rejected(tmp_path):
    data = _samples(64, 12)
    Trainer("pnet", tmp_path, replace(CFG, epochs=1), progress=False, log=lambda m: None).fit(data)
    (tmp_path / "pnet.ckpt.npz").rename(tmp_path / "rnet.ckpt.npz")
    with pytest.raises(ValueError, match="pnet checkpoint"):
        Trainer("rnet", tmp_path, CFG, progress=False, log=lambda m: None).load_checkpoint()


def test_wrong_sample_size_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="24x24"):
        Trainer("rnet", tmp_path, CFG, progress=False).fit(_samples(16, 12))


@pytest.mark.pipeline
def test_trained_weights_load_with_load_net_and_mtcnn(tmp_path):
    quick = replace(CFG, epochs=1)
    for kind, size, n in (("pnet", 12, 64), ("rnet", 24, 64), ("onet", 48, 32)):
        t = Trainer(kind, tmp_path, quick, progress=False, log=lambda m: None)
        t.fit(_samples(n, size))
        net = load_net(kind, tmp_path / f"{kind}.npz")
        x = _samples(4, size).batch(np.arange(4))["images"]
        t.net.eval()
        np.testing.assert_allclose(net.forward(x)["face_prob"], t.net.forward(x)["face_prob"], rtol=1e-6)
        with_head = load_net(kind, tmp_path / f"{kind}.npz", landmark_head=kind != "onet")
        assert "landmarks" in with_head.forward(x)
    faces = MTCNN(weights=tmp_path, thresholds=(0.9, 0.9, 0.9)).detect(np.zeros((40, 40, 3), np.uint8))
    assert faces.boxes.shape[1] == 4


@pytest.mark.pipeline
def test_cli_trains_pnet_on_a_few_synthetic_photos(tmp_path, capsys):
    status = train_main(["train", "pnet", "--synthetic", "3", "--out", str(tmp_path), "--epochs", "1",
                         "--no-progress", "--workers", "1"])
    assert status == 0
    assert (tmp_path / "pnet.npz").is_file() and (tmp_path / "samples" / "pnet" / "manifest.json").is_file()
    assert "pnet epoch 1/1" in capsys.readouterr().out
    load_net("pnet", tmp_path / "pnet.npz")


def test_cli_reports_missing_data(tmp_path, capsys):
    assert train_main(["train", "pnet", "--out", str(tmp_path)]) == 2
    assert "no training data" in capsys.readouterr().err


@pytest.mark.pipeline
def test_validation_terms_do_not_depend_on_batching():
    from tinymtcnn.train.losses import joint_loss
    from tinymtcnn.train.trainer import make_net

    data = _samples(96, 12, seed=5)
    net = make_net("pnet", 1)
    whole = joint_loss(net.forward(data.batch(np.arange(96))["images"]), data.batch(np.arange(96)), ohem=None)
    for bs in (7, 96):
        m = evaluate_samples(net, data, batch_size=bs)
        for k in ("cls", "box", "landmark"):
            assert m[k] == pytest.approx(whole[1][k], rel=1e-5), (bs, k)
        assert m["loss"] == pytest.approx(whole[0], rel=1e-5)


@pytest.mark.pipeline
def test_training_runs_inside_the_thread_limit(tmp_path, monkeypatch):
    """``TrainConfig.num_threads`` sets the threads of the kernels during ``fit`` (BLAS single-threaded)
    and the previous setting comes back afterwards."""
    from tinymtcnn import threads

    seen = []
    original = Trainer.train_step

    def spy(self, batch, lr):
        seen.append((threads.get_num_threads(), threads.blas_single_threaded() or threads._blas_controller() is False))
        return original(self, batch, lr)

    monkeypatch.setattr(Trainer, "train_step", spy)
    before = threads.get_num_threads()
    t = Trainer("pnet", tmp_path, replace(CFG, epochs=1, num_threads=1), progress=False, log=lambda m: None)
    t.fit(_samples(64, 12))
    assert seen and all(s == (1, True) for s in seen)
    assert threads.get_num_threads() == before


def test_train_cli_rejects_bad_thread_and_plan_options(tmp_path, capsys):
    base = ["train", "pnet", "--synthetic", "2", "--out", str(tmp_path / "r"), "--no-progress"]
    assert train_main(base + ["--threads", "0"]) == 2
    assert "--threads" in capsys.readouterr().err
    assert train_main(base + ["--plan", "laptop", "--classroom"]) == 2
    assert "contradicts" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def _frozen_and_trained(before, after, trained):
    changed = {k for k in before if not np.array_equal(before[k], after[k])}
    return changed, {k for k in before if k.rpartition(".")[0] in trained}


@pytest.mark.pipeline
def test_only_the_trainable_layers_change(tmp_path):
    data = _samples(128, 48)
    net = load_net("onet")
    before = {k: v.copy() for k, v in net.params.items()}
    cfg = replace(CFG, epochs=2, trainable=("conv6-3",), task_weights=(0.0, 0.0, 1.0), ohem=None, lr=0.01)
    t = Trainer("onet", tmp_path, cfg, net=net, progress=False, log=lambda m: None)
    start = evaluate_samples(t.net, data, weights=(0, 0, 1))["landmark"]
    t.fit(data)
    changed, trained = _frozen_and_trained(before, t.net.params, {"conv6-3"})
    assert changed == trained == {"conv6-3.w", "conv6-3.b"}
    assert t.history[-1]["train"]["landmark"] < start  # and it learns


@pytest.mark.pipeline
def test_head_only_backward_gives_the_heads_gradients_of_the_full_pass():
    rng = np.random.default_rng(0)
    net = load_net("onet", dtype=np.float64)
    x = rng.standard_normal((3, 3, 48, 48))
    g = {"landmarks": rng.standard_normal((3, 10))}
    net.forward(x)
    net.zero_grad()
    net.backward(g, input_grad=False)
    full = {k: v.copy() for k, v in net.grads.items()}
    net.forward(x)
    net.zero_grad()
    assert net.backward(g, input_grad=False, trunk=False) is None
    for k, v in net.grads.items():
        expected = full[k] if k.startswith("conv6-3.") else np.zeros_like(v)
        np.testing.assert_array_equal(v, expected, err_msg=k)
    with pytest.raises(ValueError, match="input_grad=False"):
        net.backward(g, trunk=False)


def test_trainable_names_are_checked(tmp_path):
    with pytest.raises(ValueError, match="does not have"):
        Trainer("pnet", tmp_path, replace(CFG, trainable=("conv6-3",)), progress=False, log=lambda m: None)
    for bad in ("conv1", (), (1,)):
        with pytest.raises(ValueError, match="trainable"):
            replace(CFG, trainable=bad)


@pytest.mark.pipeline
def test_resume_with_a_frozen_trunk_reproduces_an_uninterrupted_run(tmp_path):
    data = _samples(64, 24)
    cfg = replace(CFG, trainable=("conv5-1", "conv5-2"), lr=0.02)

    def trainer(folder, epochs):
        return Trainer("rnet", tmp_path / folder, replace(cfg, epochs=epochs), net=load_net("rnet"),
                       progress=False, log=lambda m: None)

    full = trainer("full", 2)
    full.fit(data)
    trainer("cut", 1).fit(data)
    rest = trainer("cut", 2)
    rest.fit(data, resume=True)
    for k, v in full.net.params.items():
        np.testing.assert_array_equal(rest.net.params[k], v, err_msg=k)
    assert not np.array_equal(full.net.params["conv5-1.w"], load_net("rnet").params["conv5-1.w"])
