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
# # 01 · The image pyramid
#
# MTCNN's first network, **P-Net**, looks at the image through a fixed **12 × 12 pixel window**.
# A face of 100 pixels does not fit in 12 pixels, so instead of making the window bigger the
# detector makes the *image smaller*: it builds a **pyramid** of shrunken copies and runs P-Net
# on each of them. On a copy shrunk by a factor `s`, the 12-pixel window covers `12 / s` pixels of
# the original photo.
#
# This notebook answers four questions:
#
# 1. **Which scales?** `tinymtcnn.detect.pyramid.pyramid_scales` — the authors' loop.
# 2. **How big is each level?** `level_size` — `ceil(H·s) × ceil(W·s)`.
# 3. **How is an image shrunk?** The authors' resampler (`tinymtcnn.kernels.resample`):
#    area averaging, and why naive subsampling is wrong.
# 4. **What does `min_face_size` mean?** The smallest face the pyramid is built to find, and what
#    it costs.
#
# Everything here uses the installed package (`pip install -e .`); the pictures come from
# `tinymtcnn.viz` or plain matplotlib.
#
# **Your turn.** Three exercises ask you to predict, write or change something. Each gives you a
# placeholder (`my_... = None`, or a function with an empty body): fill it in, then run the check
# cell below it, which says *right*, *wrong* (and why) or *not answered yet*. The pyramid is not one
# of the graded assignment tasks (`python tools/make_assignment.py list`); it is given, and every
# task builds on it.

# %%
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import tinymtcnn
from tinymtcnn import MTCNN
from tinymtcnn.detect.pyramid import build_pyramid, level_size, normalize, pyramid_scales
from tinymtcnn.io import load_image
from tinymtcnn.kernels.resample import axis_weights_naive, resample
from tinymtcnn.viz import show_pyramid
from tinymtcnn import exercises

# >>> SOLUTION
exercises.expect_answers()  # the teacher's version: a check that is not "right" stops the notebook
# <<< SOLUTION

# TINYMTCNN_FAST=1 (as in CI) shrinks the work of the notebook; the explanations do not change.
FAST = os.environ.get("TINYMTCNN_FAST", "0") == "1"
# %config InlineBackend.figure_format = 'png'
plt.rcParams.update({"figure.figsize": (8, 4), "figure.dpi": 72})

ASTRONAUT = Path(tinymtcnn.__file__).parent / "assets" / "astronaut.png"
image = load_image(ASTRONAUT)  # (H, W, 3) uint8 RGB
print("tinymtcnn", tinymtcnn.__version__, "| FAST =", FAST, "| image", image.shape, image.dtype)

# %% [markdown]
# ## Warming up Numba
#
# The fast kernels of the package (resampling, im2col, pooling, NMS, crops) are compiled by
# [Numba](https://numba.pydata.org) the **first time they are called** and cached on disk. The first
# detection after installing the package therefore takes several seconds longer than the
# following ones. We run one tiny detection now, so that no later timing in this notebook
# includes compilation.

# %%
tiny = np.ascontiguousarray(image[::4, ::4])  # 128 x 128
try:
    for attempt in ("first call (compiles or loads the cache)", "second call"):
        start = time.perf_counter()
        MTCNN().detect(tiny)
        print(f"{attempt}: {time.perf_counter() - start:.2f} s")
except NotImplementedError as err:  # a student copy whose tasks are not all done: sections 1-3 still run
    print(f"warm-up stopped early: {err} (not written yet; the cells that need it will say so)")

# %% [markdown]
# ## 1. Which scales?
#
# The authors' `detect_face.m` chooses the scales with a short loop. With `m = 12 / min_face_size`:
#
# ```
# scales = []
# min_side = min(H, W) * m
# while min_side >= 12:
#     scales.append(m * factor**k)      # k = 0, 1, 2, ...
#     min_side *= factor
# ```
#
# * The **first scale** `m` maps a face of `min_face_size` pixels onto the 12-pixel window.
# * Every further level is `factor = 0.709 ≈ 1/√2` times smaller, so it looks for faces
#   `√2 ≈ 1.41` times larger; two levels double the face size.
# * The loop stops before the shorter side of a level drops below 12 pixels: a level smaller
#   than the window cannot hold a single window.
#
# The number of levels is therefore `K = floor(ln(min(H, W) / min_face_size) / ln(1 / factor)) + 1`.

# %%
H, W = image.shape[:2]
scales = pyramid_scales(H, W, min_face_size=20, scale_factor=0.709)
print(f"{len(scales)} levels for a {H}x{W} image, min_face_size=20, factor=0.709\n")
print(" k   scale    level size   one 12-px window = a face of")
for k, s in enumerate(scales):
    h, w = level_size(H, W, s)
    print(f"{k:2d}  {s:.4f}   {h:4d} x {w:<4d}   {12 / s:6.1f} px")

expected_levels = int(np.floor(np.log(min(H, W) / 20) / np.log(1 / 0.709))) + 1
print("\nclosed form K =", expected_levels)

# %% [markdown]
# ### Your turn 1: predict the number of levels
#
# A 640 × 480 photo (width × height), `min_face_size = 40`, the default `factor = 0.709`. How many
# pyramid levels does it get? Work it out from the closed form (a calculator is fine, no
# `pyramid_scales`), write the number into `my_levels`, then run the check.

# %%
my_levels = None  # your prediction: an int
# >>> SOLUTION
my_levels = 8
# <<< SOLUTION

# %%
exercises.check_prediction(
    "1", my_levels, lambda: len(pyramid_scales(480, 640, min_face_size=40)),
    "K = floor(ln(480 / 40) / ln(1 / 0.709)) + 1 = floor(2.485 / 0.344) + 1 = floor(7.23) + 1 = 8. Only the "
    "shorter side counts, and doubling min_face_size removes two levels (0.709² ≈ 1/2).")

# %% [markdown]
# ### Your turn 2: write the scale loop
#
# Write `my_pyramid_scales` from the pseudo-code at the top of this section. The check runs it
# and the package's `pyramid_scales` on a few random image sizes, face sizes and factors, and
# tells you on which inputs and where they differ.

# %%
def my_pyramid_scales(height, width, min_face_size, scale_factor=0.709):
    """Scales of the pyramid levels, largest first (a list of floats)."""
    # your code here (about 7 lines)
    # >>> SOLUTION
    m = 12.0 / min_face_size
    min_side = min(height, width) * m
    result = []
    while min_side >= 12:
        result.append(m * scale_factor ** len(result))
        min_side *= scale_factor
    return result
    # <<< SOLUTION


# %%
def random_pyramid_inputs(rng):
    height, width = (int(n) for n in rng.integers(12, 2000, 2))
    return height, width, float(rng.uniform(8, 80)), float(rng.uniform(0.5, 0.8))


exercises.check_function(
    "2", my_pyramid_scales, pyramid_scales,
    exercises.seeded(random_pyramid_inputs, seeds=range(5)) + [("(19, 400, 20, 0.709)", (19, 400, 20, 0.709))],
    explanation="the loop stops before the shorter side of a level drops below 12 pixels, and an image smaller "
                "than min_face_size gets no level at all (the last input).")

# %% [markdown]
# `level_size` uses `ceil(H·s)`, as the MATLAB code does (`hs = ceil(h*scale)`). Other ports
# use `floor(H·s) + 1` or `floor(H·s)`; the level sizes then differ by one pixel and the P-Net
# maps by one cell. Note also that the cells are mapped back to the photo with the **nominal**
# scale `s`, not with the actual ratio `hs / H` — a detail that only matters at the last pixel.
#
# `tinymtcnn.viz.show_pyramid` draws every level at its true size. The red square in the corner
# of each panel is P-Net's 12 × 12 window: on the small levels it covers the whole face.

# %%
fig = show_pyramid(image, min_face_size=20, cols=5)
fig.set_size_inches(10, 4.8)
plt.show()

# %% [markdown]
# ## 2. Building a level: resample, then normalise
#
# Each level is resampled **from the original image** (not from the previous level) and then
# normalised for the network: `x' = (x − 127.5) · 0.0078125` (that is `/128`), which maps the
# pixel range 0..255 to about −1..1. `build_pyramid` returns `(scale, level)` pairs, each level a
# float32 `(h, w, 3)` array.

# %%
pyramid = build_pyramid(image, min_face_size=20)
for s, level in pyramid[:3]:
    print(f"s={s:.4f}  level {level.shape} {level.dtype}  range [{level.min():.3f}, {level.max():.3f}]")
print("normalize(0), normalize(255) =", normalize(np.array([0, 255], dtype=np.uint8)))

# %% [markdown]
# ## 3. How is an image shrunk? Area averaging vs naive subsampling
#
# The obvious way to make an image 4 times smaller is to keep every 4th pixel (`img[::4, ::4]`).
# That is **subsampling**, and it is wrong for a detector: the pixels that are skipped are simply
# ignored, so fine patterns (hair, stripes, a textured background) turn into coarse, false
# patterns. This is called **aliasing**.
#
# The authors use Piotr Dollár's `imResample`, which — despite being called with `'bilinear'` —
# computes an **area average** when it shrinks: output pixel `b` is the average of the source
# interval `[b/s, (b+1)/s)`, with fractional weights for the source pixels cut by the interval
# ends. Along one axis this is a matrix of weights; `axis_weights_naive(n_in, n_out)` builds
# it. Shrinking 10 pixels to 4 (`s = 0.4`, each output averages 2.5 source pixels):

# %%
weights = axis_weights_naive(10, 4)
print(np.round(weights, 3))
print("row sums:", weights.sum(axis=1))

# %% [markdown]
# Each row averages 2.5 source pixels: two whole ones (weight 0.4 = 1/2.5) and half of a third one
# (0.2). The rows sum to 1, so a constant image stays constant and the mean brightness is kept.
# The full image is resampled separably: first along x, then along y, with one such matrix per axis.
#
# When the image is **enlarged** (only when `min_face_size < 12`, see below), the same function
# switches to ordinary bilinear interpolation with half-pixel centres:

# %%
print(np.round(axis_weights_naive(4, 6), 3))

# %% [markdown]
# ### A stress test: a one-pixel checkerboard
#
# Take a checkerboard of black and white single pixels and halve it. Every 2 × 2 block holds two
# black and two white pixels, so the honest answer is a uniform grey of 127.5. Subsampling keeps
# only the pixels with even coordinates — all black here — and reports a black image.
#
# A smoother example is a **zone plate**, `cos(k r²)`, whose stripes get finer towards the edge.
# Shrunk by 4 with subsampling, the fine stripes come back as false rings (moiré); the area
# average fades them to grey, which is what a camera with 4× bigger pixels would have recorded.

# %%
checker = ((np.indices((64, 64)).sum(axis=0) % 2) * 255).astype(np.uint8)
area_half = resample(checker, 32, 32)
naive_half = checker[::2, ::2].astype(np.float32)
print(f"checkerboard mean {checker.mean():.1f} | area average: {area_half.min():.1f}..{area_half.max():.1f}"
      f" | subsampled: mean {naive_half.mean():.1f}")

n = 128
yy, xx = np.mgrid[0:n, 0:n] - n / 2
zone = (127.5 * (1 + np.cos(np.pi * (xx**2 + yy**2) / (2 * n)))).astype(np.uint8)  # r/(2n) cycles per px
zone_area = resample(zone, n // 4, n // 4)
zone_naive = zone[::4, ::4]

fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
for ax, img, title in zip(axes, (zone, zone_naive, zone_area),
                          (f"zone plate {n}x{n}", "subsampled [::4, ::4]", "area average (resample)")):
    ax.imshow(img, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_title(title, fontsize="small")
    ax.axis("off")
plt.show()

# %% [markdown]
# Beyond a radius of 32 pixels the stripes of the zone plate are finer than 8 pixels per period,
# which a 4× smaller image cannot represent: the subsampled copy shows rings that are not in the
# original (centred on the corners), the area average fades them to grey (an area average is
# not a perfect low-pass filter, so faint rings remain). On a photo the effect is
# subtler but it is there: P-Net was trained on area-averaged crops, so it should see
# area-averaged levels. Let us compare one pyramid level of the astronaut built both ways.

# %%
s = scales[4]
h, w = level_size(H, W, s)
rows = np.minimum((np.arange(h) / s).astype(int), H - 1)  # nearest source pixel of each output pixel
cols = np.minimum((np.arange(w) / s).astype(int), W - 1)
level_naive = image[rows][:, cols]
level_area = np.clip(np.rint(resample(image, h, w)), 0, 255).astype(np.uint8)
diff = np.abs(level_naive.astype(float) - level_area)

fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
axes[0].imshow(level_naive)
axes[0].set_title(f"subsampled, {h}x{w}", fontsize="small")
axes[1].imshow(level_area)
axes[1].set_title(f"area average, {h}x{w}", fontsize="small")
im = axes[2].imshow(diff.mean(axis=2), cmap="magma")
axes[2].set_title("|difference| (mean over RGB)", fontsize="small")
for ax in axes:
    ax.axis("off")
fig.colorbar(im, ax=axes[2], shrink=0.8)
plt.show()
print(f"level s={s:.4f}: mean |difference| {diff.mean():.1f} grey levels, max {diff.max():.0f}")

# %% [markdown]
# The differences sit on edges and textures (the suit, the flag, the hair), exactly where
# subsampling aliases.
#
# ## 4. What does `min_face_size` mean?
#
# `min_face_size` sets the first scale `m = 12 / min_face_size`: the largest level is the one on
# which a face of `min_face_size` pixels fills the 12-pixel window. Smaller faces are never
# looked at with a window that fits them. It is a **speed / recall trade-off**:
#
# * halving `min_face_size` doubles the side of the first level, so it **quadruples** its pixels;
# * the pyramid is a geometric series of areas with ratio `factor² ≈ 0.5`, so all levels together
#   cost about `1 / (1 − factor²) ≈ 2` times the first level.
#
# With `min_face_size < 12` the first scale is above 1: the first levels are **enlarged**
# (bilinear), and the work grows further.

# %%
print("min_face  levels  first scale  first level   pixels of all levels   / first level")
costs = {}
for min_face in (10, 20, 40, 80):
    sc = pyramid_scales(H, W, min_face)
    sizes = [level_size(H, W, x) for x in sc]
    total = sum(h * w for h, w in sizes)
    costs[min_face] = total
    print(f"{min_face:6d}  {len(sc):6d}  {sc[0]:10.4f}   {sizes[0][0]:4d} x {sizes[0][1]:<4d}"
          f"   {total:18,d}   {total / (sizes[0][0] * sizes[0][1]):8.2f}")
print(f"\n1 / (1 - factor^2) = {1 / (1 - 0.709**2):.2f}")

# %% [markdown]
# ### Your turn 3: change the factor
#
# The factor is the other knob of the pyramid. Find a `scale_factor` with which the 512 × 512
# astronaut gets **exactly 5 levels** at `min_face_size = 20` (the default gives 10), and put it
# in `my_factor`. Then think: what does the detector save, and what does it risk, with so few
# levels? (The explanation appears with the verdict.)

# %%
my_factor = None  # a float between 0 and 1
# >>> SOLUTION
my_factor = 0.5
# <<< SOLUTION


# %%
def five_levels(factor):
    count = len(pyramid_scales(H, W, min_face_size=20, scale_factor=factor))
    return count == 5, f"the astronaut's pyramid has {count} levels (want 5; the default 0.709 gives {len(scales)})"


exercises.check_parameter(
    "3", my_factor, five_levels,
    "any factor from about 0.45 to 0.52 gives 5 levels: half the levels, and about a third less work in total "
    "(the pyramid costs 1 / (1 − factor²) times its first level). The price: consecutive levels are now "
    "1 / factor ≈ 2× apart, so a face between two levels is seen by a window up to √2 ≈ 1.4× too big or too "
    "small, where P-Net is less sure — fewer faces are found, and the boxes are rougher.")

# %% [markdown]
# ### Seeing it: a small face and three settings
#
# Shrink the astronaut to 128 × 128. Her face box is then only about 22 × 27 pixels. With
# `min_face_size = 20` the pyramid starts with a level on which such a face fits the window; with
# `min_face_size = 60` the first level is already so small that her face covers only ~5 pixels of
# it, and P-Net cannot find it. (The boundary is not sharp: P-Net tolerates faces somewhat
# smaller than its window, so a face a bit under `min_face_size` is often still found.)

# %%
small = np.clip(np.rint(resample(image, 128, 128)), 0, 255).astype(np.uint8)
found = {}
for min_face in (20, 40, 60):
    faces = MTCNN(min_face_size=min_face).detect(small)
    found[min_face] = faces
    levels = len(pyramid_scales(128, 128, min_face))
    print(f"min_face_size={min_face}: {levels} levels, {len(faces)} face(s) {np.round(faces.boxes, 1).tolist()}")

# %% [markdown]
# On the full 512 × 512 photo the cost of a small `min_face_size` is visible in the run time (the
# README of the authors used `min_face_size = 10` for the WIDER FACE benchmark, with many tiny
# faces). `FAST` mode times only two settings.

# %%
settings = (20, 80) if FAST else (10, 20, 40, 80)
for min_face in settings:
    detector = MTCNN(min_face_size=min_face)
    seconds = []
    for _ in range(2):  # best of two runs: a busy machine adds noise
        start = time.perf_counter()
        faces = detector.detect(image)
        seconds.append(time.perf_counter() - start)
    print(f"min_face_size={min_face:3d}: {len(pyramid_scales(H, W, min_face)):2d} levels, "
          f"{len(faces)} face(s), {min(seconds):.2f} s")

# %% [markdown]
# ## Checks
#
# These assertions fail if the pyramid code is wrong:
#
# * the number of levels follows the closed form, the first scale is `12 / min_face_size`, the
#   ratio between levels is `factor`, and the smallest level still holds a 12-pixel window;
# * level sizes are `ceil(H·s)`;
# * the resampler's weights sum to 1 (a constant image stays constant) and it averages the
#   checkerboard to grey while subsampling turns it black;
# * the pyramid's total area is about twice its first level;
# * the 22-pixel face is found with `min_face_size = 20` and missed with 60.

# %%
assert len(scales) == expected_levels == 10
assert np.isclose(scales[0], 12 / 20) and np.allclose(np.diff(np.log(scales)), np.log(0.709))
assert min(level_size(H, W, scales[-1])) >= 12 and min(H, W) * scales[-1] * 0.709 < 12
for s in scales:
    assert level_size(H, W, s) == (int(np.ceil(H * s)), int(np.ceil(W * s)))
assert all(level.shape == (*level_size(H, W, s), 3) and level.dtype == np.float32 for s, level in pyramid)
assert pyramid_scales(19, 400, min_face_size=20) == []  # smaller than min_face_size: no level at all
assert pyramid_scales(H, W, min_face_size=10)[0] > 1  # min_face_size < 12 enlarges

assert np.allclose(axis_weights_naive(10, 4).sum(axis=1), 1.0)
assert np.allclose(axis_weights_naive(4, 6).sum(axis=1), 1.0)
flat = np.full((37, 53, 3), 90, np.uint8)
assert np.allclose(resample(flat, 11, 17), 90.0)
assert np.allclose(area_half, 127.5) and naive_half.max() == 0.0
ring = np.hypot(*(np.mgrid[0:n // 4, 0:n // 4] + 0.5 - n / 8)) > 12  # where the stripes are too fine
assert zone_area[ring].std() < 0.5 * zone_naive[ring].std()  # area averaging removes most of the false rings
assert np.allclose(normalize(np.array([0.0, 127.5, 255.0])), [-0.99609375, 0.0, 0.99609375])

for min_face, total in costs.items():
    first = np.prod(level_size(H, W, pyramid_scales(H, W, min_face)[0]))
    assert 1.8 < total / first < 2.2, (min_face, total / first)
assert costs[10] > 3.5 * costs[20]

assert len(found[20]) == 1 and len(found[60]) == 0
box = found[20].boxes[0]
assert 15 < box[2] - box[0] < 35 and 15 < box[3] - box[1] < 40  # a ~22 x 27 px face
print("all checks passed")
