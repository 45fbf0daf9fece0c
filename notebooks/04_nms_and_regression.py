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
# # 04 · Non-maximum suppression, box regression, squaring and padding
#
# Between the three networks the cascade does a handful of small geometric steps. They are easy
# to overlook and each of them changes the result:
#
# * **non-maximum suppression (NMS)** — many overlapping candidates for one face are reduced to
#   one; in two flavours, `'union'` (IoU) and `'min'`, with the authors' **+1 pixel** convention;
# * **box regression** — every network also predicts how to move the four edges of its input box;
# * **squaring** — R-Net and O-Net take square inputs, so boxes are grown to squares;
# * **truncation and padding** — boxes become integer pixel ranges, and the parts that leave the
#   image are filled with black before resizing.
#
# We first look at NMS on toy boxes, then replay the whole cascade on the astronaut **step by
# step** with the functions of `tinymtcnn.detect.boxes`, `tinymtcnn.detect.crops` and
# `tinymtcnn.kernels.nms`, and check at every stage that our replay gives what the stage
# functions of `tinymtcnn.detect.stages` (`propose`, `refine`, `output`) return. (The stage
# functions may run the nets through a faster inference path than `net.forward`, which we use
# here; the two agree to float32 rounding, so the replay agrees to about 1e-5 pixels.)
#
# **Coordinates.** Inside the cascade boxes follow the authors' MATLAB convention: 1-based,
# inclusive, `(x1, y1, x2, y2)` covers the pixels `x1..x2` — so a box is `x2 − x1 + 1` pixels wide.
# `to_zero_based` converts to the package's public convention (0-based, `x1 ≤ x < x2`) for drawing.
#
# **Your turn.** Three exercises ask you to predict, write or change something. Each gives you a
# placeholder (`my_... = None`, or a function with an empty body): fill it in, then run the check
# cell below it, which says *right*, *wrong* (and why) or *not answered yet*. The sections name the
# **assignment tasks** 4.1, 4.2 and 4.3 that match them (`python tools/make_assignment.py list`):
# in the student copy those functions are yours, and this notebook runs on your code.
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
from tinymtcnn.detect.boxes import (apply_box_regression, square_boxes, to_zero_based, truncate_boxes)
from tinymtcnn.detect.crops import crop_and_resize, pad_boxes
from tinymtcnn.detect.pyramid import iter_pyramid
from tinymtcnn.detect.stages import output, pnet_level, propose, refine
from tinymtcnn.io import load_image
from tinymtcnn.kernels.nms import nms, nms_naive
from tinymtcnn.kernels.resample import resample
from tinymtcnn import exercises
from tinymtcnn.train.samples import box_targets

# >>> SOLUTION
exercises.expect_answers()  # the teacher's version: a check that is not "right" stops the notebook
# <<< SOLUTION

FAST = os.environ.get("TINYMTCNN_FAST", "0") == "1"
# %config InlineBackend.figure_format = 'png'
plt.rcParams.update({"figure.figsize": (8, 4), "figure.dpi": 72})

image = load_image(Path(tinymtcnn.__file__).parent / "assets" / "astronaut.png")
H, W = image.shape[:2]


def draw_boxes(ax, boxes_1based, color, lw=1.0, **kw):
    """Draw M's 1-based inclusive boxes on an imshow axis (pixel centres at integers)."""
    for x1, y1, x2, y2 in to_zero_based(np.asarray(boxes_1based).reshape(-1, 4)):
        ax.add_patch(plt.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, color=color, lw=lw, **kw))


# %% [markdown]
# **Warm-up**: the first detection compiles the Numba kernels (NMS among them) or loads them from
# the disk cache; it takes a few seconds once.

# %%
detector = MTCNN()
start = time.perf_counter()
faces = detector.detect(image)
print(f"warm-up detection: {time.perf_counter() - start:.2f} s, {len(faces)} face(s)")
pnet, rnet, onet = (detector.nets[k] for k in ("pnet", "rnet", "onet"))

# %% [markdown]
# ## 1. Overlap, the +1 way
#
# The authors' `nms.m` counts **pixels**: a box from `x1` to `x2` (inclusive) is `x2 − x1 + 1`
# pixels wide. With `A = (x2 − x1 + 1)(y2 − y1 + 1)` and the intersection counted the same way,
#
# ```
# 'union':  o = inter / (A_i + A_j − inter)      (intersection over union, IoU)
# 'min':    o = inter / min(A_i, A_j)
# ```
#
# Many re-implementations use continuous areas `(x2 − x1)(y2 − y1)` instead. For big boxes the
# difference is negligible; for P-Net's small boxes it is not. Two 12-pixel cell boxes two pixels
# apart:

# %%
def overlap(a, b, mode="union", plus_one=True):
    """Overlap of two boxes (x1, y1, x2, y2), written from the formula above."""
    e = 1.0 if plus_one else 0.0
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]) + e)
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]) + e)
    area_a = (a[2] - a[0] + e) * (a[3] - a[1] + e)
    area_b = (b[2] - b[0] + e) * (b[3] - b[1] + e)
    inter = iw * ih
    return inter / (area_a + area_b - inter) if mode == "union" else inter / min(area_a, area_b)


pair = np.array([[1, 1, 12, 12], [3, 1, 14, 12]], dtype=float)
iou_plus_one = overlap(*pair)
iou_continuous = overlap(*pair, plus_one=False)
print(f"IoU with +1 (pixel counts): {iou_plus_one:.3f}   continuous: {iou_continuous:.3f}")
print("nms(threshold 0.7, 'union') keeps:", nms(pair, np.array([0.9, 0.8]), 0.7, "union"))

# %% [markdown]
# 144-pixel boxes sharing 10 × 12 = 120 pixels: IoU 120 / 168 = 0.714 > 0.7, so the weaker box is
# suppressed. With continuous areas (121 each, intersection 9 × 11 = 99) the IoU is 0.692 < 0.7 and
# both boxes would survive. The two conventions fall on opposite sides of the threshold — one
# reason why different MTCNN ports disagree on small faces.
#
# **'union' vs 'min'.** IoU is small when a small box lies inside a big one; the "min" overlap is
# 1. The final stage of the cascade uses `'min'`, so that a box around part of a face (say, eyes and
# nose) does not survive next to the box around the whole face.

# %%
big, inner = np.array([1, 1, 60, 60.0]), np.array([15, 10, 44, 39.0])
nested = np.stack([big, inner])
print(f"IoU {overlap(big, inner):.3f}, min-overlap {overlap(big, inner, 'min'):.3f}")
print("'union' NMS 0.7 keeps", nms(nested, np.array([0.95, 0.9]), 0.7, "union"),
      "| 'min' NMS 0.7 keeps", nms(nested, np.array([0.95, 0.9]), 0.7, "min"))

# %% [markdown]
# ### Your turn 1: keep both cell boxes
#
# Back to the two 12-pixel cell boxes `pair` (scores 0.9 and 0.8). Choose a `'union'` threshold
# at which NMS keeps **both**, and put it in `my_union_threshold`. What is the smallest threshold
# that works, and why is it not 0.7?

# %%
my_union_threshold = None  # a float between 0 and 1
# >>> SOLUTION
my_union_threshold = 0.75
# <<< SOLUTION


# %%
def keeps_both(threshold):
    kept = nms(pair, np.array([0.9, 0.8]), threshold, "union")
    return len(kept) == 2, f"NMS keeps box(es) {kept.tolist()} of the pair"


exercises.check_parameter(
    "1", my_union_threshold, keeps_both,
    "NMS drops a box whose overlap is > threshold. The pair's IoU counted in pixels (+1) is 120 / 168 = 0.714, "
    "so any threshold from 0.714 up keeps both; 0.7 would be enough only with continuous areas (IoU 0.692).")

# %% [markdown]
# ## 2. Greedy NMS, step by step
#
# The algorithm (`nms.m`, ported as `nms_naive` and as the Numba kernel `nms`):
#
# 1. sort the candidates by score;
# 2. **pick** the best remaining one;
# 3. **drop** every remaining candidate whose overlap with it is `> threshold`;
# 4. repeat until nothing remains. The picks, in order, are the result.
#
# MATLAB's `sort` is stable and the code takes the *last* element of the ascending order, so among
# equal scores the candidate with the **highest index** goes first. We replay it on six boxes.
#
# > **Assignment task 4.1** (greedy NMS): `nms_naive` in `tinymtcnn/kernels/nms.py` — the readable
# > twin of the Numba `nms`, with the +1 areas, both modes and the tie rule; `python -m pytest -m task_4_1`
# > checks it.

# %%
toy = np.array([[10, 10, 50, 50], [14, 12, 54, 52], [8, 14, 46, 52], [60, 20, 90, 50],
                [64, 22, 92, 52], [30, 30, 70, 70]], dtype=float)
toy_scores = np.array([0.9, 0.95, 0.8, 0.7, 0.85, 0.6])

remaining = [int(i) for i in np.argsort(toy_scores, kind="stable")]
steps = []
while remaining:
    pick = remaining.pop()  # the last = highest score
    dropped = [j for j in remaining if overlap(toy[pick], toy[j]) > 0.5]
    remaining = [j for j in remaining if j not in dropped]
    steps.append((pick, dropped))
    print(f"pick box {pick} (score {toy_scores[pick]:.2f}); drops {dropped} "
          f"(IoU {[round(float(overlap(toy[pick], toy[j])), 2) for j in dropped]})")

fig, axes = plt.subplots(1, len(steps) + 1, figsize=(3 * (len(steps) + 1), 2.8))
axes[0].set_title("6 candidates", fontsize="small")
label_at = [(10, 8, "left"), (56, 10, "right"), (8, 60, "left"), (60, 18, "left"), (92, 58, "right"),
            (50, 76, "center")]  # where each box's label goes, away from the others
for k, (x1, y1, x2, y2) in enumerate(toy):
    axes[0].add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color="gray"))
    lx, ly, ha = label_at[k]
    axes[0].text(lx, ly, f"{k}: {toy_scores[k]}", fontsize=7, ha=ha)
gone = set()
for ax, (pick, dropped) in zip(axes[1:], steps):
    gone |= set(dropped)
    for k, (x1, y1, x2, y2) in enumerate(toy):
        color = "tab:green" if k == pick else ("tab:red" if k in dropped else ("none" if k in gone else "lightgray"))
        ls = "--" if k in dropped else "-"
        if color != "none":
            ax.add_patch(plt.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color=color, ls=ls, lw=1.5))
    ax.set_title(f"pick {pick}, drop {dropped}", fontsize="small")
for ax in axes:
    ax.set_xlim(0, 100)
    ax.set_ylim(80, 0)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()
print("nms_naive:", nms_naive(toy, toy_scores, 0.5), " nms (Numba):", nms(toy, toy_scores, 0.5))
print("equal scores -> highest index first:", nms(pair, np.array([0.8, 0.8]), 0.7))

# %% [markdown]
# ### Your turn 2: a lower threshold
#
# Run NMS on the same six `toy` boxes with threshold **0.2** instead of 0.5. Which boxes are kept,
# in the order they are picked? Write the list of indices into `my_kept`. (The drawing above helps;
# `overlap` computes any pair's IoU if you want to make sure.)

# %%
my_kept = None  # your prediction: a list of box indices, in pick order
# >>> SOLUTION
my_kept = [1, 4]
# <<< SOLUTION

# %%
exercises.check_prediction(
    "2", my_kept, lambda: nms(toy, toy_scores, 0.2),
    "box 1 (0.95) is picked first and drops 0, 2 — and now also box 5: their IoU is 575 / 2787 = 0.206, above "
    "0.2. Then box 4 (0.85) drops box 3. A lower threshold suppresses more: two faces close together can be "
    "merged into one.")

# %% [markdown]
# ## 3. The astronaut, stage 1: from P-Net cells to integer squares
#
# `propose(image, pnet)` does the following; we replay it line by line.
#
# 1. P-Net on every pyramid level, cells with `prob ≥ 0.6` become boxes, **NMS 0.5 'union'** per
#    level (`pnet_level`, notebook 03);
# 2. all levels together, **NMS 0.7 'union'**;
# 3. **regression** with P-Net's offsets: every edge moves by its offset times the box size,
#    `x1 + dx1·w, y1 + dy1·h, x2 + dx2·w, y2 + dy2·h`, with `w = x2 − x1` (here *without* the `+1`
#    used everywhere else — a quirk of the authors' code that we keep);
# 4. **squaring** (`rerec.m`): grow the shorter side around the centre,
#    `L = max(w, h)`, `x1 ← x1 + w/2 − L/2`, `x2 ← x1 + L` (and likewise for y);
# 5. **truncation** toward zero (`fix`) — boxes become integer pixel ranges.
#
# > **Assignment task 4.2** (box regression): `apply_box_regression` in `tinymtcnn/detect/boxes.py`,
# > both conventions (`plus_one`); `python -m pytest -m task_4_2`.
# > **Assignment task 4.3** (square boxes): `square_boxes` in the same file (`rerec.m`);
# > `python -m pytest -m task_4_3`.

# %%
level_boxes, level_scores, level_offsets = [], [], []
n_cells = 0
for scale, level in iter_pyramid(image):
    b, s, o, prob = pnet_level(level, scale, pnet, 0.6)
    n_cells += int((prob >= 0.6).sum())
    level_boxes.append(b)
    level_scores.append(s)
    level_offsets.append(o)
boxes = np.concatenate(level_boxes)
scores = np.concatenate(level_scores)
offsets = np.concatenate(level_offsets)
keep = nms(boxes, scores, 0.7, "union")
across = boxes[keep]
regressed = apply_box_regression(across, offsets[keep], plus_one=False)
squared = square_boxes(regressed)
stage1 = truncate_boxes(squared)
print(f"cells >= 0.6: {n_cells} -> per-level NMS: {len(boxes)} -> NMS across levels: {len(across)}")

reference1 = propose(image, pnet)
print("replay == propose():", np.array_equal(stage1, reference1.boxes), np.array_equal(scores[keep], reference1.scores))

fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.8))
for ax, bx, title in zip(axes, (boxes, across, stage1),
                         (f"per-level NMS 0.5: {len(boxes)}", f"NMS 0.7 across levels: {len(across)}",
                          f"regressed, squared, fixed: {len(stage1)}")):
    ax.imshow(image)
    draw_boxes(ax, bx, "yellow", lw=0.6)
    ax.set_title(title, fontsize="small")
    ax.axis("off")
plt.show()

# %% [markdown]
# On this photo the NMS across levels removes nothing: the per-level NMS already thinned the
# candidates, and boxes from different levels rarely overlap by more than 0.7.
#
# ### Regression and squaring on the best candidate
#
# Zoom on the highest-scoring candidate: the P-Net cell box (red), after regression (yellow), and
# after squaring and truncation (cyan) — the box R-Net will see.

# %%
top = int(np.argmax(scores[keep]))
print("cell box     ", across[top], "offsets", np.round(offsets[keep][top], 3))
print("regressed    ", np.round(regressed[top], 2),
      f"(w x h = {regressed[top, 2] - regressed[top, 0]:.1f} x {regressed[top, 3] - regressed[top, 1]:.1f})")
print("squared      ", np.round(squared[top], 2),
      f"(side {squared[top, 2] - squared[top, 0]:.1f})")
print("fix()        ", stage1[top])
fig, ax = plt.subplots(figsize=(4, 4))
ax.imshow(image)
for bx, color, label in ((across[top], "red", "P-Net cell"), (regressed[top], "yellow", "regressed"),
                         (stage1[top], "cyan", "squared + fix")):
    draw_boxes(ax, bx, color, lw=2, label=label)
ax.set_xlim(140, 320)
ax.set_ylim(220, 40)
ax.legend(fontsize="small", loc="lower right")
ax.axis("off")
plt.show()

# %% [markdown]
# ### Your turn 3: regression backwards
#
# Training needs the opposite of regression: given a box and the face it should become, which
# offsets would move it there? Write `my_offsets(boxes, targets)` for the stage-1 convention
# (`w = x2 − x1`, `h = y2 − y1`, no `+1`), so that
# `apply_box_regression(boxes, my_offsets(boxes, targets), plus_one=False)` gives `targets` back.
# The check compares it with the training code's `box_targets` (notebook 06 uses them).

# %%
def my_offsets(boxes, targets):
    """Offsets (K, 4) that move boxes (K, 4) onto targets (K, 4), in units of the box width / height."""
    # your code here (about 3 lines)
    # >>> SOLUTION
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    return (targets - boxes) / np.stack([w, h, w, h], axis=1)
    # <<< SOLUTION


# %%
def random_boxes_and_faces(rng):
    corner = rng.uniform(0, 400, (6, 2))
    side = rng.uniform(12, 200, (6, 1))
    boxes = np.concatenate([corner, corner + side], axis=1)
    return boxes, boxes + rng.normal(0, 0.2, (6, 4)) * np.repeat(side, 4, axis=1)


exercises.check_function(
    "3", my_offsets, box_targets, exercises.seeded(random_boxes_and_faces),
    explanation="regression computes x1 + dx1 · w, so dx1 = (target x1 − x1) / w, and likewise for every edge "
                "(x edges by the width, y edges by the height). These are the numbers a network is trained to "
                "output for a crop (notebook 06).")

# %% [markdown]
# ## 4. Padding: boxes that leave the image
#
# After squaring, some boxes stick out of the photo. The authors' `pad.m` does **not** clip them
# (that would change their shape): it allocates a `(y2 − y1 + 1) × (x2 − x1 + 1)` array of zeros
# (black), copies the part of the box that lies inside the image into it, and resizes the result.
# `pad_boxes` computes the source and destination rectangles (1-based, inclusive — M's names);
# `crop_and_resize` does the copy and the resize (area average when shrinking, notebook 01) and
# normalises.

# %%
outside = np.flatnonzero((stage1[:, 0] < 1) | (stage1[:, 1] < 1) | (stage1[:, 2] > W) | (stage1[:, 3] > H))
k = outside[np.argmax(stage1[outside, 2] - stage1[outside, 0])]  # the biggest box that leaves the image
box = stage1[k:k + 1]
regions = pad_boxes(box, H, W)
print("box (1-based, inclusive):", box[0], f"-> a {regions.crop_height[0]} x {regions.crop_width[0]} crop")
print(f"  image rows {regions.y[0]}..{regions.ey[0]}, cols {regions.x[0]}..{regions.ex[0]}  ->  "
      f"crop rows {regions.dy[0]}..{regions.edy[0]}, cols {regions.dx[0]}..{regions.edx[0]}")
crop24 = crop_and_resize(image, box, 24)[0]
crop48 = crop_and_resize(image, box, 48)[0]


def to_pixels(crop):
    """(3, s, s) normalised crop -> (s, s, 3) uint8 for display."""
    return np.clip(crop.transpose(1, 2, 0) / 0.0078125 + 127.5, 0, 255).astype(np.uint8)


fig, axes = plt.subplots(1, 3, figsize=(9, 3))
axes[0].imshow(image)
draw_boxes(axes[0], box, "cyan", lw=2)
axes[0].set_xlim(-60, W + 60)
axes[0].set_ylim(H + 60, -60)
axes[0].set_title("a stage-1 box leaving the image", fontsize="small")
axes[1].imshow(to_pixels(crop24), interpolation="nearest")
axes[1].set_title("24x24 crop for R-Net", fontsize="small")
axes[2].imshow(to_pixels(crop48), interpolation="nearest")
axes[2].set_title("48x48 crop for O-Net", fontsize="small")
for ax in axes[1:]:
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 5. Stage 2: R-Net
#
# `refine(image, boxes, rnet)`:
#
# 1. crop every stage-1 box to 24 × 24 (with padding), run R-Net;
# 2. keep the boxes with `prob > 0.7` (strict `>`), and take R-Net's probability as the new score;
# 3. **NMS 0.7 'union'** on the kept boxes, *before* regression;
# 4. regression with R-Net's offsets, now with `w = x2 − x1 + 1` (`bbreg.m`);
# 5. squaring (no truncation yet — that happens at the start of stage 3).
#
# A sample of the crops R-Net sees, with its face probability:

# %%
crops24 = crop_and_resize(image, stage1, 24)
out2 = rnet.forward(crops24)
prob2 = out2["face_prob"].astype(np.float64)
order = np.argsort(-prob2, kind="stable")
show = np.concatenate([order[:8], order[len(order) // 2:len(order) // 2 + 4], order[-4:]])
fig, axes = plt.subplots(2, 8, figsize=(10, 3))
for ax, i in zip(axes.ravel(), show):
    ax.imshow(to_pixels(crops24[i]), interpolation="nearest")
    ax.set_title(f"{prob2[i]:.3f}", fontsize="small", color="green" if prob2[i] > 0.7 else "red")
    ax.axis("off")
fig.suptitle(f"R-Net on {len(stage1)} crops: best 8, middle 4, worst 4 (green: > 0.7)", fontsize="small")
plt.show()

passed = prob2 > 0.7
b2, s2, o2 = stage1[passed], prob2[passed], out2["box_reg"][passed].astype(np.float64)
keep2 = nms(b2, s2, 0.7, "union")
stage2 = square_boxes(apply_box_regression(b2[keep2], o2[keep2], plus_one=True))
reference2 = refine(image, stage1, rnet)
print(f"{len(stage1)} boxes -> prob > 0.7: {int(passed.sum())} -> NMS 0.7: {len(keep2)}")
print(f"replay vs refine(): boxes differ by {np.abs(stage2 - reference2.boxes).max():.1e} px, "
      f"scores by {np.abs(s2[keep2] - reference2.scores).max():.1e}")

# %% [markdown]
# ## 6. Stage 3: O-Net and the final 'min' NMS
#
# `output(image, boxes, onet)`: truncate, crop to 48 × 48, run O-Net, keep `prob > 0.7`, decode
# the landmarks relative to the **input** box (notebook 05), regress (`+1`), and finally NMS 0.7
# with **'min'** — on the *regressed* boxes this time.

# %%
b3 = truncate_boxes(stage2)
out3 = onet.forward(crop_and_resize(image, b3, 48))
prob3 = out3["face_prob"].astype(np.float64)
passed3 = prob3 > 0.7
final_candidates = apply_box_regression(b3[passed3], out3["box_reg"][passed3].astype(np.float64), plus_one=True)
keep3 = nms(final_candidates, prob3[passed3], 0.7, "min")
final = final_candidates[keep3]
reference3 = output(image, stage2, onet)
print(f"O-Net probabilities: {np.round(prob3, 3)}")
print(f"{len(b3)} boxes -> prob > 0.7: {int(passed3.sum())} -> NMS 0.7 'min': {len(final)}")
print(f"replay vs output(): boxes differ by {np.abs(final - reference3.boxes).max():.1e} px")
print("final box (0-based, public):", np.round(to_zero_based(final), 2), " MTCNN.detect():", np.round(faces.boxes, 2))

fig, axes = plt.subplots(1, 2, figsize=(8, 4))
for ax, bx, title in ((axes[0], stage2, f"after R-Net: {len(stage2)}"),
                      (axes[1], final_candidates, f"O-Net > 0.7, regressed: {len(final_candidates)}")):
    ax.imshow(image)
    draw_boxes(ax, bx, "orange", lw=1)
    ax.set_title(title, fontsize="small")
draw_boxes(axes[1], final, "cyan", lw=2.5)
for ax in axes:
    ax.set_xlim(120, 330)
    ax.set_ylim(230, 20)
    ax.axis("off")
plt.show()
print("min-overlap of the other candidates with the final box:",
      np.round([overlap(final[0], c, "min") for c in final_candidates], 2))

# %% [markdown]
# ## Checks
#
# * the +1 IoU of the two cell boxes is 120/168 and is above 0.7, the continuous one below;
# * a nested box survives 'union' NMS and not 'min' NMS; the greedy replay, `nms_naive` and the
#   Numba `nms` pick the same boxes in the same order; ties go to the highest index;
# * squaring gives squares with the same centre, regression moves edges by offset × size;
# * the step-by-step replay of all three stages equals `propose` (exactly: integer boxes),
#   `refine` and `output` (to 1e-3 px), and the final box is the one of `MTCNN.detect`;
# * the padded crop equals a hand-made one (zeros + the in-image part copied with `pad_boxes`'
#   rectangles, then resampled), and is black (`−0.996` after normalisation) where the box leaves
#   the image.

# %%
assert np.isclose(iou_plus_one, 120 / 168) and iou_plus_one > 0.7 > iou_continuous
assert np.array_equal(nms(pair, np.array([0.9, 0.8]), 0.7, "union"), [0])
assert len(nms(nested, np.array([0.95, 0.9]), 0.7, "union")) == 2
assert np.array_equal(nms(nested, np.array([0.95, 0.9]), 0.7, "min"), [0])
assert [p for p, _ in steps] == list(nms(toy, toy_scores, 0.5)) == list(nms_naive(toy, toy_scores, 0.5))
assert np.array_equal(nms(pair, np.array([0.8, 0.8]), 0.7), [1])

sq = square_boxes(regressed)
assert np.allclose(sq[:, 2] - sq[:, 0], sq[:, 3] - sq[:, 1])
assert np.allclose(sq[:, :2] + sq[:, 2:], regressed[:, :2] + regressed[:, 2:])  # same centres
w = across[:, 2] - across[:, 0]
assert np.allclose(regressed[:, 0], across[:, 0] + offsets[keep][:, 0] * w)

assert np.array_equal(stage1, reference1.boxes) and np.array_equal(scores[keep], reference1.scores)
assert np.allclose(stage2, reference2.boxes, rtol=0, atol=1e-3)
assert np.allclose(s2[keep2], reference2.scores, rtol=0, atol=1e-5)
assert np.allclose(final, reference3.boxes, rtol=0, atol=1e-3)
assert np.allclose(to_zero_based(final), faces.boxes, rtol=0, atol=1e-3)

# the padded crop by hand: zeros, the in-image part copied in (pad_boxes' rectangles), then resampled
r = regions
padded = np.zeros((r.crop_height[0], r.crop_width[0], 3))
padded[r.dy[0] - 1:r.edy[0], r.dx[0] - 1:r.edx[0]] = image[r.y[0] - 1:r.ey[0], r.x[0] - 1:r.ex[0]]
by_hand48 = ((resample(padded, 48, 48) - 127.5) * 0.0078125).transpose(2, 0, 1)
assert np.allclose(by_hand48, crop48, atol=1e-4)
assert r.edx[0] - r.dx[0] == r.ex[0] - r.x[0] and r.edy[0] - r.dy[0] == r.ey[0] - r.y[0]
side = r.crop_height[0]
black_rows = [row for row in range(48) if row * side / 48 >= r.edy[0]]  # entirely below the image
black_cols = [col for col in range(48) if (col + 1) * side / 48 <= r.dx[0] - 1]  # entirely left of it
assert black_rows or black_cols
assert np.all(crop48[:, black_rows, :] == np.float32(-0.99609375))
assert np.all(crop48[:, :, black_cols] == np.float32(-0.99609375))
print("all checks passed")
