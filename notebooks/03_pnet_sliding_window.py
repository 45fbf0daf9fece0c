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
# # 03 · P-Net as a sliding window
#
# **P-Net** ("proposal network") is a tiny classifier for 12 × 12 pixel patches: face or not,
# and if it is a face, how the 12 × 12 square should be moved to fit it. The detector needs its
# answer for *every* 12 × 12 window of every pyramid level (notebook 01). Cropping millions of
# windows and classifying them one by one would be hopelessly slow. P-Net avoids that because it
# is **fully convolutional**: it has no fully connected layer, so it can run on a whole level at
# once and produces a **map** of answers, one cell per window, with windows 2 pixels apart.
#
# This notebook shows
#
# 1. that running P-Net on a whole level gives exactly the same numbers as cropping the windows;
# 2. the heat maps P-Net produces on every pyramid level (`tinymtcnn.viz.show_heatmaps`);
# 3. how a heat map becomes candidate boxes (`tinymtcnn.detect.boxes.heatmap_to_boxes`, a port of
#    the authors' `generateBoundingBox.m`).
#
# **Your turn.** Three exercises ask you to predict, write or change something. Each gives you a
# placeholder (`my_... = None`, or a function with an empty body): fill it in, then run the check
# cell below it, which says *right*, *wrong* (and why) or *not answered yet*. Section 3 is
# **assignment task 3.1** (`python tools/make_assignment.py list`); in the student copy that
# function is yours, and this notebook runs on your code.
# So do the checks: one that disagrees with an answer you are sure of may be pointing at your task
# code, and that task's tests (`python -m pytest -m task_N_M`) will say.

# %%
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import tinymtcnn
from tinymtcnn import MTCNN
from tinymtcnn.detect.boxes import apply_box_regression, heatmap_to_boxes, to_zero_based
from tinymtcnn.detect.pyramid import build_pyramid
from tinymtcnn.detect.stages import pnet_level
from tinymtcnn.io import load_image
from tinymtcnn.viz import draw_detections, show_heatmaps
from tinymtcnn import exercises

# >>> SOLUTION
exercises.expect_answers()  # the teacher's version: a check that is not "right" stops the notebook
# <<< SOLUTION

FAST = os.environ.get("TINYMTCNN_FAST", "0") == "1"
# %config InlineBackend.figure_format = 'png'
plt.rcParams.update({"figure.figsize": (8, 4), "figure.dpi": 72})

image = load_image(Path(tinymtcnn.__file__).parent / "assets" / "astronaut.png")
H, W = image.shape[:2]

# %% [markdown]
# **Warm-up.** The first detection compiles the Numba kernels (or loads them from the on-disk
# cache), which takes a few seconds once; the second run shows the real speed.

# %%
detector = MTCNN()
for attempt in ("first", "second"):
    start = time.perf_counter()
    faces = detector.detect(image)
    print(f"{attempt} detection: {time.perf_counter() - start:.2f} s, {len(faces)} face(s)")
pnet = detector.nets["pnet"]
print(pnet)

# %% [markdown]
# ## 1. P-Net's anatomy: a 12 × 12 window with stride 2
#
# Three 3 × 3 convolutions shrink a 12 × 12 input to 1 × 1 (12 → 10, pool → 5, → 3, → 1); two
# 1 × 1 convolutions then act as the "heads": `face_logits` (2 channels, softmax → face
# probability) and `box_reg` (4 channels: how far to move each edge of the window, in units of
# the window size). On a larger input every layer simply produces a larger map. The only layer
# with a stride is the 2 × 2 max pool, so neighbouring output cells look at windows **2 pixels
# apart**: cell `(v, u)` (row, column) sees the input pixels `[2v, 2v + 12) × [2u, 2u + 12)`.
# On an input of `H × W` the map has `ceil(H/2) − 5` rows and `ceil(W/2) − 5` columns.
#
# Let us check this claim on the pyramid level whose 12-pixel window matches the astronaut's face
# (about 110 pixels): run P-Net once on the whole level, then crop a few 12 × 12 windows and run
# P-Net on each crop alone.

# %%
pyramid = build_pyramid(image)
face_level = 5
scale, level = pyramid[face_level]
out = pnet.forward(level.transpose(2, 0, 1)[None])  # HWC level -> NCHW batch of one
prob, reg = out["face_prob"][0], out["box_reg"][0]
print(f"level {face_level}: scale {scale:.4f}, level {level.shape[:2]}, map {prob.shape} "
      f"(ceil(h/2) - 5 = {int(np.ceil(level.shape[0] / 2)) - 5})")

rng = np.random.default_rng(0)
cells = [np.unravel_index(np.argmax(prob), prob.shape)] + [tuple(rng.integers(0, prob.shape[0], 2)) for _ in range(5)]
window_errors = []
for v, u in cells:
    window = np.ascontiguousarray(level[2 * v:2 * v + 12, 2 * u:2 * u + 12].transpose(2, 0, 1)[None])
    alone = pnet.forward(window)
    window_errors.append(abs(alone["face_prob"][0, 0, 0] - prob[v, u]))
    print(f"cell (v={v:2d}, u={u:2d}): map {prob[v, u]:.6f}   window alone {alone['face_prob'][0, 0, 0]:.6f}")

# %% [markdown]
# The numbers agree to float32 rounding: the map *is* the sliding-window classifier, computed
# with shared work (neighbouring windows overlap by 10 of their 12 columns, and the convolutions
# compute each overlap only once).

# %% [markdown]
# The same anatomy as a picture, drawn from the net object itself (`tinymtcnn.viz.draw_net` runs
# one sample through P-Net's own layers and writes each output shape): first on a 12 × 12 window,
# then on a 20 × 20 input, where the map grows to 5 × 5 (`ceil(20/2) − 5`).

# %%
from tinymtcnn.viz import draw_net

ax = draw_net(pnet)
plt.show()
ax = draw_net(pnet, input_size=20)
plt.show()
#
# ### Your turn 1: predict the size of a map
#
# A pyramid level of 100 rows × 60 columns goes through P-Net. How many rows and columns does its
# face-probability map have? Write `(rows, columns)` into `my_map_shape`.

# %%
my_map_shape = None  # your prediction: a tuple (rows, columns)
# >>> SOLUTION
my_map_shape = (45, 25)
# <<< SOLUTION

# %%
exercises.check_prediction(
    "1", my_map_shape, lambda: pnet.forward(np.zeros((1, 3, 100, 60), np.float32))["face_prob"].shape[1:],
    "ceil(100 / 2) − 5 = 45 rows and ceil(60 / 2) − 5 = 25 columns: one cell per 12 × 12 window, windows 2 pixels "
    "apart (the pool's stride), so (100 − 12) / 2 + 1 = 45 windows fit down and (60 − 12) / 2 + 1 = 25 across.")

# %% [markdown]
# Here is the level with its probability map laid over it. Cell `u` covers pixels `2u .. 2u + 11`,
# so its centre is at `2u + 5.5`; we draw each cell as a 2 × 2 pixel square around that centre.

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
pixels = np.clip(level / 0.0078125 + 127.5, 0, 255).astype(np.uint8)  # undo the normalisation for display
axes[0].imshow(pixels)
axes[0].set_title(f"level {face_level}: {level.shape[0]}x{level.shape[1]} (s = {scale:.4f})", fontsize="small")
axes[1].imshow(pixels)
h_map, w_map = prob.shape
im = axes[1].imshow(prob, extent=(4.5, 4.5 + 2 * w_map, 4.5 + 2 * h_map, 4.5), cmap="viridis", alpha=0.6,
                    vmin=0, vmax=1, interpolation="nearest")
v, u = cells[0]
axes[1].add_patch(plt.Rectangle((2 * u - 0.5, 2 * v - 0.5), 12, 12, fill=False, color="red", lw=2))
axes[1].set_title("P-Net face probability; red: the best 12x12 window", fontsize="small")
for ax in axes:
    ax.set_xlim(-0.5, level.shape[1] - 0.5)
    ax.set_ylim(level.shape[0] - 0.5, -0.5)
fig.colorbar(im, ax=axes[1], shrink=0.8)
plt.show()

# %% [markdown]
# ## 2. Heat maps on every level
#
# `MTCNN.trace(image)` runs the cascade and keeps what every stage produced, including P-Net's
# probability map on every pyramid level. `tinymtcnn.viz.show_heatmaps` draws them. On the first,
# largest levels (top left) the window covers only 20–40 pixels of the photo and responds to
# small face-like things — an eye, the badges on the suit; the face itself lights up on the levels
# where the 12-pixel window covers about 80–160 pixels of the photo.

# %%
trace = detector.trace(image)
fig = show_heatmaps(trace, cols=5)
plt.show()
for s, p in trace["pnet_maps"]:
    print(f"s={s:.4f}  map {p.shape[0]:3d}x{p.shape[1]:<3d}  window = {12 / s:5.1f} px  "
          f"max {p.max():.4f}  cells >= 0.6: {int((p >= 0.6).sum())}")

# %% [markdown]
# The whole cascade on this photo, with the number of candidates after each stage
# (`tinymtcnn.viz.draw_cascade`, from the same trace): P-Net proposes many windows, R-Net and
# O-Net remove almost all of them.

# %%
from tinymtcnn.viz import draw_cascade

fig = draw_cascade(trace, pnet_threshold=detector.thresholds[0])
plt.show()

# %% [markdown]
# ## 3. From a heat map to boxes
#
# Every cell with `prob ≥ 0.6` (the first threshold, `MTCNN(thresholds=(0.6, ...))`) becomes a
# candidate. Its box is the cell's 12 × 12 window mapped back to the photo by dividing by the
# scale. In the authors' 1-based MATLAB convention (kept inside the cascade so that every formula
# can be compared with `generateBoundingBox.m`):
#
# ```
# x1 = fix((2u + 1) / s)      y1 = fix((2v + 1) / s)
# x2 = fix((2u + 12) / s)     y2 = fix((2v + 12) / s)
# ```
#
# `fix` truncates toward zero. At `s = 1` this is exactly the window's pixel span `2u+1 .. 2u+12`
# (1-based, inclusive). `heatmap_to_boxes` also returns the score and the four regression offsets
# of each cell; they are **not applied yet** (that happens after non-maximum suppression, notebook
# 04). Let us convert the map of level 5 and check one cell by hand.
#
# > **Assignment task 3.1** (heat map to boxes): `heatmap_to_boxes` in `tinymtcnn/detect/boxes.py` —
# > the cells with `prob ≥ threshold` in row-major order, their boxes by the formula above, their scores
# > and offsets; `python -m pytest -m task_3_1` checks it.

# %%
boxes, scores, offsets = heatmap_to_boxes(prob, reg, scale, threshold=0.6)
print(f"{len(boxes)} candidates from {prob.size} cells ({int((prob >= 0.6).sum())} cells with prob >= 0.6)")
best = int(np.argmax(scores))
v, u = cells[0]
by_hand = np.fix(np.array([2 * u + 1, 2 * v + 1, 2 * u + 12, 2 * v + 12]) / scale)
print(f"best cell (v={v}, u={u}): score {scores[best]:.5f}")
print("  box from heatmap_to_boxes:", boxes[best], " by hand:", by_hand)
print("  offsets (dx1, dy1, dx2, dy2):", np.round(offsets[best], 3))
print(f"  box side {boxes[best, 2] - boxes[best, 0]:.0f} px  (12 / s = {12 / scale:.1f})")

# %% [markdown]
# ### Your turn 2: one cell's window in the photo
#
# Write `my_cell_box(v, u, scale)`: the 1-based box `[x1, y1, x2, y2]` (a float array of 4) in the
# photo of the window of cell `(v, u)` (row, column) of a level with scale `scale`, from the
# formula above (`np.fix` truncates toward zero). The check compares it with what
# `heatmap_to_boxes` gives for a map in which only that cell is lit.

# %%
def my_cell_box(v, u, scale):
    """1-based inclusive box (x1, y1, x2, y2) in the photo of P-Net cell (v, u) on a level of scale ``scale``."""
    # your code here (1 or 2 lines)
    # >>> SOLUTION
    return np.fix(np.array([2 * u + 1, 2 * v + 1, 2 * u + 12, 2 * v + 12]) / scale)
    # <<< SOLUTION


# %%
def package_cell_box(v, u, scale):
    lit = np.zeros((v + 1, u + 1))
    lit[v, u] = 1.0
    return heatmap_to_boxes(lit, np.zeros((4, v + 1, u + 1)), scale, threshold=0.5)[0][0]


def random_cell(rng):
    return int(rng.integers(0, 60)), int(rng.integers(0, 60)), float(rng.uniform(0.05, 1.0))


exercises.check_function(
    "2", my_cell_box, package_cell_box, exercises.seeded(random_cell, seeds=range(5)),
    explanation="cell u covers the level's pixels 2u + 1 .. 2u + 12 (1-based); dividing by the scale maps them "
                "back to the photo, and fix() makes them whole pixels. x comes from the column u, y from the row v.")

# %% [markdown]
# The regression offsets say how to move each edge, in units of the box size
# (`x1 + dx1 · w`, …). For stage 1 the authors use `w = x2 − x1` (no `+1`, unlike the later
# stages — notebook 04). Here are all the candidates of this level (yellow) and, for the best one,
# the box before (red) and after (cyan) regression. The public convention of the package is
# 0-based (`to_zero_based`), which is what we draw.

# %%
moved = apply_box_regression(boxes[best:best + 1], offsets[best:best + 1], plus_one=False)
fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.imshow(image)
for x1, y1, x2, y2 in to_zero_based(boxes):
    ax.add_patch(plt.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, color="yellow", lw=0.6))
for bx, color, label in ((boxes[best:best + 1], "red", "best cell"), (moved, "cyan", "after regression")):
    x1, y1, x2, y2 = to_zero_based(bx)[0]
    ax.add_patch(plt.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, color=color, lw=2, label=label))
ax.legend(fontsize="small", loc="lower right")
ax.set_title(f"level {face_level}: {len(boxes)} candidates (prob >= 0.6)", fontsize="small")
ax.axis("off")
plt.show()

# %% [markdown]
# ### Candidates of all levels
#
# `tinymtcnn.detect.stages.pnet_level` does the whole per-level step: P-Net, `heatmap_to_boxes`,
# and a first non-maximum suppression (IoU 0.5) that removes duplicates from neighbouring cells
# of the same level (notebook 04). Summed over the pyramid the astronaut gets a few hundred
# candidates, most of them not faces. That is P-Net's job: **high recall, cheap**; the next two
# networks remove the false alarms.

# %%
per_level = []
fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.imshow(image)
colors = plt.cm.plasma(np.linspace(0, 0.9, len(pyramid)))
for (s, lvl), color in zip(pyramid, colors):
    kept_boxes, kept_scores, _, level_prob = pnet_level(lvl, s, pnet, 0.6)
    per_level.append((s, int((level_prob >= 0.6).sum()), len(kept_boxes)))
    for x1, y1, x2, y2 in to_zero_based(kept_boxes):
        ax.add_patch(plt.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, color=color, lw=0.7))
ax.set_xlim(-0.5, W - 0.5)
ax.set_ylim(H - 0.5, -0.5)
ax.axis("off")
ax.set_title("P-Net candidates of every level (colour = level)", fontsize="small")
plt.show()
print(" scale    cells >= 0.6   after per-level NMS 0.5")
for s, n_cells, n_kept in per_level:
    print(f"{s:.4f}  {n_cells:12d}   {n_kept:10d}")
print(f"total: {sum(c for _, c, _ in per_level)} cells -> {sum(k for _, _, k in per_level)} candidates")

# %% [markdown]
# ### The threshold
#
# The first threshold trades recall for work: every candidate that survives costs an R-Net
# evaluation later. The number of candidate cells falls steeply as the threshold rises.

# %%
thresholds = np.linspace(0.3, 0.95, 8 if FAST else 27)
counts = [sum(int((p >= t).sum()) for _, p in trace["pnet_maps"]) for t in thresholds]
fig, ax = plt.subplots(figsize=(6, 3))
ax.semilogy(thresholds, counts, marker="o")
ax.axvline(0.6, color="red", ls="--", label="default 0.6")
ax.set_xlabel("P-Net threshold")
ax.set_ylabel("cells kept (all levels)")
ax.legend(fontsize="small")
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# ### Your turn 3: choose the threshold
#
# Each P-Net candidate costs an R-Net evaluation. Choose a first threshold with which **at most
# 50 cells** of the astronaut pass, over all pyramid levels (the default 0.6 lets the total printed
# above pass), while the best cell — the face — still passes. Put it in
# `my_threshold`. Then think: why do the authors not use such a high threshold?

# %%
my_threshold = None  # a probability between 0 and 1
# >>> SOLUTION
my_threshold = 0.95
# <<< SOLUTION


# %%
def at_most_50_cells(threshold):
    kept = sum(int((p >= threshold).sum()) for _, p in trace["pnet_maps"])
    best = max(p.max() for _, p in trace["pnet_maps"])
    if best < threshold:
        return False, f"no cell passes any more, not even the face (its best cell has probability {best:.5f})"
    return kept <= 50, f"{kept} cells pass (want at most 50; the default 0.6 lets {counts_at_default} pass)"


counts_at_default = sum(int((p >= 0.6).sum()) for _, p in trace["pnet_maps"])
exercises.check_parameter(
    "3", my_threshold, at_most_50_cells,
    "about 0.93 or more keeps at most 50 cells on this photo. But the astronaut's face is large, sharp and "
    "frontal; a small, blurred or turned face gets lower P-Net scores and would be lost for good — no later "
    "stage can bring back a window P-Net dropped. P-Net's threshold is set for recall; R-Net and O-Net "
    "(thresholds 0.7) remove the false alarms.")

# %% [markdown]
# And the end result of the whole cascade, for orientation (notebooks 04 and 05 go through the
# remaining stages):

# %%
ax = draw_detections(image, faces)
ax.figure.set_size_inches(4.5, 4.5)
plt.show()

# %% [markdown]
# ## Checks
#
# * P-Net on the whole level equals P-Net on each 12 × 12 window (to 1e-5);
# * the map size is `ceil(h/2) − 5`, and the traced maps are P-Net on the pyramid levels (to
#   float32 rounding: the detector may use a faster inference path than `forward`);
# * `heatmap_to_boxes` keeps exactly the cells with `prob ≥ 0.6`, with the box formula above, and
#   boxes about `12 / s` pixels wide;
# * the best cell of the pyramid (found on the level whose window matches the face size) overlaps
#   the final face (IoU > 0.5);
# * the number of candidates never grows with the threshold.

# %%
assert max(window_errors) < 1e-5
for (s, lvl), (s_traced, p_traced) in zip(pyramid, trace["pnet_maps"]):
    assert s == s_traced and p_traced.shape == tuple(int(np.ceil(n / 2)) - 5 for n in lvl.shape[:2])
assert np.allclose(trace["pnet_maps"][face_level][1], prob, rtol=0, atol=1e-5)
assert len(boxes) == int((prob >= 0.6).sum()) and np.all(scores >= 0.6)
assert np.array_equal(boxes[best], by_hand)
assert np.allclose(boxes[:, 2] - boxes[:, 0], 11 / scale, atol=1.0)  # fix((2u+12)/s) - fix((2u+1)/s)

best_level = int(np.argmax([p.max() for _, p in trace["pnet_maps"]]))
s_best, p_best = trace["pnet_maps"][best_level]
v, u = np.unravel_index(np.argmax(p_best), p_best.shape)
cell_box = to_zero_based(np.fix(np.array([[2 * u + 1, 2 * v + 1, 2 * u + 12, 2 * v + 12]]) / s_best))[0]
face = faces.boxes[0]
inter = np.prod(np.clip(np.minimum(cell_box[2:], face[2:]) - np.maximum(cell_box[:2], face[:2]), 0, None))
union = np.prod(cell_box[2:] - cell_box[:2]) + np.prod(face[2:] - face[:2]) - inter
print(f"best cell on level {best_level} (window {12 / s_best:.0f} px), IoU with the face {inter / union:.2f}")
assert 70 < 12 / s_best < 160 and inter / union > 0.5
assert all(a >= b for a, b in zip(counts, counts[1:]))
assert len(faces) == 1
print("all checks passed")
