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
# # 02 · Layers and backpropagation
#
# The three MTCNN networks are built from only five kinds of layer: **convolution**, **PReLU**,
# **max pooling**, **fully connected** (Caffe's `InnerProduct`) and a final **softmax**. In
# `tinymtcnn.layers` every layer is a pair of plain functions,
#
# ```python
# out, cache = conv2d_forward(x, w, b)        # forward pass; cache = what backward needs
# dx, dw, db = conv2d_backward(dout, cache)   # dout = dL/d(out)  ->  dL/dx, dL/dw, dL/db
# ```
#
# and each has a slow, readable **`*_naive` twin** written with loops, used as the oracle in the
# tests. This notebook looks at:
#
# 1. convolution **via im2col** — the column matrix, why it turns a convolution over a whole batch
#    into one matrix product, and why the package keeps the batch as the **last** axis,
#    `(C, H, W, N)`;
# 2. **PReLU** and the slopes the authors' networks learned;
# 3. **ceil-mode pooling**, and why floor mode breaks R-Net (256 values instead of 576);
# 4. **gradient checks** with `tinymtcnn.gradcheck` — and what a wrong backward pass looks like;
# 5. naive vs fast: how much the im2col / Numba versions gain.
#
# The derivations of every backward pass are in `docs/backprop.md`.
#
# **Your turn.** Four exercises ask you to predict, write or change something. Each gives you a
# placeholder (`my_... = None`, or a function with an empty body): fill it in, then run the check
# cell below it, which says *right*, *wrong* (and why) or *not answered yet*. The sections also
# name the **assignment tasks** that match them (`python tools/make_assignment.py list`): in the
# student copy those functions are yours to write, and this notebook runs on your code.
# So do the checks: one that disagrees with an answer you are sure of may be pointing at your task
# code, and that task's tests (`python -m pytest -m task_N_M`) will say.

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from tinymtcnn import MTCNN, load_net
from tinymtcnn.gradcheck import numerical_gradient, random_indices, rel_error
from tinymtcnn.kernels.im2col import col2im, im2col, im2col_naive
from tinymtcnn.layers import (conv2d_backward, conv2d_forward, conv2d_forward_naive, linear_backward,
                              linear_forward, maxpool2d_backward, maxpool2d_forward, maxpool2d_forward_naive,
                              pool_output_size, prelu_backward, prelu_forward, softmax_cross_entropy)
from tinymtcnn.layers.modules import MaxPool2d
from tinymtcnn.threads import limit_threads
from tinymtcnn import exercises

# >>> SOLUTION
exercises.expect_answers()  # the teacher's version: a check that is not "right" stops the notebook
# <<< SOLUTION

FAST = os.environ.get("TINYMTCNN_FAST", "0") == "1"
# %config InlineBackend.figure_format = 'png'
plt.rcParams.update({"figure.figsize": (8, 4), "figure.dpi": 72})
rng = np.random.default_rng(0)

# %% [markdown]
# **Warm-up.** The fast kernels (im2col, col2im, pooling) are compiled by Numba on their first
# call and cached on disk; the first call can take seconds. One tiny detection compiles (or loads)
# all of them, so that the timings at the end of the notebook measure running, not compiling.

# %%
start = time.perf_counter()
try:
    MTCNN().detect(np.full((48, 48, 3), 128, np.uint8))
except NotImplementedError as err:  # a student copy whose tasks are not all done: the layers still run
    print(f"warm-up stopped early: {err} (not written yet; the cells that need it will say so)")
print(f"warm-up detection: {time.perf_counter() - start:.2f} s (includes compiling / loading the Numba cache)")

# %% [markdown]
# ## 1. Convolution via im2col
#
# A convolution layer (Caffe and PyTorch compute a *cross-correlation*) with weights
# `w (F, C, KH, KW)` and bias `b (F,)` turns an input `x (C, H, W, N)` — channels first, then
# rows and columns, and the **batch last** (the package's one internal layout; more on this choice
# below) — into `out (F, OH, OW, N)`:
#
# ```
# out[f, oy, ox, n] = b[f] + Σ_{c,i,j} w[f, c, i, j] · x[c, oy·stride + i, ox·stride + j, n]
# ```
#
# Written with loops (`conv2d_forward_naive`), this is a loop over output positions. **im2col**
# ("image to columns") instead copies the input window of every output position **of every image**
# into one column of a matrix:
#
# ```
# cols[r, q] = x[c, oy·stride − pad + i, ox·stride − pad + j, n]
#     row    r = (c·KH + i)·KW + j      (channel, kernel row, kernel column)
#     column q = (oy·OW + ox)·N + n     (output position, then image: images innermost)
# ```
#
# Then the whole layer, for the whole batch, is **one matrix product**,
# `W.reshape(F, C·KH·KW) @ cols`, which numpy hands to an optimised BLAS routine. Here is the
# column matrix of a tiny batch: **two images** of two channels of 4 × 4 pixels, numbered so that
# you can see where each value comes from (image 1 is image 0 plus 100), and a 3 × 3 kernel (so
# 2 × 2 output positions per image, 8 columns in all).
#
# > **Assignment task 2.1** (conv forward, naive loops): `conv2d_forward_naive` in
# > `tinymtcnn/layers/conv.py` — the formula above as loops; `python -m pytest -m task_2_1` checks it.

# %%
image0 = np.arange(2 * 4 * 4, dtype=np.float64).reshape(2, 4, 4)  # (C, H, W) of one image
x = np.stack([image0, image0 + 100], axis=-1)  # (C, H, W, N): the batch is the last axis
print("x shape (C, H, W, N) =", x.shape)
print("x[0, :, :, 0] (channel 0 of image 0) =\n", x[0, :, :, 0],
      "\nx[1, :, :, 0] (channel 1 of image 0) =\n", x[1, :, :, 0])
cols = im2col(x, 3, 3, 1, 0)
print("\ncols shape (C*KH*KW, OH*OW*N) =", cols.shape)

fig, ax = plt.subplots(figsize=(7, 6))
ax.imshow(cols, cmap="viridis", aspect="auto")
for r in range(cols.shape[0]):
    for q in range(cols.shape[1]):
        ax.text(q, r, f"{cols[r, q]:.0f}", ha="center", va="center", color="white", fontsize=8)
ax.set_yticks(range(18))
ax.set_yticklabels([f"c={r // 9} i={r // 3 % 3} j={r % 3}" for r in range(18)], fontsize=7)
ax.set_xticks(range(8))
ax.set_xticklabels([f"oy={q // 4} ox={q // 2 % 2}\nn={q % 2}" for q in range(8)], fontsize=7)
ax.set_title("im2col: one column per (output position, image), images innermost", fontsize="small")
plt.show()

# %% [markdown]
# Column 0 holds the top-left 3 × 3 window of image 0, channel 0 (0, 1, 2, 4, 5, 6, 8, 9, 10) and
# then channel 1 (16, 17, ...); column 1 is **the same window in image 1** (100, 101, ...); columns
# 2 and 3 are the window moved one pixel to the right, in image 0 and image 1. A kernel flattened
# into a row vector of 18 weights, times this matrix, gives all eight outputs — four positions of
# two images — at once.
#
# With `pad = 1` the windows reach outside the image and read zeros, which appear in the columns:

# %%
print(im2col(x[:1, :, :, :1], 3, 3, 1, 1)[:, :5])  # channel 0 of image 0, pad 1: first five output positions

# %% [markdown]
# Now the layer itself. `W (F, C·KH·KW) @ cols (C·KH·KW, OH·OW·N)` is an `(F, OH·OW·N)` matrix:
# row `f` holds filter `f`'s outputs, in the columns' order — output position, then image. That is
# exactly the memory order of an `(F, OH, OW, N)` array, so a **reshape (no copy, no
# transposition)** turns the product into the next layer's input. Adding the bias (and, in the
# nets, the PReLU) is one more pass over those rows (`tinymtcnn.kernels.prelu.bias_prelu`).

# %%
w = rng.standard_normal((3, 2, 3, 3))
b = rng.standard_normal(3)
product = w.reshape(3, -1) @ cols + b[:, None]  # ONE product for the whole batch: (F, OH*OW*N)
by_hand = product.reshape(3, 2, 2, 2)  # (F, OH, OW, N): the same memory, read with four axes
fast, _ = conv2d_forward(x, w, b)
naive, _ = conv2d_forward_naive(x, w, b)
print("product", product.shape, "-> by_hand", by_hand.shape, "| a view, no copy:", np.shares_memory(product, by_hand))
print("matrix product vs conv2d_forward:      ", np.abs(by_hand - fast).max())
print("conv2d_forward vs conv2d_forward_naive:", np.abs(fast - naive).max())

# %% [markdown]
# **Why the batch goes last.** Had we stored the batch first, `(N, C, H, W)` as most frameworks do,
# the columns would come out image by image, and the product `(F, N·OH·OW)` would have to be
# transposed to `(N, F, OH, OW)` before the next layer could read it (or the layer would be N small
# products, one per image). With the batch innermost, nothing is shuffled between layers: a
# convolution's output already is the next layer's input, `Flatten` is a reshape to `(F, N)`, and a
# fully connected layer is `w @ x` on it. The kernels gain as well: every inner loop — copying
# windows in im2col, comparing values in a max pool, adding a bias — runs over `N` contiguous
# values (one per image), which the compiler vectorises **however small the feature maps are**.
# R-Net's and O-Net's maps are tiny (3 × 3 to 22 × 22), so on planes of NCHW a loop runs over a
# handful of pixels. Measured on the two-core machine the package is developed on, R-Net's and
# O-Net's max pools run 5–7× faster on `(C, H, W, N)` than on NCHW planes, and the convolutions are
# as fast; `docs/engine_room.md` has the numbers. The nets still take and return
# batch-first arrays `(N, C, H, W)` at their boundary (`Net.forward`, `Net.infer`): they convert
# once on the way in and once on the way out.

# %% [markdown]
# ### Your turn 1: predict an output shape
#
# `x` of shape `(3, 13, 11, 2)` (3 channels, 13 rows, 11 columns, two images — the batch last),
# `w` of shape `(4, 3, 3, 3)`, stride 2, pad 1. What is the shape of
# `conv2d_forward(x, w, b, stride=2, pad=1)[0]`? The output side is
# `floor((n + 2·pad − k) / stride) + 1`. Write it as a tuple into `my_shape`.

# %%
my_shape = None  # your prediction: a tuple (F, OH, OW, N)
# >>> SOLUTION
my_shape = (4, 7, 6, 2)
# <<< SOLUTION

# %%
exercises.check_prediction(
    "1", my_shape,
    lambda: conv2d_forward(np.zeros((3, 13, 11, 2)), np.zeros((4, 3, 3, 3)), np.zeros(4), stride=2, pad=1)[0].shape,
    "the channels become F = 4 (one per filter) and stay first; OH = floor((13 + 2 − 3) / 2) + 1 = 7 and "
    "OW = floor((11 + 2 − 3) / 2) + 1 = 6; the batch N = 2 stays last. The input channels C = 3 disappear "
    "into the sum.")

# %% [markdown]
# **Backward.** Because the forward pass is a matrix product `Y = W · cols`, its gradients are
# matrix products too, with `G` the output gradient `(F, OH, OW, N)` read as `(F, OH·OW·N)` (a
# reshape again): `dW = G · colsᵀ` — one product that sums over every position of every image —
# and `dcols = Wᵀ · G`. `col2im` then adds every entry of `dcols` back onto the pixel it was
# copied from — overlapping windows add up. `col2im` is the **transpose (adjoint)** of `im2col`:
# `⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩` for any `x` and `c`.
#
# > **Assignment task 2.2** (conv backward, naive loops): `conv2d_backward_naive` in
# > `tinymtcnn/layers/conv.py` — `dx`, `dw`, `db` with loops (`docs/backprop.md` derives them);
# > `python -m pytest -m task_2_2` checks it.

# %%
x_rand = rng.standard_normal((3, 7, 6, 2))  # (C, H, W, N)
c_rand = rng.standard_normal(im2col(x_rand, 3, 3, 2, 1).shape)
lhs = np.sum(im2col(x_rand, 3, 3, 2, 1) * c_rand)
rhs = np.sum(x_rand * col2im(c_rand, x_rand.shape, 3, 3, 2, 1))
print(f"<im2col(x), c> = {lhs:.10f}\n<x, col2im(c)> = {rhs:.10f}")

# %% [markdown]
# ## 2. PReLU
#
# After every convolution and every hidden fully connected layer comes a **parametric ReLU**
# with one learned slope `α_c` per channel: `y = x` for `x > 0`, `y = α_c · x` otherwise. The
# channel is axis 0, both after a convolution, `(C, H, W, N)`, and after a fully connected layer,
# `(C, N)`. A plain ReLU is `α = 0`; a leaky ReLU fixes `α = 0.01`. Caffe initialises `α = 0.25`
# and lets training move it. The authors' trained nets show that training used this freedom: some
# slopes became negative (the layer then outputs `|x|`-like responses) and some exceed 1.

# %%
pnet, onet = load_net("pnet"), load_net("onet")
slopes = {f"{kind}.{name}": m.params["alpha"] for kind, net in (("P-Net", pnet), ("O-Net", onet))
          for name, m in net.named_modules() if "alpha" in m.params}

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
t = np.linspace(-3, 3, 200)
for alpha in (0.0, 0.25, -0.5):
    ax1.plot(t, prelu_forward(t[None], np.array([alpha]))[0].ravel(), label=f"α = {alpha}")  # (C=1, N=200)
ax1.legend(fontsize="small")
ax1.set_title("PReLU", fontsize="small")
ax1.grid(alpha=0.3)
all_slopes = np.concatenate(list(slopes.values()))
ax2.hist(all_slopes, bins=40, color="tab:blue")
ax2.axvline(0.25, color="red", ls="--", label="initial 0.25")
ax2.legend(fontsize="small")
ax2.set_title(f"learned slopes of P-Net and O-Net ({all_slopes.size} channels)", fontsize="small")
plt.show()
for name, a in slopes.items():
    print(f"{name:16s} {a.size:4d} slopes, range [{a.min():+.2f}, {a.max():+.2f}]")

# %% [markdown]
# The gradient follows from the two cases: `dx = g` where `x > 0` and `α_c · g` elsewhere, and
# `dα_c = Σ g · x` over the elements of channel `c` with `x ≤ 0`.
#
# > **Assignment task 2.3** (PReLU forward and backward, naive): `prelu_forward_naive` and
# > `prelu_backward_naive` in `tinymtcnn/layers/prelu.py`; `python -m pytest -m task_2_3` checks them.
#
# ## 3. Ceil-mode max pooling, and why floor mode breaks R-Net
#
# Max pooling with a `k × k` window and stride `s` slides the window in steps of `s` and keeps the
# maximum. How many windows fit along a side of `n` cells? Caffe **rounds up**:
#
# ```
# out = ceil((n − k) / s) + 1     (Caffe, "ceil mode")
# out = floor((n − k) / s) + 1    (the default of most other frameworks)
# ```
#
# In ceil mode the last window may hang over the edge and takes the maximum of the cells that
# exist. R-Net's first pool sees 22 columns with `k = 3, s = 2`: floor mode fits 10 windows and
# **never looks at column 21**; ceil mode adds an 11th window over columns 20–21.
#
# > **Assignment task 2.4** (ceil-mode max-pool forward and backward): `maxpool_forward_naive`
# > and `maxpool_backward_naive` in `tinymtcnn/kernels/maxpool.py`, on `(C, H, W, N)` arrays;
# > `python -m pytest -m task_2_4` checks them.

# %%
n, k, s = 22, 3, 2
fig, axes = plt.subplots(1, 2, figsize=(9, 3), sharey=True)
for ax, ceil_mode in zip(axes, (False, True)):
    count = pool_output_size(n, k, s, ceil_mode)
    for o in range(count):  # one row per window: which of the 22 cells it covers
        first, last = o * s, min(o * s + k, n)
        ax.barh(o, last - first, left=first, height=0.7, color="tab:red" if o * s + k > n else "tab:blue")
    ax.axvspan(n - 1, n, color="gold", alpha=0.4, label="column 21")
    ax.set_xlim(0, n + 1)
    ax.set_xticks(range(0, n + 1, 2))
    ax.set_xlabel("input column")
    ax.set_title(f"{'ceil' if ceil_mode else 'floor'} mode: {count} windows", fontsize="small")
axes[0].set_ylabel("window")
axes[0].invert_yaxis()
axes[1].legend(fontsize="small", loc="lower left")
plt.tight_layout()
plt.show()
print("pool_output_size(22, 3, 2):", pool_output_size(22, 3, 2, True), "(ceil) vs",
      pool_output_size(22, 3, 2, False), "(floor)")

# %% [markdown]
# One window less per pooling layer changes every shape that follows. Let us push a 24 × 24 crop
# through R-Net's trunk twice: with its real (ceil-mode) pooling layers, and with the same layers
# in floor mode. R-Net's first fully connected layer was trained on **64 × 3 × 3 = 576** values;
# floor mode delivers **64 × 2 × 2 = 256**, and the authors' weights cannot even be applied.
# Inside a net every layer works on `(C, H, W, N)`; we call the layers ourselves here (each
# module's `infer`: its forward pass without keeping a cache), on a batch of one crop, and print
# the shape of one sample, channels first.

# %%
rnet = load_net("rnet")


def trunk_shapes(net, x, ceil_mode):
    """Run the trunk's modules on x (C, H, W, N); the shape of one sample after each layer."""
    shapes = []
    for name, layer in net.trunk:
        if isinstance(layer, MaxPool2d):
            layer = MaxPool2d(layer.kernel, layer.stride, ceil_mode=ceil_mode)
        try:
            x = layer.infer(x)
        except ValueError as err:
            shapes.append((name, f"ValueError: {err}"))
            break
        shapes.append((name, x.shape[:-1]))  # the batch axis is the last one
    return shapes


crop = rng.standard_normal((3, 24, 24, 1)).astype(np.float32)  # (C, H, W, N): one 24 x 24 crop
ceil_shapes = trunk_shapes(rnet, crop, ceil_mode=True)
floor_shapes = trunk_shapes(rnet, crop, ceil_mode=False)
print(f"{'layer':8s} {'ceil mode (Caffe)':22s} floor mode")
for (name, a), (_, b2) in zip(ceil_shapes, floor_shapes):
    print(f"{name:8s} {str(a):22s} {b2}")

# %% [markdown]
# ### Your turn 2: ceil or floor?
#
# O-Net's first convolution turns its 48 × 48 crop into 46 × 46 maps, followed by a 3 × 3 max pool
# with stride 2. How many windows fit along a side of 46 cells in ceil mode, and how many in floor
# mode? Write `(ceil, floor)` into `my_windows`.

# %%
my_windows = None  # your prediction: a tuple (ceil mode, floor mode)
# >>> SOLUTION
my_windows = (23, 22)
# <<< SOLUTION

# %%
exercises.check_prediction(
    "2", my_windows, lambda: (pool_output_size(46, 3, 2, True), pool_output_size(46, 3, 2, False)),
    "(46 − 3) / 2 = 21.5: ceil gives 22 + 1 = 23 windows, floor 21 + 1 = 22. Whenever (n − k) / s is not a "
    "whole number, ceil mode adds a last window that hangs over the edge (here over cells 44–45).")

# %% [markdown]
# P-Net is affected too, more quietly: it is fully convolutional, so nothing crashes, but on
# levels of odd size its output map loses a row or column of cells — windows that are never
# scored. Its output size in ceil mode is `ceil(H/2) − 5`:

# %%
for size in (12, 13, 25, 31):
    # conv 3x3 (-2), pool 2/2, conv 3x3 (-2), conv 3x3 (-2)
    cells_floor = pool_output_size(size - 2, 2, 2, ceil_mode=False) - 4
    real = pnet.forward(np.zeros((1, 3, size, size), np.float32))["face_prob"].shape[1:]
    print(f"input {size:2d}: P-Net map {real}, ceil(H/2) - 5 = {int(np.ceil(size / 2)) - 5}, "
          f"floor mode would give {cells_floor}")

# %% [markdown]
# ## 4. Gradient checks
#
# A hand-written backward pass is easy to get subtly wrong, so we compare it with a **numerical
# gradient**. For a layer `f` and a random upstream gradient `g` (standing in for `dL/dout`), the
# scalar `L(x) = Σ f(x) · g` has the gradient the backward pass should return. Central
# differences estimate it one element at a time:
#
# ```
# dL/dx_i ≈ (L(x + h·e_i) − L(x − h·e_i)) / (2h)
# ```
#
# `tinymtcnn.gradcheck.numerical_gradient(f, x, dout)` does exactly this (in float64, perturbing
# `x` in place and restoring it) and `rel_error(a, b) = ‖a − b‖ / (‖a‖ + ‖b‖)` compares the two.
# In float64 a correct backward pass gives about 1e-9 or less; a wrong one gives 1e-2 or more.
# The arrays below are in the layers' layout: `(C, H, W, N)` for images, `(features, N)` for a
# fully connected layer (the loss takes `(N, classes)` logits, as the nets return them).

# %%
results = {}

# convolution: with respect to x, w and b (stride 2, pad 1 to exercise every branch)
x = rng.standard_normal((3, 7, 8, 2))  # (C, H, W, N)
w = rng.standard_normal((4, 3, 3, 3))
b = rng.standard_normal(4)
out, cache = conv2d_forward(x, w, b, stride=2, pad=1)
g = rng.standard_normal(out.shape)
dx, dw, db = conv2d_backward(g, cache)
results["conv dx"] = rel_error(dx, numerical_gradient(lambda v: conv2d_forward(v, w, b, stride=2, pad=1)[0], x, g))
results["conv dw"] = rel_error(dw, numerical_gradient(lambda v: conv2d_forward(x, v, b, stride=2, pad=1)[0], w, g))
results["conv db"] = rel_error(db, numerical_gradient(lambda v: conv2d_forward(x, w, v, stride=2, pad=1)[0], b, g))

# PReLU: inputs kept away from the kink at 0; 4 channels on axis 0, 3 images
x = rng.standard_normal((4, 5, 5, 3))
x[np.abs(x) < 0.05] = 0.1
alpha = rng.uniform(-0.5, 0.5, 4)
out, cache = prelu_forward(x, alpha)
g = rng.standard_normal(out.shape)
dx, dalpha = prelu_backward(g, cache)
results["PReLU dx"] = rel_error(dx, numerical_gradient(lambda v: prelu_forward(v, alpha)[0], x, g))
results["PReLU dalpha"] = rel_error(dalpha, numerical_gradient(lambda v: prelu_forward(x, v)[0], alpha, g))

# max pool 3/2 in ceil mode on an odd size (the last windows hang over the edge)
x = rng.permutation(3 * 9 * 9 * 2).reshape(3, 9, 9, 2) / 10.0  # distinct values: no ties
out, cache = maxpool2d_forward(x, kernel=3, stride=2)
g = rng.standard_normal(out.shape)
results["maxpool dx"] = rel_error(maxpool2d_backward(g, cache),
                                  numerical_gradient(lambda v: maxpool2d_forward(v, kernel=3, stride=2)[0], x, g,
                                                     h=1e-4))

# fully connected: 7 features of 5 samples, x (I, N)
x = rng.standard_normal((7, 5))
w = rng.standard_normal((3, 7))
b = rng.standard_normal(3)
out, cache = linear_forward(x, w, b)
g = rng.standard_normal(out.shape)
dx, dw, db = linear_backward(g, cache)
results["linear dx"] = rel_error(dx, numerical_gradient(lambda v: linear_forward(v, w, b)[0], x, g))
results["linear dw"] = rel_error(dw, numerical_gradient(lambda v: linear_forward(x, v, b)[0], w, g))

# softmax cross-entropy (a scalar loss: no dout)
logits = rng.standard_normal((6, 2))
labels = rng.integers(0, 2, 6)
loss, dlogits = softmax_cross_entropy(logits, labels)
results["softmax CE"] = rel_error(dlogits, numerical_gradient(lambda v: softmax_cross_entropy(v, labels)[0], logits))

for name, err in results.items():
    print(f"{name:14s} relative error {err:.1e}")

# %% [markdown]
# ### Your turn 3: a backward pass of your own
#
# The fully connected layer is `out = w @ x + b[:, None]` with `x (D, N)` (one column per sample,
# as `Flatten` leaves the batch-innermost features), `w (M, D)` (Caffe's layout), `b (M,)`. Write
# its backward pass: given `dout = dL/dout (M, N)`, return `(dx, dw, db)`. (Hint: check the shapes —
# each gradient has the shape of what it is the gradient of.) The check compares your function
# with the package's `linear_backward` on three random inputs.

# %%
def my_linear_backward(dout, x, w):
    """Gradients (dx, dw, db) of out = w @ x + b[:, None], given dout = dL/dout."""
    # your code here (about 4 lines)
    # >>> SOLUTION
    dx = w.T @ dout
    dw = dout @ x.T
    db = dout.sum(axis=1)
    return dx, dw, db
    # <<< SOLUTION


# %%
def random_linear_inputs(rng):
    n, d, m = rng.integers(1, 6, 3)
    return rng.standard_normal((m, n)), rng.standard_normal((d, n)), rng.standard_normal((m, d))  # dout, x, w


def package_linear_backward(dout, x, w):
    return linear_backward(dout, linear_forward(x, w, np.zeros(len(w)))[1])


exercises.check_function(
    "3", my_linear_backward, package_linear_backward, exercises.seeded(random_linear_inputs), names=("dx", "dw", "db"),
    explanation="out[m, n] = Σ_d w[m, d] x[d, n] + b[m], so dL/dx[d, n] = Σ_m w[m, d] dout[m, n] (w.T @ dout), "
                "dL/dw[m, d] = Σ_n dout[m, n] x[d, n] (dout @ x.T), and b[m] is added to every column of row m, "
                "so db sums dout over the batch (axis 1).")

# %% [markdown]
# ### What a bug looks like
#
# Suppose we forgot that negative inputs are scaled by `α` on the way back, and wrote
# `dx = g where x > 0 else g` — a copy-paste slip that still "runs". The gradient check catches it
# immediately:

# %%
def prelu_backward_buggy(dout, cache):
    x, alpha = cache
    return dout.copy(), prelu_backward(dout, cache)[1]  # forgot alpha * g for x <= 0


x = rng.standard_normal((4, 5, 5, 3))  # (C, H, W, N)
x[np.abs(x) < 0.05] = 0.1
out, cache = prelu_forward(x, alpha)
g = rng.standard_normal(out.shape)
buggy_error = rel_error(prelu_backward_buggy(g, cache)[0],
                        numerical_gradient(lambda v: prelu_forward(v, alpha)[0], x, g))
print(f"buggy PReLU dx: relative error {buggy_error:.2f}")

# %% [markdown]
# ### Your turn 4: would the check catch it?
#
# Run the same gradient check on the same buggy backward pass, but with **every slope α = 1**.
# Does the gradient check still catch the bug (relative error above 1e-2)? Write `True` or
# `False` into `my_caught`.

# %%
my_caught = None  # your prediction: True (caught) or False (not caught)
# >>> SOLUTION
my_caught = False
# <<< SOLUTION


# %%
def buggy_check_with_unit_slopes():
    ones = np.ones(4)
    _, unit_cache = prelu_forward(x, ones)
    error = rel_error(prelu_backward_buggy(g, unit_cache)[0],
                      numerical_gradient(lambda v: prelu_forward(v, ones)[0], x, g))
    return bool(error > 1e-2)


exercises.check_prediction(
    "4", my_caught, buggy_check_with_unit_slopes,
    "with α = 1 PReLU is the identity, so its true gradient is dx = g everywhere — exactly what the buggy "
    "version returns. A gradient check only tests the point where you run it: use random inputs AND random "
    "parameters (here α), never the 'nice' values 0 or 1.")

# %% [markdown]
# ### A whole network
#
# The same check works for a complete net. `Net.backward` takes a dict `{head: dL/d(head output)}`
# and applies the chain rule back through the heads (their gradients **add up** where they meet the
# shared trunk) and the trunk. At its boundary a net speaks batch-first, as a user expects: images
# `(N, C, H, W)` in, outputs `(N, ...)` out, and their gradients likewise; it moves the batch to the
# last axis once on the way in and back once on the way out. We check the authors' P-Net in float64
# on two 14 × 16 inputs (a 2 × 3 output map) for the input and for sampled entries of every
# parameter array.

# %%
net = load_net("pnet", dtype=np.float64)
x = rng.standard_normal((2, 3, 14, 16))  # a net's input: batch first (N, C, H, W)
outputs = net.forward(x)
upstream = {key: rng.standard_normal(outputs[key].shape) for key in ("face_logits", "box_reg")}


def scalar_loss(_):
    out = net.forward(x)
    return sum(np.sum(out[key] * upstream[key]) for key in upstream)


net.zero_grad()
net.forward(x)
dx = net.backward(upstream)
analytic = dict(net.grads)
net_errors = {"input": rel_error(dx, numerical_gradient(scalar_loss, x))}
for key, param in net.params.items():
    idx = random_indices(param.shape, 3 if FAST else 8, rng)
    numeric = numerical_gradient(scalar_loss, param, indices=idx)
    net_errors[key] = rel_error(np.array([analytic[key][i] for i in idx]), numeric)
for key, err in net_errors.items():
    print(f"P-Net {key:14s} relative error {err:.1e}")

# %% [markdown]
# ## 5. Naive vs fast
#
# The `*_naive` twins exist to be read and to test the fast versions; the fast versions exist to
# be used. On the layers' `(C, H, W, N)` layout: im2col of R-Net's second convolution on a batch of
# crops (numpy slices vs the Numba loop), that convolution itself (a loop over output positions vs
# im2col and one product over the batch), R-Net's first 3 × 3 / 2 pooling, and a full P-Net forward
# pass on one pyramid level with every layer switched to its naive twin. Everything runs on **one
# thread** (`tinymtcnn.threads.limit_threads(1, blas=1)`, as each worker of a detection does), so
# that the table compares the algorithms, not thread counts — and so that a busy machine cannot
# stall one of BLAS's threads in the middle of a product (on a loaded two-core machine, a product
# split over two threads then waits tens of milliseconds for the slower one):

# %%
def best_time(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


repeats = 2 if FAST else 5
batch = 8 if FAST else 32
x = rng.standard_normal((28, 11, 11, batch)).astype(np.float32)  # (C, H, W, N)
w = rng.standard_normal((48, 28, 3, 3)).astype(np.float32)
b = np.zeros(48, np.float32)
x_pool = rng.standard_normal((28, 22, 22, batch)).astype(np.float32)
level = rng.standard_normal((1, 3, 110, 110)).astype(np.float32)  # a net's input: batch first
fast_net, naive_net = load_net("pnet"), load_net("pnet")
for _, module in naive_net.named_modules():
    module.naive = True

with limit_threads(1, blas=1):
    timings = {
        "im2col 28ch 3x3": (best_time(lambda: im2col_naive(x, 3, 3), repeats),
                            best_time(lambda: im2col(x, 3, 3), repeats)),
        "conv 28->48 3x3": (best_time(lambda: conv2d_forward_naive(x, w, b), repeats),
                            best_time(lambda: conv2d_forward(x, w, b), repeats)),
        "maxpool 3/2": (best_time(lambda: maxpool2d_forward_naive(x_pool, kernel=3, stride=2), repeats),
                        best_time(lambda: maxpool2d_forward(x_pool, kernel=3, stride=2), repeats)),
        "P-Net on 110x110": (best_time(lambda: naive_net.forward(level), repeats),
                             best_time(lambda: fast_net.forward(level), repeats)),
    }

conv_naive, conv_fast = conv2d_forward_naive(x, w, b)[0], conv2d_forward(x, w, b)[0]
same_conv = np.abs(conv_naive - conv_fast).max() / np.abs(conv_naive).max()  # float32: relative to the largest output
same_output = np.abs(naive_net.forward(level)["face_prob"] - fast_net.forward(level)["face_prob"]).max()

print(f"{'':18s} {'naive':>9s} {'fast':>9s}  speed-up")
for name, (slow, quick) in timings.items():
    print(f"{name:18s} {slow * 1e3:7.2f}ms {quick * 1e3:7.2f}ms  {slow / quick:6.1f}x")
print(f"conv naive vs fast: max |difference| / max |output| {same_conv:.1e}")
print(f"P-Net naive vs fast: max |difference| of the face probability {same_output:.1e}")

# %% [markdown]
# Read the table with the layout in mind. The naive convolution is a loop over the output
# positions, but at each position it already multiplies `(F, C·KH·KW)` weights by the window of
# **all N images** at once (`(C·KH·KW, N)`, the batch innermost), so it is itself a sequence of
# small matrix products; the fast version's gain comes from making them one large product. The
# naive max pool compares values one window at a time with numpy; the Numba kernel runs along rows
# and over the `N` contiguous images of each cell, and wins by more. A whole P-Net on a pyramid
# level (one image, so `N = 1`, but about 100 × 100 output positions) gains the most: there the
# naive loops are long and the batch axis does not help them.

# %% [markdown]
# ## Checks
#
# * im2col matches its numpy twin and the index formula (images innermost); convolution by one
#   matrix product over the batch equals the loop version, and its result is the `(F, OH, OW, N)`
#   output by a reshape that copies nothing; `col2im` is the adjoint of `im2col`;
# * ceil mode gives R-Net its 576 inputs, floor mode 256 (and the authors' weights refuse them);
#   P-Net's maps are `ceil(H/2) − 5` cells;
# * every backward pass agrees with central differences (relative error < 1e-7; whole P-Net
#   < 1e-6), and the deliberately broken PReLU backward does not;
# * the fast and naive versions compute the same numbers.

# %%
batch_of_two = np.stack([np.arange(32.0).reshape(2, 4, 4), np.arange(32.0).reshape(2, 4, 4) + 100], axis=-1)
assert np.array_equal(cols, im2col_naive(batch_of_two, kh=3, kw=3, stride=1, pad=0))
# c=1, i=2, j=1 at oy=1, ox=0 of image n=1: row (c*3 + i)*3 + j, column (oy*OW + ox)*N + n
assert cols[(1 * 3 + 2) * 3 + 1, (1 * 2 + 0) * 2 + 1] == 100 + 16 + (1 + 2) * 4 + (0 + 1)
assert by_hand.shape == fast.shape == (3, 2, 2, 2) and np.shares_memory(product, by_hand)
assert np.allclose(by_hand, fast) and np.allclose(fast, naive)
assert np.isclose(lhs, rhs)

assert ceil_shapes[-1][1] == (128,) and dict(ceil_shapes)["flatten"] == (576,)
assert dict(floor_shapes)["flatten"] == (256,) and "ValueError" in str(floor_shapes[-1][1])
for size in (12, 13, 25, 31, 40):
    assert pnet.forward(np.zeros((1, 3, size, size), np.float32))["face_prob"].shape[1] == int(np.ceil(size / 2)) - 5
assert pool_output_size(22, 3, 2, True) == 11 and pool_output_size(22, 3, 2, False) == 10

assert all(err < 1e-7 for err in results.values()), results
assert all(err < 1e-6 for err in net_errors.values()), net_errors
assert buggy_error > 1e-2
assert np.allclose(prelu_forward(np.array([[-2.0], [3.0]]), np.array([0.25, 0.25]))[0], [[-0.5], [3.0]])  # (C, N)

assert same_conv < 1e-5 and same_output < 1e-5
print("all checks passed")
