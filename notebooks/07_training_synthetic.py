# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 · Training the cascade on synthetic faces
#
# The authors released trained weights but no training code. `tinymtcnn.train` re-creates the
# training procedure of the paper (spec §8): sample types and the 3 : 1 : 1 : 2 mix, the joint
# loss with OHEM (notebook 06), SGD with momentum, and **hard-example mining between stages**:
# R-Net is trained on what the trained P-Net proposes, O-Net on what P-Net + R-Net propose.
#
# Real face datasets (WIDER FACE, CelebA) are large and not redistributable, so this notebook
# trains on **procedural faces** (`tinymtcnn.train.SyntheticFaces`): drawings with exact boxes and
# five exact landmarks, generated on the fly from a seed. They are far simpler than photos, which
# is what makes training on two CPU cores possible at all.
#
# **Three sizes.** With `TINYMTCNN_FAST=1` (CI) everything is tiny — a minute or two, enough to
# exercise every step and to see P-Net start to learn. Without it the notebook trains on 300
# photos (P-Net on all of them, R-Net and O-Net on 150; about ten minutes on two cores)
# — the run whose outputs are stored here. The **classroom run** of the command line
# (`tinymtcnn train all --synthetic N`, settings in `tinymtcnn.train.cascade.classroom_plan()`)
# trains on more photos; see the end of the notebook.
#
# The weights of this notebook land in `notebooks/runs/07_synthetic/` (not committed); notebook 08
# compares them with the authors' weights.
#
# **Your turn.** Two exercises ask you to predict and to change something. Each gives you a
# placeholder (`my_... = None`): fill it in, then run the check cell below it, which says *right*,
# *wrong* (and why) or *not answered yet*. Training runs through the code of nearly every
# assignment task (`python tools/make_assignment.py list`): the layers (2.1–2.4), the loss (6.1),
# the sample labels (6.2), and for mining the whole detector (3.1, 4.1–4.3). In the student copy it
# trains with your code, and a task that is not done yet stops it with that task's name.

# %%
import json
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from tinymtcnn import MTCNN, Detections, load_net
from tinymtcnn.detect.boxes import to_zero_based
from tinymtcnn.detect.pyramid import build_pyramid
from tinymtcnn.detect.stages import pnet_level
from tinymtcnn.train import SyntheticFaces, Trainer
from tinymtcnn.train.cascade import classroom_plan, default_plan, evaluate_detector, load_stage_samples, train_stage
from tinymtcnn.train.cli import EPILOG
from tinymtcnn.train.losses import LANDMARK, NEGATIVE, PART, POSITIVE
from tinymtcnn.train.mining import HardExampleMiner
from tinymtcnn.viz import draw_detections
from tinymtcnn import exercises

# >>> SOLUTION
exercises.expect_answers()  # the teacher's version: a check that is not "right" stops the notebook
# <<< SOLUTION

FAST = os.environ.get("TINYMTCNN_FAST", "0") == "1"
# %config InlineBackend.figure_format = 'png'
plt.rcParams.update({"figure.figsize": (8, 4), "figure.dpi": 72})

RUN_DIR = Path("runs") / "07_synthetic"  # relative to the notebook; notebook 08 reads it
MIN_FACE = 14.0  # the synthetic faces are 14..160 px
if FAST:
    N_PHOTOS, N_HELD_OUT = 60, 10
    # per stage: (epochs, photos used, learning rate, max_repeat of the 3:1:1:2 mix)
    sizes = {"pnet": (8, None, 0.05, 3.0), "rnet": (1, 15, 0.03, 3.0), "onet": (1, 8, 0.05, 3.0)}
else:
    N_PHOTOS, N_HELD_OUT = 300, 100
    sizes = {"pnet": (6, None, 0.05, 1.5), "rnet": (4, 150, 0.03, 1.5), "onet": (6, 150, 0.05, 1.5)}
classroom = classroom_plan()  # sampling, batch size, mining settings of the classroom run; we set the rest
plan = {kind: replace(classroom[kind], train=replace(classroom[kind].train, epochs=epochs, lr=lr), max_photos=photos,
                      max_repeat=repeat)
        for kind, (epochs, photos, lr, repeat) in sizes.items()}
print(f"{N_PHOTOS} training photos, {N_HELD_OUT} held-out photos")
for kind, stage_plan in plan.items():
    t = stage_plan.train
    print(f"{kind}: {t.epochs} epochs, batch {t.batch_size}, {t.optimizer} lr {t.lr}, {t.schedule} schedule, "
          f"{stage_plan.max_photos or N_PHOTOS} photos")
shutil.rmtree(RUN_DIR, ignore_errors=True)  # train from scratch every time
RUN_DIR.mkdir(parents=True)
run_start = time.perf_counter()

# %% [markdown]
# **Warm-up.** Sampling crops with the package's resampler, and mining with the detector, use
# Numba kernels that are compiled on first use (or loaded from the disk cache): one tiny
# detection now keeps that out of the timings below.

# %%
start = time.perf_counter()
MTCNN().detect(np.full((48, 48, 3), 128, np.uint8))
print(f"warm-up: {time.perf_counter() - start:.2f} s")

# %% [markdown]
# ## 1. The data
#
# `SyntheticFaces(n, seed)` is a sequence of `n` photos; photo `i` is drawn from the random
# generator `default_rng([seed, i])`, so it is the same on every machine and nothing is stored.
# Each photo carries its face boxes `(K, 4)` and five landmarks `(K, 5, 2)` in the package's
# conventions. Training uses seed 0; the held-out photos for evaluation use a different seed.

# %%
photos = SyntheticFaces(N_PHOTOS, seed=0, min_face=MIN_FACE)
held_out = SyntheticFaces(N_HELD_OUT, seed=1_000_003, min_face=MIN_FACE)
fig, axes = plt.subplots(1, 4, figsize=(11, 3))
for ax, i in zip(axes, range(4)):
    photo = photos[i]
    truth = Detections(photo.boxes, np.ones(len(photo.boxes)), photo.landmarks)
    draw_detections(photo.image, truth, ax=ax, show_scores=False)
    ax.set_title(f"photo {i}: {photo.image.shape[1]}x{photo.image.shape[0]}, {len(photo.boxes)} face(s)",
                 fontsize="small")
    if ax.get_legend():
        ax.get_legend().remove()
plt.show()

# %% [markdown]
# ## 2. P-Net's samples
#
# From every photo the sampler cuts square crops (A's `gen_12net_data.py` rules, spec §8.2):
# random negatives, negatives next to faces, jittered crops around each face (positives and part
# faces, by IoU), and landmark crops. All are resized to 12 × 12 with the detector's own
# resampler, so training sees exactly what detection will. `load_stage_samples` caches them as
# shards on disk; `split` keeps all crops of one photo on the same side of the train/validation
# split, and `mix` resamples the types to 3 : 1 : 1 : 2.

# %%
start = time.perf_counter()
pnet_samples = load_stage_samples("pnet", photos, RUN_DIR, plan["pnet"], progress=False, log=print)
train_set, val_set = pnet_samples.split(0.1, seed=0)
rng = np.random.default_rng([0, 7])
train_set = train_set.mix(rng=rng, max_repeat=plan["pnet"].max_repeat)
val_set = val_set.mix(rng=rng)
print(f"{len(pnet_samples)} samples in {time.perf_counter() - start:.1f} s: {pnet_samples.counts()}")
print(f"train {len(train_set)} {train_set.counts()}\nval   {len(val_set)} {val_set.counts()}")

fig, axes = plt.subplots(2, 12, figsize=(10, 2.2))
names = {NEGATIVE: "neg", POSITIVE: "pos", PART: "part", LANDMARK: "lmk"}
for ax, i in zip(axes.ravel(), np.random.default_rng(0).choice(len(train_set), 24, replace=False)):
    ax.imshow(train_set["images"][i].transpose(1, 2, 0), interpolation="nearest")
    ax.set_title(names[int(train_set["labels"][i])], fontsize=8)
    ax.axis("off")
plt.show()

# %% [markdown]
# ### Your turn 1: the accuracy of a network that learnt nothing
#
# Training reports the validation **accuracy** of the face classifier: the share of positives and
# negatives whose `P(face) > 0.5` is on the right side (parts and landmark samples do not count).
# A fresh network usually starts by saying "no face" to everything. What accuracy does that give
# on `val_set`? Write it into `my_accuracy` (two decimals are enough).

# %%
my_accuracy = None  # your prediction: a float between 0 and 1
# >>> SOLUTION
my_accuracy = 0.75
# <<< SOLUTION

# %%
val_faces_or_not = val_set["labels"][(val_set["labels"] == POSITIVE) | (val_set["labels"] == NEGATIVE)]
exercises.check_prediction(
    "1", my_accuracy, lambda: float(np.mean(val_faces_or_not == NEGATIVE)),
    "'no face' is right on every negative and wrong on every positive, so the accuracy is the share of negatives: "
    "the 3 : 1 mix gives 3 / 4 = 0.75 (up to the rounding of the mix). An accuracy of 0.75 therefore means "
    "nothing here; look at the recall (0 for this network) and at the loss.",
    tolerance=0.02)

# %% [markdown]
# ## 3. A sanity check first: can P-Net memorise one batch?
#
# Before a long run, check that the loss *can* go down: a fresh network trained over and over on
# the same 128 samples must memorise them. If it does not, something in the forward pass, the
# backward pass, the loss or the optimiser is broken — and no amount of data will help.

# %%
overfit = Trainer("pnet", RUN_DIR / "overfit", replace(plan["pnet"].train, lr=0.05, schedule="constant"),
                  progress=False, log=lambda *_: None)
overfit.net.train()
tiny_batch = train_set.batch(np.arange(128))
steps = 30 if FAST else 100
losses = [overfit.train_step(tiny_batch, 0.05)[0] for _ in range(steps)]
print(f"loss on the same 128 samples: step 1 {losses[0]:.3f} -> step {steps} {losses[-1]:.3f}")
fig, ax = plt.subplots(figsize=(5, 2.5))
ax.plot(losses)
ax.set_xlabel("step")
ax.set_ylabel("joint loss")
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# ### Your turn 2: break the sanity check
#
# The sanity check only helps if you know what failing looks like. Choose a learning rate with which
# a fresh P-Net does **not** memorise the batch in the same number of steps (its loss does not fall to
# half) and put it in `my_lr`. There are two ways to fail; which one did you choose?

# %%
my_lr = None  # a learning rate (a positive float)
# >>> SOLUTION
my_lr = 1e-5
# <<< SOLUTION


# %%
def fails_to_memorise(lr):
    fresh = Trainer("pnet", RUN_DIR / "exercise", replace(plan["pnet"].train, lr=lr, schedule="constant"),
                    progress=False, log=lambda *_: None)
    fresh.net.train()
    curve = [fresh.train_step(tiny_batch, lr)[0] for _ in range(steps)]
    failed = not np.isfinite(curve[-1]) or curve[-1] >= 0.5 * curve[0]
    return failed, f"the loss goes from {curve[0]:.3f} to {curve[-1]:.3f} in {steps} steps"


exercises.check_parameter(
    "2", my_lr, fails_to_memorise,
    "too small (1e-5, say): every step moves the weights so little that the loss barely changes — "
    "this looks exactly like a bug in the backward pass, which is why the check uses a known-good learning "
    "rate. Too large: the steps overshoot, the loss jumps around or becomes inf / nan (the trainer clips the "
    "gradient norm, which tames but does not cure this).")

# %% [markdown]
# ## 4. Training P-Net
#
# `Trainer(kind, out_dir, config).fit(train, val)` runs the epochs: shuffled mini-batches with
# random horizontal flips (targets flipped too), the joint loss with OHEM, SGD with momentum and
# weight decay, a cosine learning-rate schedule, and after every epoch the validation metrics and
# a checkpoint (`fit(..., resume=True)` continues an interrupted run). It prints one line per
# epoch.

# %%
start = time.perf_counter()
pnet_trainer = Trainer("pnet", RUN_DIR, replace(plan["pnet"].train, seed=0), progress=False, log=print)
pnet_history = pnet_trainer.fit(train_set, val_set)
pnet = pnet_trainer.net.eval()
pnet_seconds = time.perf_counter() - start
print(f"P-Net trained in {pnet_seconds:.0f} s; weights: {pnet_trainer.weights_path}")


def plot_history(history, title):
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3))
    for key, color in (("cls", "tab:blue"), ("box", "tab:orange"), ("landmark", "tab:green")):
        ax1.plot(epochs, [h["train"][key] for h in history], marker="o", color=color, label=f"train {key}")
        ax1.plot(epochs, [h["val"][key] for h in history], ls="--", color=color, label=f"val {key}")
    ax1.set_yscale("log")
    ax1.legend(fontsize="x-small", ncol=2)
    ax1.set_xlabel("epoch")
    for key in ("accuracy", "recall", "precision"):
        ax2.plot(epochs, [h["val"][key] for h in history], marker="o", label=key)
    ax2.set_ylim(0, 1.02)
    ax2.legend(fontsize="x-small")
    ax2.set_xlabel("epoch")
    fig.suptitle(title, fontsize="small")
    plt.show()


plot_history(pnet_history, "P-Net: loss terms (left), validation classification (right, P(face) > 0.5)")

# %% [markdown]
# A network that has learnt nothing yet says "no face" everywhere: its validation accuracy is then
# the share of negatives among positives + negatives (0.75 with the 3 : 1 mix) and its recall 0.
# A network can sit in that state for an epoch or more before it takes off (too small a learning
# rate or too few steps keep it there for good) — a reason to look at the curves rather than only
# at the final numbers.
#
# ### What the trained P-Net sees
#
# P-Net's heat maps (notebook 03) on a held-out photo, with the new weights:

# %%
photo = next(held_out[i] for i in range(len(held_out)) if len(held_out[i].boxes) >= 2)
levels = build_pyramid(photo.image, min_face_size=MIN_FACE)
show_levels = levels[:: max(1, len(levels) // 4)][:4]
fig, axes = plt.subplots(1, len(show_levels) + 1, figsize=(12, 2.8))
truth = Detections(photo.boxes, np.ones(len(photo.boxes)), photo.landmarks)
draw_detections(photo.image, truth, ax=axes[0], show_scores=False, show_landmarks=False)
axes[0].set_title("held-out photo", fontsize="small")
for ax, (s, level) in zip(axes[1:], show_levels):
    prob = pnet_level(level, s, pnet, 0.6)[3]
    ax.imshow(prob, vmin=0, vmax=1, cmap="viridis")
    ax.set_title(f"s={s:.3f}: window = {12 / s:.0f} px", fontsize="small")
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 5. Hard examples for R-Net
#
# R-Net should not learn to reject random background — P-Net already does that. It must learn to
# reject **what P-Net gets wrong**. So its training crops come from running the trained P-Net
# over the training photos (`HardExampleMiner`, A's `gen_hard_example.py`): every P-Net proposal
# is labelled by its IoU with the ground truth (negative / part / positive), and those crops, plus
# a few random ones, are R-Net's samples. Mining uses a low P-Net threshold (printed below), so
# that there are plenty. On one photo:

# %%
miner = HardExampleMiner(pnet, min_face_size=MIN_FACE, thresholds=plan["rnet"].mine_thresholds,
                         max_negatives=plan["rnet"].max_negatives, min_side=plan["rnet"].min_side)
photo = photos[2]
mined = miner.photo_crops(photo, np.random.default_rng(0))
print(f"mining thresholds (P-Net, R-Net): {plan['rnet'].mine_thresholds}; {len(mined['labels'])} mined crops")
fig, ax = plt.subplots(figsize=(5, 4))
ax.imshow(photo.image)
colors = {NEGATIVE: "red", PART: "orange", POSITIVE: "lime"}
for (x1, y1, x2, y2), label in zip(to_zero_based(mined["crops"]), mined["labels"]):  # the proposals: 1-based
    ax.add_patch(plt.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, lw=1,
                               color=colors[int(label)]))
counts = {names[k]: int(np.sum(mined["labels"] == k)) for k in colors}
ax.set_title(f"P-Net proposals as R-Net samples: {counts} (red neg, orange part, green pos)", fontsize="small")
ax.axis("off")
plt.show()

# %% [markdown]
# ## 6. Training R-Net and O-Net
#
# `train_stage` does for R-Net and O-Net what we did by hand for P-Net: build the samples (random
# crops **plus the mined ones**: P-Net's proposals for R-Net, P-Net + R-Net's for O-Net), split,
# mix, train. Mining runs the detector over every photo, which is why the classroom plan uses
# fewer photos for these stages.

# %%
nets = {"pnet": pnet}
histories = {"pnet": pnet_history}
stage_seconds = {"pnet": pnet_seconds}
for kind in ("rnet", "onet"):
    start = time.perf_counter()
    trainer = train_stage(kind, photos, RUN_DIR, plan[kind], nets=nets, min_face_size=MIN_FACE, progress=False,
                          log=print)
    nets[kind] = trainer.net.eval()
    histories[kind] = trainer.history
    stage_seconds[kind] = time.perf_counter() - start
    print(f"{kind} done in {stage_seconds[kind]:.0f} s\n")

# %%
plot_history(histories["rnet"], "R-Net")
plot_history(histories["onet"], "O-Net")

# %% [markdown]
# ## 7. The trained cascade on held-out photos
#
# `MTCNN(weights=RUN_DIR)` loads the three `.npz` files the trainers wrote (the P-Net and R-Net
# files carry a landmark head for joint training; the detector ignores it). `evaluate_detector`
# matches detections to ground truth (IoU ≥ 0.5) and reports recall, precision, and the landmark
# error normalised by the inter-ocular distance (the paper's AFLW measure). `landmarks="onet"`: the
# points of the O-Net trained here (the default, `"auto"`, would blend in the authors' LNet).

# %%
detector = MTCNN(weights=RUN_DIR, min_face_size=MIN_FACE, landmarks="onet")
start = time.perf_counter()
report = evaluate_detector(detector, held_out, progress=False)
print(f"held-out: {report['photos']} photos, {report['faces']} faces -> {report['detections']} detections, "
      f"recall {report['recall']:.3f}, precision {report['precision']:.3f}, "
      f"landmark error {100 * report['landmark_nme']:.1f}% of the eye distance "
      f"({time.perf_counter() - start:.1f} s)")

fig, axes = plt.subplots(1, 4, figsize=(11, 3))
for ax, i in zip(axes, range(4)):
    photo = held_out[i]
    draw_detections(photo.image, detector.detect(photo.image), ax=ax)
    for x1, y1, x2, y2 in photo.boxes:
        ax.add_patch(plt.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, ls="--", color="white", lw=1))
    if ax.get_legend():
        ax.get_legend().remove()
    ax.set_title(f"held-out {i}: {len(photo.boxes)} true (dashed)", fontsize="small")
plt.show()

total_seconds = time.perf_counter() - run_start
info = {"fast": FAST, "photos": N_PHOTOS, "held_out": N_HELD_OUT, "min_face_size": MIN_FACE,
        "epochs": {k: p.train.epochs for k, p in plan.items()}, "seconds": round(total_seconds),
        "report": report}
(RUN_DIR / "run_info.json").write_text(json.dumps(info, indent=1, default=float))
print(f"whole run: {total_seconds / 60:.1f} min; stages {', '.join(f'{k} {v:.0f} s' for k, v in stage_seconds.items())}")

# %% [markdown]
# ## The classroom run from the command line
#
# The command line trains the same way, with its own sizes (`classroom_plan()`, printed below),
# and evaluates the result on held-out synthetic photos (`OUT/report.json`). `--resume`
# continues an interrupted run from its checkpoints; `--workers 2` builds the samples in two
# processes. The same command with `--data` / `--landmarks` trains on real annotations
# (WIDER-style box lists, landmark lists) with settings close to the paper's (`default_plan()`,
# also printed) — on two cores that takes far longer than a notebook.

# %%
print(EPILOG)  # the examples of `tinymtcnn train --help`
for name, settings in (("classroom", classroom), ("default", default_plan())):
    for kind, stage_plan in settings.items():
        t = stage_plan.train
        print(f"{name:9s} {kind}: {t.epochs:2d} epochs, batch {t.batch_size:3d}, lr {t.lr}, "
              f"photos {stage_plan.max_photos or 'all'}")

# %% [markdown]
# ## Checks
#
# * the network memorises one batch (loss falls by more than half);
# * P-Net's training loss falls and its validation accuracy beats "always no face";
# * every stage wrote weights that `load_net` reads back into an identical network, and the
#   detector built from the directory equals the one built from the trained objects;
# * without FAST: P-Net finds most validation faces (recall > 0.5), and the cascade finds
#   held-out faces with few false alarms.

# %%
assert losses[-1] < 0.5 * losses[0], (losses[0], losses[-1])
assert pnet_history[-1]["train"]["loss"] < pnet_history[0]["train"]["loss"]
val_labels = val_set["labels"]
always_no = np.sum(val_labels == NEGATIVE) / np.sum((val_labels == NEGATIVE) | (val_labels == POSITIVE))
assert pnet_history[-1]["val"]["accuracy"] > always_no + 0.02, (pnet_history[-1]["val"]["accuracy"], always_no)
assert pnet_history[-1]["val"]["recall"] > 0.1

for kind in ("pnet", "rnet", "onet"):
    path = RUN_DIR / f"{kind}.npz"
    assert path.is_file()
    reloaded = load_net(kind, path, landmark_head=kind != "onet")
    for key, value in nets[kind].params.items():
        assert np.array_equal(reloaded.params[key], value), (kind, key)
from_objects = MTCNN(weights=nets, min_face_size=MIN_FACE, landmarks="onet")
for i in range(3):
    a, b = detector.detect(held_out[i].image), from_objects.detect(held_out[i].image)
    assert len(a) == len(b) and np.allclose(a.boxes, b.boxes)
assert report["faces"] > 0 and 0 <= report["recall"] <= 1
if not FAST:
    assert pnet_history[-1]["val"]["recall"] > 0.5, pnet_history[-1]["val"]
    assert report["recall"] > 0.1 and report["precision"] > 0.5, report
print("all checks passed")
