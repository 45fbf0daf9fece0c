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
# # 06 · The joint loss and online hard example mining
#
# Each MTCNN network has up to three heads — face/non-face, box regression, landmarks — trained
# **together** with one loss. But not every training sample can teach every head: a random patch
# of background has no box to regress to, and a face crop from a landmark dataset may have no
# reliable box. The paper solves this with **sample types** and a per-sample on/off switch for
# every task, plus **task weights** per network, plus **online hard example mining (OHEM)** for
# the classification term.
#
# This notebook takes the loss apart with `tinymtcnn.train.losses`:
#
# 1. the four sample types and what each one trains (a **mask** per task);
# 2. the task weights `α` of P-, R- and O-Net;
# 3. what OHEM keeps, and the proof that the dropped samples contribute exactly nothing;
# 4. a gradient check of the whole loss.
#
# The samples are real: crops of procedurally drawn faces from `tinymtcnn.train.SyntheticFaces`,
# cut with the sampling rules of the training code (`tinymtcnn.train.samples`), and the network is
# the authors' R-Net — including the landmark head `conv5-3` that their file contains.
#
# **Your turn.** Three exercises ask you to predict or change something. Each gives you a
# placeholder (`my_... = None`): fill it in, then run the check cell below it, which says *right*,
# *wrong* (and why) or *not answered yet*. Section 1 is **assignment task 6.2** and sections 2–3 are
# **task 6.1** (`python tools/make_assignment.py list`): in the student copy those functions are
# yours, and this notebook runs on your code.
# So do the checks: one that disagrees with an answer you are sure of may be pointing at your task
# code, and that task's tests (`python -m pytest -m task_N_M`) will say.

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from tinymtcnn import MTCNN, load_net
from tinymtcnn.gradcheck import numerical_gradient, rel_error
from tinymtcnn.train import SamplingConfig, SampleSet, SyntheticFaces
from tinymtcnn.train.losses import (LANDMARK, NEGATIVE, OHEM_KEEP, PART, POSITIVE, TASK_WEIGHTS, classification_loss,
                                    joint_loss)
from tinymtcnn.train.samples import make_samples, photo_crops
from tinymtcnn import exercises
from tinymtcnn.train.samples import label_for_iou

# >>> SOLUTION
exercises.expect_answers()  # the teacher's version: a check that is not "right" stops the notebook
# <<< SOLUTION

FAST = os.environ.get("TINYMTCNN_FAST", "0") == "1"
# %config InlineBackend.figure_format = 'png'
plt.rcParams.update({"figure.figsize": (8, 4), "figure.dpi": 72})
TYPE_NAMES = {POSITIVE: "positive", NEGATIVE: "negative", PART: "part", LANDMARK: "landmark"}

# %% [markdown]
# **Warm-up.** The sample crops use the package's Numba resampler, compiled on first use (or
# loaded from the disk cache); one tiny detection triggers that now.

# %%
start = time.perf_counter()
try:
    MTCNN().detect(np.full((48, 48, 3), 128, np.uint8))
except NotImplementedError as err:  # a student copy whose detector tasks are not done: the loss still runs
    print(f"warm-up stopped early: {err} (not written yet; the cells that need it will say so)")
print(f"warm-up: {time.perf_counter() - start:.2f} s")

# %% [markdown]
# ## 1. Sample types
#
# Training crops are labelled by their overlap (IoU) with the annotated faces (paper §III-A):
#
# | type | rule | label | trains |
# |---|---|---|---|
# | negative | IoU < 0.3 with every face | 0 | face classification |
# | positive | IoU ≥ 0.65 with a face | 1 | classification + box |
# | part face | 0.4 ≤ IoU < 0.65 | −1 | box only |
# | landmark face | a face with 5 annotated points | −2 | landmarks only |
#
# Crops between 0.3 and 0.4 are ambiguous and not used. Part faces do not train the classifier
# (are they faces or not?), but they are good examples for the box regressor: they show how far
# to move. We draw a few synthetic photos and cut 24 × 24 samples (R-Net's input) from them, then
# resample the types to the paper's ratio **3 : 1 : 1 : 2** (negative : positive : part : landmark).
#
# > **Assignment task 6.2** (IoU and sample labels): `iou` and `label_for_iou` in
# > `tinymtcnn/train/samples.py` — the overlap of one box with many (continuous areas) and the table
# > above; `python -m pytest -m task_6_2` checks them.
#
# ### Your turn 1: label a crop
#
# A crop's best IoU with the faces of its photo is **0.35**. What does it become: `"negative"`,
# `"positive"`, `"part"` or `"unused"`? Write your answer into `my_label`.

# %%
my_label = None  # your prediction: one of "negative", "positive", "part", "unused"
# >>> SOLUTION
my_label = "unused"
# <<< SOLUTION

# %%
exercises.check_prediction(
    "1", my_label, lambda: {POSITIVE: "positive", NEGATIVE: "negative", PART: "part", None: "unused"}[
        label_for_iou(0.35)],
    "0.35 lies in the gap between negatives (< 0.3) and part faces (≥ 0.4): such a crop shows a good piece of a "
    "face, so calling it 'no face' would teach the classifier something false, and it is too far off to be a "
    "useful box example. label_for_iou returns None and the sampler skips it.",
    choices=["negative", "positive", "part", "unused"])

# %%
photos = SyntheticFaces(4 if FAST else 8, seed=1)
config = SamplingConfig(min_face=12.0, min_landmark_aug_face=20.0)  # small synthetic faces are allowed
parts_ = []
for i in range(len(photos)):
    photo = photos[i]
    crops = photo_crops(photo, np.random.default_rng([0, i]), config)
    parts_.append(SampleSet(make_samples(photo, i, 24, crops), 24))
samples = SampleSet.concat(parts_, 24)
batch_set = samples.mix(rng=np.random.default_rng(0))
print(f"{len(photos)} photos -> {len(samples)} samples {samples.counts()}")
print(f"mixed 3:1:1:2 -> a batch of {len(batch_set)} {batch_set.counts()}")

fig, axes = plt.subplots(4, 8, figsize=(10, 5.4))
for row, label in zip(axes, (NEGATIVE, POSITIVE, PART, LANDMARK)):
    idx = np.flatnonzero(batch_set["labels"] == label)[:8]
    for ax, i in zip(row, idx):
        ax.imshow(batch_set["images"][i].transpose(1, 2, 0), extent=(0, 1, 1, 0))
        if label in (POSITIVE, PART):  # box target: ground truth = crop + t * side, in crop units
            t = batch_set["boxes"][i]
            ax.add_patch(plt.Rectangle((t[0], t[1]), 1 + t[2] - t[0], 1 + t[3] - t[1], fill=False, color="cyan"))
        if label == LANDMARK:
            lm = batch_set["landmarks"][i]
            ax.scatter(lm[:5], lm[5:], s=8, c="yellow")
        ax.set_xlim(-0.1, 1.1)
        ax.set_ylim(1.1, -0.1)
        ax.axis("off")
    row[0].set_title(TYPE_NAMES[label], fontsize="small", loc="left")
fig.suptitle("24x24 samples; cyan: the face box the target points to; yellow: landmark targets", fontsize="small")
plt.show()

# %% [markdown]
# The targets are in **crop units**: a box target `t = (gx1 − cx1, gy1 − cy1, gx2 − cx2, gy2 − cy2) / S`
# says how far each edge of the crop (side `S`) must move to reach the face box — exactly what
# the detector's regression step undoes (notebook 04). Landmark targets are the five points
# relative to the crop, planar `(x1..x5, y1..y5)`, as O-Net outputs them.
#
# ## 2. The joint loss and its masks
#
# With outputs `z` (face logits), `b` (box offsets), `m` (landmarks) and the labels `y`:
#
# ```
# L_det = mean over the kept positives+negatives of CE(z_i, y_i)          (OHEM, section 3)
# L_box = mean over positives+parts of ‖b_i − t_i‖²
# L_lmk = mean over landmark samples of ‖m_i − l_i‖²
# L     = α_det L_det + α_box L_box + α_lmk L_lmk
# ```
#
# > **Assignment task 6.1** (joint loss with OHEM): `classification_loss` and `joint_loss` in
# > `tinymtcnn/train/losses.py` — the masks, the weights and OHEM of this section and the next;
# > `python -m pytest -m task_6_1` checks them.
#
# `joint_loss(outputs, batch, weights=..., ohem=...)` returns `L`, the three terms with their
# sample counts, and the gradient with respect to every output — ready for `net.backward`. Every
# sample gets a gradient only on the heads its type trains. Let us look at the gradient's
# non-zero pattern, one row per sample (sorted by type), one column per output number.

# %%
rnet = load_net("rnet", landmark_head=True)  # the authors' R-Net with its undeclared landmark head
batch = batch_set.batch(np.arange(len(batch_set)))
outputs = rnet.forward(batch["images"])
total, terms, grads = joint_loss(outputs, batch, weights=TASK_WEIGHTS["rnet"], ohem=OHEM_KEEP)
print(f"L = {total:.4f}  terms {{cls {terms['cls']:.4f}, box {terms['box']:.4f}, landmark {terms['landmark']:.4f}}}")
print(f"counts: classification {terms['n_cls']} (OHEM kept {terms['n_kept']}), box {terms['n_box']}, "
      f"landmark {terms['n_landmark']}")

order = np.argsort(-batch["labels"], kind="stable")  # positives, negatives, parts, landmarks
pattern = np.concatenate([grads["face_logits"], grads["box_reg"], grads["landmarks"]], axis=1)[order] != 0
fig, ax = plt.subplots(figsize=(6, 4.5))
ax.imshow(pattern, aspect="auto", cmap="Greys", interpolation="nearest")
ax.set_xticks([0.5, 3.5, 10.5])
ax.set_xticklabels(["face (2)", "box (4)", "landmarks (10)"])
for x in (1.5, 5.5):
    ax.axvline(x, color="red", lw=0.8)
bounds = np.cumsum([np.sum(batch["labels"] == lab) for lab in (POSITIVE, NEGATIVE, PART, LANDMARK)])
for y0, y1, lab in zip(np.r_[0, bounds[:-1]], bounds, (POSITIVE, NEGATIVE, PART, LANDMARK)):
    ax.axhline(y1 - 0.5, color="red", lw=0.8)
    ax.text(16.2, (y0 + y1) / 2, TYPE_NAMES[lab], va="center", fontsize="small")
ax.set_xlim(-0.5, 18.5)
ax.set_ylabel("sample")
ax.set_title("non-zero gradient entries (black)", fontsize="small")
plt.show()

# %% [markdown]
# Positives light up the face and box columns, negatives only the face columns, parts only the
# box columns, landmark samples only the landmark columns. The white rows among the positives and
# negatives are the samples **OHEM dropped** (section 3).
#
# ### Task weights
#
# The paper weighs the three terms differently per network: P-Net and R-Net `(1, 0.5, 0.5)`,
# O-Net `(1, 0.5, 1)` — the last stage is the one whose landmarks are used, so it pays more
# attention to them. The total is the weighted sum of the (unweighted) terms, and the gradients
# scale with their weight:

# %%
for kind, weights in TASK_WEIGHTS.items():
    total_k, terms_k, grads_k = joint_loss(outputs, batch, weights=weights, ohem=OHEM_KEEP)
    recomposed = weights[0] * terms_k["cls"] + weights[1] * terms_k["box"] + weights[2] * terms_k["landmark"]
    print(f"{kind}: α = {weights}  L = {total_k:.4f} = {recomposed:.4f}")

# %% [markdown]
# ### Your turn 2: switch a task off
#
# Choose task weights `(α_det, α_box, α_lmk)` with which the landmark samples get **no gradient at
# all**, while the classifier and the box regressor still learn. Put the tuple in `my_weights`.
# Which of the four sample types then teach the network nothing?

# %%
my_weights = None  # a tuple of three floats
# >>> SOLUTION
my_weights = (1.0, 0.5, 0.0)
# <<< SOLUTION


# %%
def landmarks_switched_off(weights):
    _, _, g = joint_loss(outputs, batch, weights=tuple(weights), ohem=OHEM_KEEP)
    learns = {key: bool(np.any(g[key] != 0)) for key in ("face_logits", "box_reg", "landmarks")}
    return (not learns["landmarks"] and learns["face_logits"] and learns["box_reg"],
            "non-zero gradient on: " + (", ".join(key for key, on in learns.items() if on) or "nothing"))


exercises.check_parameter(
    "2", my_weights, landmarks_switched_off,
    "α_lmk = 0 with α_det > 0 and α_box > 0. The landmark samples train only the landmark head, so they now "
    "contribute nothing: a P-Net or R-Net trained like this never learns landmarks (the detector does not use "
    "theirs), and the 2 parts in 7 of every batch that are landmark samples are wasted work.")

# %% [markdown]
# ## 3. Online hard example mining
#
# After a few epochs most negatives are easy: the network gives them a face probability of
# 0.001, their loss is almost 0, and their gradient teaches nothing — yet they are the majority of
# every batch. OHEM (paper §II-C-5) sorts the classification losses of the positives and negatives
# of the batch and back-propagates only the **hardest 70 %**: `k = floor(0.7 · n)`, and
# `L_det = (1/k) Σ_{i ∈ top k} CE_i`. OHEM touches only the classification term.
#
# ### Your turn 3: how many does OHEM keep?
#
# A batch holds 40 positives, 120 negatives, 40 part faces and 80 landmark samples. How many
# samples does OHEM keep for the classification term? Write the number into `my_kept`.

# %%
my_kept = None  # your prediction: an int
# >>> SOLUTION
my_kept = 112
# <<< SOLUTION


# %%
def ohem_kept_count():
    example_labels = np.repeat([POSITIVE, NEGATIVE, PART, LANDMARK], [40, 120, 40, 80])
    example_logits = np.random.default_rng(0).standard_normal((len(example_labels), 2))
    return int(classification_loss(example_logits, example_labels, ohem=OHEM_KEEP)[2].sum())


exercises.check_prediction(
    "3", my_kept, ohem_kept_count,
    "only positives and negatives take part in classification: n = 40 + 120 = 160, and OHEM keeps "
    "k = floor(0.7 · 160) = 112 of them, whatever their losses. Parts and landmark samples are never "
    "counted, kept or dropped by OHEM.")


# %%
logits = outputs["face_logits"].astype(np.float64)
labels = batch["labels"]
loss_ohem, grad_ohem, kept = classification_loss(logits, labels, ohem=OHEM_KEEP)
valid = np.flatnonzero((labels == POSITIVE) | (labels == NEGATIVE))
ce = np.logaddexp(logits[:, 0], logits[:, 1]) - logits[np.arange(len(labels)), np.clip(labels, 0, 1)]
k = int(np.floor(OHEM_KEEP * len(valid)))
print(f"{len(valid)} positives+negatives -> OHEM keeps k = {kept.sum()} (floor(0.7 * {len(valid)}) = {k})")

by_loss = valid[np.argsort(-ce[valid], kind="stable")]
fig, ax = plt.subplots(figsize=(8, 3))
colors = ["tab:red" if labels[i] == POSITIVE else "tab:blue" for i in by_loss]
ax.bar(np.arange(len(by_loss)), ce[by_loss], color=colors, width=1.0)
ax.axvline(k - 0.5, color="black", ls="--")
ax.text(k, ax.get_ylim()[1] * 0.9, " dropped by OHEM →", fontsize="small")
ax.set_yscale("log")
ax.set_xlabel("positives (red) and negatives (blue), hardest first")
ax.set_ylabel("cross-entropy")
plt.show()
share = ce[by_loss[:k]].sum() / ce[valid].sum()
print(f"the kept 70% carry {100 * share:.2f}% of the classification loss; "
      f"kept: {int(np.sum(kept & (labels == POSITIVE)))} positives, {int(np.sum(kept & (labels == NEGATIVE)))} negatives")

# %% [markdown]
# The hardest samples for the authors' R-Net are some of our cartoon faces (it never saw drawings
# like ours) and a few face-like negatives; the dropped ones are the negatives it already gets
# right. Here are the hardest kept and the easiest dropped samples, with R-Net's face probability:

# %%
prob = outputs["face_prob"].astype(np.float64)
fig, axes = plt.subplots(2, 8, figsize=(10, 3))
for row, idx, title in ((axes[0], by_loss[:8], "hardest (kept)"), (axes[1], by_loss[-8:], "easiest (dropped)")):
    for ax, i in zip(row, idx):
        ax.imshow(batch_set["images"][i].transpose(1, 2, 0))
        ax.set_title(f"{TYPE_NAMES[labels[i]][:3]} p={prob[i]:.2f}", fontsize=8)
        ax.axis("off")
    row[0].text(-30, 12, title, fontsize="small", rotation=90, va="center")
plt.show()

# %% [markdown]
# ### Dropped means dropped: the parameter gradients
#
# The gradient of a dropped sample is exactly zero, so it cannot influence the weights. We can
# verify that on the network's parameters: back-propagating the OHEM loss of the whole batch must
# give **the same parameter gradients** as back-propagating the plain (no-OHEM) loss of only the
# kept samples. (Classification term only, `weights = (1, 0, 0)`: the box and landmark terms
# average over all their samples and do not use OHEM.)

# %%
net64 = load_net("rnet", landmark_head=True, dtype=np.float64)
images64 = batch["images"].astype(np.float64)


def parameter_grads(images, sub_batch, ohem):
    net64.zero_grad()
    out = net64.forward(images)
    _, _, g = joint_loss(out, sub_batch, weights=(1.0, 0.0, 0.0), ohem=ohem)
    net64.backward(g)
    return {key: value.copy() for key, value in net64.grads.items()}


with_ohem = parameter_grads(images64, batch, OHEM_KEEP)
kept_idx = np.flatnonzero(kept)
only_kept = parameter_grads(images64[kept_idx], {key: value[kept_idx] for key, value in batch.items()}, None)
worst = max(rel_error(with_ohem[key], only_kept[key]) for key in with_ohem)
print(f"largest relative difference over {len(with_ohem)} parameter arrays: {worst:.1e}")

# %% [markdown]
# ## 4. A gradient check of the loss
#
# The loss is piecewise smooth (OHEM's selection changes only when two losses swap places), so
# central differences check its gradient with respect to all three outputs. A small float64
# batch with every sample type:

# %%
rng = np.random.default_rng(0)
small = {key: value[:: max(1, len(labels) // 24)][:24] for key, value in batch.items()}
n_small = len(small["labels"])
small_out = {"face_logits": rng.standard_normal((n_small, 2)), "box_reg": rng.standard_normal((n_small, 4)) * 0.1,
             "landmarks": rng.uniform(0, 1, (n_small, 10))}
_, _, small_grads = joint_loss(small_out, small, weights=TASK_WEIGHTS["onet"], ohem=OHEM_KEEP)
check = {}
for key in small_out:
    def loss_of(value, key=key):
        return joint_loss({**small_out, key: value}, small, weights=TASK_WEIGHTS["onet"], ohem=OHEM_KEEP)[0]
    check[key] = rel_error(small_grads[key], numerical_gradient(loss_of, small_out[key].copy()))
    print(f"dL/d{key:12s} relative error {check[key]:.1e}")
print("sample types in this batch:", {TYPE_NAMES[lab]: int(np.sum(small["labels"] == lab)) for lab in TYPE_NAMES})

# %% [markdown]
# ## Checks
#
# * the gradient is non-zero only where the sample type trains that head (positives: face + box;
#   negatives: face; parts: box; landmarks: landmarks);
# * `L` is the weighted sum of its terms for all three networks' weights;
# * OHEM keeps `floor(0.7 n)` samples, exactly the largest losses; their gradient is
#   `(softmax − onehot) / k`, the others get zero; `L_det` is the mean loss of the kept samples;
# * the network's parameter gradients with OHEM equal those of the kept samples alone;
# * the loss gradient agrees with central differences.

# %%
g_face, g_box, g_lmk = (np.abs(grads[key]).sum(axis=1) > 0 for key in ("face_logits", "box_reg", "landmarks"))
is_ = {name: labels == lab for lab, name in TYPE_NAMES.items()}
assert not g_face[is_["part"] | is_["landmark"]].any() and g_face[is_["positive"] | is_["negative"]].sum() == k
assert g_box[is_["positive"] | is_["part"]].all() and not g_box[is_["negative"] | is_["landmark"]].any()
assert g_lmk[is_["landmark"]].all() and not g_lmk[~is_["landmark"]].any()
assert terms["n_cls"] == len(valid) and terms["n_box"] == int(np.sum(is_["positive"] | is_["part"]))

for kind, weights in TASK_WEIGHTS.items():
    total_k, terms_k, _ = joint_loss(outputs, batch, weights=weights, ohem=OHEM_KEEP)
    assert np.isclose(total_k, weights[0] * terms_k["cls"] + weights[1] * terms_k["box"] + weights[2] * terms_k["landmark"])
assert TASK_WEIGHTS["pnet"] == TASK_WEIGHTS["rnet"] == (1.0, 0.5, 0.5) and TASK_WEIGHTS["onet"] == (1.0, 0.5, 1.0)

assert kept.sum() == k and set(np.flatnonzero(kept)) == set(by_loss[:k])
assert ce[kept].min() >= ce[valid][~kept[valid]].max()
assert np.isclose(loss_ohem, ce[kept].mean())
p_soft = np.exp(logits - np.logaddexp(logits[:, :1], logits[:, 1:]))
onehot = np.eye(2)[np.clip(labels, 0, 1)]
assert np.allclose(grad_ohem[kept], (p_soft - onehot)[kept] / k) and np.all(grad_ohem[~kept] == 0)
assert np.isclose(classification_loss(logits, labels, ohem=None)[0], ce[valid].mean())

assert worst < 1e-10
assert all(err < 1e-7 for err in check.values()), check
print("all checks passed")
