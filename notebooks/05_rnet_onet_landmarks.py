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
# # 05 · R-Net, O-Net and the five landmarks
#
# P-Net proposes (notebook 03); the two bigger networks decide. **R-Net** ("refine") looks at a
# 24 × 24 crop of every proposal and throws most of them away; **O-Net** ("output") looks at a
# 48 × 48 crop of the survivors, gives the final score and box, and also predicts **five facial
# landmarks**: left eye, right eye, nose, left and right mouth corner.
#
# This notebook covers
#
# 1. the two architectures and what each stage costs;
# 2. O-Net's landmark output and how it is decoded into image coordinates;
# 3. the three landmark modes of `MTCNN(landmarks=...)`: `"onet"` (the 2016 release),
#    `"mirror"` (the authors' 2017 update: average with O-Net on the mirrored crop) and `"refine"`
#    (MTCNNv2: a fourth network, LNet, moves each point);
# 4. face **alignment** with `tinymtcnn.align`: the landmarks map each face onto a standard
#    112 × 112 template.
#
# **Your turn.** Two exercises ask you to predict and to write something. Each gives you a
# placeholder (`my_... = None`, or a function with an empty body): fill it in, then run the check
# cell below it, which says *right*, *wrong* (and why) or *not answered yet*. Nothing here is a
# graded assignment task, but the cascade this notebook runs uses tasks 3.1 and 4.1–4.3
# (`python tools/make_assignment.py list`): in the student copy it runs on your code for those.

# %%
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

import tinymtcnn
from tinymtcnn import MTCNN, load_net
from tinymtcnn.align import ARCFACE_TEMPLATE_112, align_faces, similarity_transform
from tinymtcnn.detect.boxes import decode_landmarks, mirror_landmarks, points_to_zero_based
from tinymtcnn.detect.crops import crop_and_resize
from tinymtcnn.detect.result import LANDMARK_NAMES
from tinymtcnn.detect.stages import output, propose, refine
from tinymtcnn.io import load_image
from tinymtcnn.viz import LANDMARK_COLORS, draw_detections
from tinymtcnn import exercises

# >>> SOLUTION
exercises.expect_answers()  # the teacher's version: a check that is not "right" stops the notebook
# <<< SOLUTION

FAST = os.environ.get("TINYMTCNN_FAST", "0") == "1"
# %config InlineBackend.figure_format = 'png'
plt.rcParams.update({"figure.figsize": (8, 4), "figure.dpi": 72})

image = load_image(Path(tinymtcnn.__file__).parent / "assets" / "astronaut.png")
H, W = image.shape[:2]


def to_pixels(crop):
    """(3, s, s) normalised crop -> (s, s, 3) uint8 for display."""
    return np.clip(crop.transpose(1, 2, 0) / 0.0078125 + 127.5, 0, 255).astype(np.uint8)


def scatter_landmarks(ax, points, marker="o", size=40):
    edge = {} if marker in ("x", "+") else {"edgecolors": "white", "linewidths": 0.6}  # line markers have no edge
    for k, name in enumerate(LANDMARK_NAMES):
        ax.scatter(*points[k], s=size, marker=marker, c=LANDMARK_COLORS[name], label=name.replace("_", " "),
                   zorder=3, **edge)


# %% [markdown]
# **Warm-up**: the first detection compiles the Numba kernels or loads them from the disk cache
# (seconds, once). We also build one detector per landmark mode.

# %%
detectors = {mode: MTCNN(landmarks=mode) for mode in ("onet", "mirror", "refine")}
for attempt in ("first", "second"):
    start = time.perf_counter()
    faces = detectors["onet"].detect(image)
    print(f"{attempt} detection: {time.perf_counter() - start:.2f} s -> {faces}")
pnet, rnet, onet = (detectors["onet"].nets[k] for k in ("pnet", "rnet", "onet"))

# %% [markdown]
# ## 1. Two classifiers for fixed-size crops
#
# R-Net and O-Net are ordinary small CNNs: convolutions and ceil-mode max pools (notebook 02)
# shrink the crop to a small stack of feature maps, which is flattened into a fully connected
# layer shared by the heads. O-Net is about four times bigger and sees four times as many pixels.
# Its `drop5` layer is dropout, active only during training.

# %%
print(rnet, "\n")
print(onet)


def trunk_shapes(net, size):
    """The trunk's layers run by hand (each module's infer) on one crop in the layers' layout
    (C, H, W, N); the shape of the sample after each layer, channels first."""
    x = np.zeros((3, size, size, 1), np.float32)
    shapes = []
    for name, layer in net.trunk:
        x = layer.infer(x)
        if not name.lower().startswith(("prelu", "drop")):
            shapes.append(f"{name} {tuple(x.shape[:-1])}")
    return shapes


print("\nR-Net:", " -> ".join(trunk_shapes(rnet, 24)))
print("O-Net:", " -> ".join(trunk_shapes(onet, 48)))

# %% [markdown]
# The same two nets as pictures, drawn from the net objects (`tinymtcnn.viz.draw_net`):

# %%
from tinymtcnn.viz import draw_net

for net in (rnet, onet):
    draw_net(net)
    plt.show()

# %% [markdown]
# ### Why a cascade? What each stage costs
#
# Each stage works on fewer candidates than the one before, with a bigger network. We run the
# three stage functions of `tinymtcnn.detect.stages` by hand and time them (best of a few runs;
# the numbers depend on the machine), and compare with what skipping R-Net would cost: O-Net on
# every P-Net candidate.

# %%
def best_time(fn, repeats=2 if FAST else 4):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


t1, s1 = best_time(lambda: propose(image, pnet))
t2, s2 = best_time(lambda: refine(image, s1.boxes, rnet))
t3, s3 = best_time(lambda: output(image, s2.boxes, onet))
t_skip, s_skip = best_time(lambda: output(image, s1.boxes, onet))
print(f"P-Net on the pyramid            {t1 * 1e3:7.1f} ms -> {len(s1.boxes)} candidates")
print(f"R-Net on {len(s1.boxes)} crops of 24x24     {t2 * 1e3:7.1f} ms -> {len(s2.boxes)} candidates")
print(f"O-Net on {len(s2.boxes)} crops of 48x48       {t3 * 1e3:7.1f} ms -> {len(s3.boxes)} face(s)")
print(f"without R-Net: O-Net on {len(s1.boxes)} crops {t_skip * 1e3:7.1f} ms -> {len(s_skip.boxes)} face(s)")

# %% [markdown]
# R-Net is the cheap filter that spares O-Net — four times bigger, on four times as many pixels
# per crop — from running on every proposal. On a photo with a crowd (thousands of P-Net
# candidates) the difference grows accordingly. The same counts as a picture of the cascade
# (`tinymtcnn.viz.draw_cascade`, from `MTCNN.trace`):

# %%
from tinymtcnn.viz import draw_cascade

detector = detectors["onet"]
fig = draw_cascade(detector.trace(image), pnet_threshold=detector.thresholds[0])
plt.show()

# %% [markdown]
# ## 2. O-Net's landmarks
#
# O-Net's third head outputs 10 numbers per crop: the five x coordinates, then the five y
# coordinates (**planar** layout `x1..x5, y1..y5`), in units of the crop: 0 = left/top edge,
# 1 = right/bottom edge. Here is the face crop O-Net saw (the input box of the final face, before
# O-Net's own box regression) with the raw output drawn on it.

# %%
in_box = s3.input_boxes[:1]  # M's 1-based inclusive box, integer (truncated)
crop48 = crop_and_resize(image, in_box, 48)
raw = onet.forward(crop48)["landmarks"].astype(np.float64)  # (1, 10)
print("input box (1-based):", in_box[0], " O-Net landmarks (x1..x5, y1..y5):", np.round(raw[0], 3))

fig, ax = plt.subplots(figsize=(3.5, 3.5))
ax.imshow(to_pixels(crop48[0]), extent=(0, 1, 1, 0))  # draw the crop in crop units
scatter_landmarks(ax, np.stack([raw[0, :5], raw[0, 5:]], axis=1))
ax.set_title("O-Net output in crop units", fontsize="small")
ax.legend(fontsize="x-small", loc="lower right")
plt.show()

# %% [markdown]
# Decoding (`decode_landmarks`, spec §5.4) scales by the box size, `w = x2 − x1 + 1`, and adds the
# box corner, in MATLAB's 1-based pixels like the boxes: `l = 0` is the centre of the box's first
# pixel `x1`. The authors' code writes one more `− 1`: it turns the 1-based pixels into 0-based ones.
# The package keeps boxes and points 1-based inside the cascade and does that `− 1`
# (`points_to_zero_based`, with `to_zero_based` for the boxes) once, at the end:
#
# ```
# X_j = x1 + w · l_j − 1          Y_j = y1 + h · l_{5+j} − 1
# ```

# %%
x1, y1, x2, y2 = in_box[0]
by_hand = np.stack([x1 + (x2 - x1 + 1) * raw[0, :5] - 1, y1 + (y2 - y1 + 1) * raw[0, 5:] - 1], axis=1)
decoded = points_to_zero_based(decode_landmarks(in_box, raw))[0]
for name, (px, py) in zip(LANDMARK_NAMES, decoded):
    print(f"{name:12s} x = {px:7.2f}  y = {py:7.2f}")
print("by hand == decode_landmarks:", np.allclose(by_hand, decoded),
      "| == MTCNN.detect:", np.allclose(decoded, faces.landmarks[0], atol=1e-3))

# %% [markdown]
# ### Your turn 1: decode a point by hand
#
# An input box `(x1, y1, x2, y2) = (101, 51, 200, 150)` (1-based, inclusive) and an O-Net output of
# `0.5` for all ten numbers — every point in the middle of the crop. Where does the left eye land
# in the photo (0-based pixel coordinates)? Write `(x, y)` into `my_point`.

# %%
my_point = None  # your prediction: a tuple (x, y)
# >>> SOLUTION
my_point = (150.0, 100.0)
# <<< SOLUTION

# %%
exercises.check_prediction(
    "1", my_point,
    lambda: tuple(points_to_zero_based(decode_landmarks(np.array([[101.0, 51, 200, 150]]),
                                                        np.full((1, 10), 0.5)))[0, 0]),
    "the box is x2 − x1 + 1 = 100 pixels wide and high, so X = 101 + 100 · 0.5 − 1 = 150 and "
    "Y = 51 + 100 · 0.5 − 1 = 100: the −1 turns MATLAB's 1-based pixel 151 into the 0-based pixel 150.",
    tolerance=1e-9)

# %% [markdown]
# **Left is image-left.** "Left eye" is the eye with the smaller x — the person's *right* eye.
# That is the convention of the authors' release (and of most face datasets built from it).
# `tinymtcnn.viz.draw_detections` draws the five points with one colour each:

# %%
ax = draw_detections(image, faces)
ax.set_xlim(150, 300)
ax.set_ylim(200, 40)
ax.figure.set_size_inches(4, 4)
plt.show()

# %% [markdown]
# **An unused head.** The authors' `det2.caffemodel` also contains a landmark head for R-Net
# (`conv5-3`), which their prototxt does not declare and the detector never uses. The package can
# load it (`load_net("rnet", landmark_head=True)`); on a 24 × 24 crop it is, unsurprisingly, less
# precise than O-Net:

# %%
rnet_lm = load_net("rnet", landmark_head=True)
rnet_raw = rnet_lm.forward(crop_and_resize(image, in_box, 24))["landmarks"]
rnet_points = points_to_zero_based(decode_landmarks(in_box, rnet_raw))[0]
print("R-Net conv5-3 vs O-Net landmarks, distance per point (px):",
      np.round(np.linalg.norm(rnet_points - decoded, axis=1), 1))

# %% [markdown]
# ## 3. Three landmark modes
#
# **`"mirror"`** (the authors' MTCNNv1 after 2017). Run O-Net a second time on the horizontally
# flipped crop, map its answer back and average the two. Mapping back means `x ↦ 1 − x` in crop
# units **and swapping the names**: the flipped crop's "left eye" is the original right eye, and
# likewise for the mouth corners (`mirror_landmarks`). Averaging two estimates whose errors are
# partly independent reduces the noise, and makes the result less dependent on which way the face
# is turned.

# %%
flipped = np.ascontiguousarray(crop48[..., ::-1])
raw_flipped = onet.forward(flipped)["landmarks"].astype(np.float64)
back = mirror_landmarks(raw_flipped)
averaged = 0.5 * (raw + back)
print("O-Net on the crop         :", np.round(raw[0], 3))
print("on the flipped crop       :", np.round(raw_flipped[0], 3))
print("flipped, mapped back      :", np.round(back[0], 3))
mirror_points = points_to_zero_based(decode_landmarks(in_box, averaged))[0]

# %% [markdown]
# ### Your turn 2: map a mirrored answer back
#
# Write `my_mirror_landmarks(raw)`: O-Net's output `(N, 10)` on horizontally flipped crops (planar
# `x1..x5, y1..y5`, crop units) mapped back to the original crop. Remember both steps: `x ↦ 1 − x`,
# and the names swap (left eye ↔ right eye, left mouth corner ↔ right mouth corner; the nose stays).
# The check compares it with `mirror_landmarks` on random outputs.

# %%
def my_mirror_landmarks(raw):
    """(N, 10) landmarks of mirrored crops -> the same points in the unmirrored crops."""
    # your code here (about 3 lines)
    # >>> SOLUTION
    order = [1, 0, 2, 4, 3]  # left eye, right eye, nose, left mouth, right mouth after the swap
    return np.concatenate([1 - raw[:, :5][:, order], raw[:, 5:][:, order]], axis=1)
    # <<< SOLUTION


# %%
def random_landmark_outputs(rng):
    return (rng.uniform(0, 1, (int(rng.integers(1, 8)), 10)),)


exercises.check_function(
    "2", my_mirror_landmarks, mirror_landmarks, exercises.seeded(random_landmark_outputs),
    explanation="flipping mirrors x (x ↦ 1 − x in crop units) and leaves y alone; the point O-Net calls 'left eye' "
                "in the flipped crop is the right eye of the original, so the eyes and the mouth corners swap "
                "places (order 1, 0, 2, 4, 3) in both the x and the y half.")

# %% [markdown]
# **`"refine"`** (MTCNNv2). A fourth network, LNet (the authors' `det4`), looks at a small patch
# around each of O-Net's five points and says where inside the patch the point really is. The
# patch side is `P = fix(0.25 · max(w, h))` of the final box (made even); each patch is cropped
# (with zero padding), resized to 24 × 24, and the five patches are stacked into 15 channels.
# LNet's output `(ox, oy)` per point (patch units) moves the point to `X − P/2 + ox · P`; moves
# of more than 0.35 patch from the centre are ignored ("do not make a large movement").

# %%
final_box = s3.boxes[0]
side = max(final_box[2] - final_box[0] + 1, final_box[3] - final_box[1] + 1)
P = np.fix(0.25 * side)
P += P % 2
refined = detectors["refine"].detect(image).landmarks[0]
onet_points = faces.landmarks[0]

fig, axes = plt.subplots(1, 5, figsize=(10, 2.4))
for k, (ax, name) in enumerate(zip(axes, LANDMARK_NAMES)):
    X, Y = onet_points[k]
    px1, py1 = np.fix(X - P / 2), np.fix(Y - P / 2)  # 1-based corner of the patch box
    patch = crop_and_resize(image, np.array([[px1, py1, px1 + P, py1 + P]]), 24)[0]
    ax.imshow(to_pixels(patch), interpolation="nearest")
    to_patch = lambda x, corner: (x - (corner - 1) + 0.5) * 24 / (P + 1) - 0.5  # noqa: E731  0-based px -> patch px
    ax.scatter(to_patch(X, px1), to_patch(Y, py1), marker="o", s=60, facecolors="none",
               edgecolors=LANDMARK_COLORS[name], linewidths=2, label="O-Net")
    ax.scatter(to_patch(refined[k, 0], px1), to_patch(refined[k, 1], py1), marker="x", s=60,
               c=LANDMARK_COLORS[name], label="LNet")
    ax.set_title(name.replace("_", " "), fontsize="small")
    ax.axis("off")
axes[0].legend(fontsize="x-small", loc="lower left")
fig.suptitle(f"LNet patches: P = {P:.0f} px around each O-Net point, resized to 24x24", fontsize="small")
plt.show()

# %% [markdown]
# ### The three modes side by side
#
# Circles: `"onet"`, squares: `"mirror"`, crosses: `"refine"`. The three agree to one or two
# pixels on this face — the modes matter for precision benchmarks, not for finding the face.

# %%
modes = {mode: detectors[mode].detect(image) for mode in detectors}
fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.imshow(image)
for mode, marker in (("onet", "o"), ("mirror", "s"), ("refine", "x")):
    scatter_landmarks(ax, modes[mode].landmarks[0], marker=marker, size=50)
ax.set_xlim(190, 260)
ax.set_ylim(150, 90)
ax.set_title("landmarks: o onet, □ mirror, x refine", fontsize="small")
plt.show()
print(f"{'':12s} {'mirror - onet':>14s} {'refine - onet':>14s}   (px)")
for k, name in enumerate(LANDMARK_NAMES):
    d_mirror = np.linalg.norm(modes["mirror"].landmarks[0, k] - modes["onet"].landmarks[0, k])
    d_refine = np.linalg.norm(modes["refine"].landmarks[0, k] - modes["onet"].landmarks[0, k])
    print(f"{name:12s} {d_mirror:14.2f} {d_refine:14.2f}")

# %% [markdown]
# ### A consistency test: detect on the mirrored photo
#
# A good landmark detector should give the mirror image of its answer on the mirrored photo. We
# flip the photo, detect, flip the points back (`x ↦ W − 1 − x`) and swap left and right. The
# boxes of the two runs are not exactly mirror images (the pyramid, P-Net and the crops are not
# symmetric), so no mode is exactly consistent; the differences are a pixel or two, on a face
# about 90 pixels wide.

# %%
mirror_photo = np.ascontiguousarray(image[:, ::-1])
swap = [1, 0, 2, 4, 3]
consistency = {}
for mode, det in detectors.items():
    on_flipped = det.detect(mirror_photo).landmarks[0]
    back_points = np.stack([W - 1 - on_flipped[:, 0], on_flipped[:, 1]], axis=1)[swap]
    consistency[mode] = np.linalg.norm(back_points - modes[mode].landmarks[0], axis=1)
    print(f"{mode:7s} distance original vs flipped-back, per point (px): {np.round(consistency[mode], 2)}")

# %% [markdown]
# ## 4. Face alignment
#
# Face recognition networks expect faces in a standard pose: eyes level, at fixed positions. With
# five landmarks this is a least-squares problem: find the **similarity transform** (rotation,
# uniform scale, translation — no shear, no reflection) that maps the five points as closely as
# possible onto a template, here the usual 112 × 112 ArcFace template (`ARCFACE_TEMPLATE_112`).
# `similarity_transform` solves it in closed form (Umeyama, 1991); `align_faces` warps the image
# through it (bilinear).
#
# To see what alignment does, we also rotate the photo by 20° and align its face too: the two
# aligned crops should look alike.

# %%
angle = 20
rotated = np.asarray(Image.fromarray(image).rotate(angle, resample=Image.BILINEAR))
faces_rotated = detectors["onet"].detect(rotated)
aligned = align_faces(image, faces)[0]
aligned_rotated = align_faces(rotated, faces_rotated)[0]

matrix = similarity_transform(faces.landmarks[0], ARCFACE_TEMPLATE_112)
mapped = faces.landmarks[0] @ matrix[:, :2].T + matrix[:, 2]
scale = np.sqrt(abs(np.linalg.det(matrix[:, :2])))
rotation = np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0]))
print(f"similarity: scale {scale:.3f}, rotation {rotation:.1f} deg; residual per point (px): "
      f"{np.round(np.linalg.norm(mapped - ARCFACE_TEMPLATE_112, axis=1), 1)}")


def eye_angle(points):
    return np.degrees(np.arctan2(points[1, 1] - points[0, 1], points[1, 0] - points[0, 0]))


print(f"eye-line angle: photo {eye_angle(faces.landmarks[0]):.1f} deg, "
      f"rotated photo {eye_angle(faces_rotated.landmarks[0]):.1f} deg")

fig, axes = plt.subplots(1, 4, figsize=(10, 2.8))
draw_detections(image, faces, ax=axes[0], show_scores=False)
draw_detections(rotated, faces_rotated, ax=axes[1], show_scores=False)
for ax in axes[:2]:
    ax.get_legend().remove()
axes[0].set_title("photo", fontsize="small")
axes[1].set_title(f"rotated {angle} deg", fontsize="small")
for ax, crop, title in ((axes[2], aligned, "aligned"), (axes[3], aligned_rotated, "aligned (rotated photo)")):
    ax.imshow(crop)
    ax.scatter(*ARCFACE_TEMPLATE_112.T, c=[LANDMARK_COLORS[n] for n in LANDMARK_NAMES], marker="+", s=60)
    ax.set_title(title, fontsize="small")
    ax.axis("off")
plt.show()
similarity = np.corrcoef(aligned.astype(float).ravel(), aligned_rotated.astype(float).ravel())[0, 1]
print(f"correlation of the two aligned crops: {similarity:.3f}")

# %% [markdown]
# The crosses are the template positions: after alignment the eyes, nose and mouth corners of
# both crops sit on (or within a few pixels of) them, although the face in the second photo was
# tilted by 20°.
#
# ## Checks
#
# * R-Net and O-Net have the authors' parameter counts (spec §1.6) and flatten 576 / 1152 values;
# * the cascade shrinks the candidate count at every stage;
# * decoding by hand equals `decode_landmarks` and `MTCNN.detect`; left eye and left mouth corner
#   have the smaller x; all points lie inside the face box;
# * `mirror_landmarks` is an involution, and the `"mirror"` mode is the average of the two passes;
# * the three modes agree within 3 px; `"refine"` moves each coordinate by at most `0.35 · P`;
# * the mirrored-photo test is consistent within 3 px;
# * alignment maps the landmarks to within 8 px of the template, levels the eyes (|angle| < 5°)
#   in both crops, and the two aligned crops are strongly correlated (> 0.9).

# %%
assert rnet.num_params() == 100_178 and onet.num_params() == 389_040
assert "flatten (576,)" in trunk_shapes(rnet, 24) and "flatten (1152,)" in trunk_shapes(onet, 48)
assert len(s1.boxes) > len(s2.boxes) > len(s3.boxes) == 1

assert np.allclose(by_hand, decoded) and np.allclose(decoded, faces.landmarks[0], atol=1e-3)
lm = faces.landmarks[0]
assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0]  # left = image-left (smaller x)
assert lm[2, 1] > lm[:2, 1].max() and lm[3:, 1].min() > lm[2, 1]  # nose below the eyes, mouth below the nose
bx = faces.boxes[0]
assert np.all((lm[:, 0] > bx[0]) & (lm[:, 0] < bx[2]) & (lm[:, 1] > bx[1]) & (lm[:, 1] < bx[3]))

assert np.allclose(mirror_landmarks(mirror_landmarks(raw)), raw)
assert np.allclose(mirror_points, modes["mirror"].landmarks[0], atol=1e-3)
for mode in ("mirror", "refine"):
    assert np.abs(modes[mode].landmarks[0] - modes["onet"].landmarks[0]).max() < 3.0
    assert np.allclose(modes[mode].boxes, modes["onet"].boxes)  # the modes only change the landmarks
assert np.all(np.abs(refined - onet_points) <= 0.35 * P + 1e-9)
assert all(d.max() < 3.0 for d in consistency.values())

assert np.linalg.norm(mapped - ARCFACE_TEMPLATE_112, axis=1).max() < 8.0
aligned_points_rotated = (faces_rotated.landmarks[0] @ similarity_transform(faces_rotated.landmarks[0],
                                                                             ARCFACE_TEMPLATE_112)[:, :2].T)
assert abs(eye_angle(aligned_points_rotated)) < 5 and abs(eye_angle(mapped)) < 5
assert abs(eye_angle(faces_rotated.landmarks[0]) - eye_angle(lm) + angle) < 8  # the photo really was tilted
assert aligned.shape == (112, 112, 3) and similarity > 0.9
print("all checks passed")
