"""Inference helpers of :meth:`tinymtcnn.nets.base.Net.infer`: the fused P-Net weights, and
layer runs on batch-innermost ``(C, H, W, N)`` arrays with scratch buffers reused between calls.

Same formulas as the modules' ``forward`` (:mod:`tinymtcnn.layers`), equal to float32 rounding;
nothing is kept for a backward pass.
"""
import threading

import numpy as np

from ..kernels.chwn import bias_prelu_rows, im2col_chwn, maxpool_chwn
from ..layers.modules import Conv2d, Dropout, Flatten, Linear, MaxPool2d, PReLU
from ..layers.pool import pool_output_size
from ..threads import matmul


def _is_conv(m, k):
    return isinstance(m, Conv2d) and m.params["w"].shape[2:] == (k, k) and m.stride == 1 and m.pad == 0


def pnet_fused_weights(net):
    """``(weights for pnet_trunk, [(head key, channels)])`` when ``net`` has P-Net's layers, else None."""
    mods = [m for _, m in net.trunk]
    kinds = [Conv2d, PReLU, MaxPool2d, Conv2d, PReLU, Conv2d, PReLU]
    if len(mods) != len(kinds) or not all(isinstance(m, k) for m, k in zip(mods, kinds)):
        return None
    c1, p1, pool, c2, p2, c3, p3 = mods
    if not (_is_conv(c1, 3) and _is_conv(c2, 3) and _is_conv(c3, 3) and c1.params["w"].shape[1] == 3
            and (pool.kernel, pool.stride, pool.ceil_mode) == (2, 2, True)):
        return None
    heads = []
    for key, layers in net.heads.items():
        if len(layers) != 1 or not _is_conv(layers[0][1], 1):
            return None
        heads.append((key, layers[0][1]))
    wh = np.concatenate([m.params["w"][:, :, 0, 0] for _, m in heads])
    bh = np.concatenate([m.params["b"] for _, m in heads])
    weights = (c1.params["w"], c1.params["b"], p1.params["alpha"], c2.params["w"], c2.params["b"],
               p2.params["alpha"], c3.params["w"], c3.params["b"], p3.params["alpha"], wh, bh)
    return weights, [(key, m.params["w"].shape[0]) for key, m in heads]


class _Scratch(threading.local):
    """Grow-only scratch arrays, one set per thread: fresh multi-MB arrays on every call would
    cost a page fault per 4 KB (as much time as the products themselves on R-Net batches)."""

    def __init__(self):
        self.buffers = {}

    def array(self, slot, shape, dtype):
        size = int(np.prod(shape))
        buf = self.buffers.get(slot)
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = self.buffers[slot] = np.empty(size, dtype=dtype)
        return buf[:size].reshape(shape)


_scratch = _Scratch()


def own_memory(x):
    """``x`` itself when it owns its memory, else a copy (outputs must not live in scratch)."""
    return x if x.flags.owndata else x.copy()


def to_nchw(x):
    """Batch-innermost ``(C, H, W, N)`` -> ``(N, C, H, W)``; 2-D ``(N, F)`` arrays pass through."""
    return np.ascontiguousarray(x.transpose(3, 0, 1, 2)) if x.ndim == 4 else x


def infer_layers(layers, x, slots):
    """Run ``layers`` on ``x``: ``(C, H, W, N)`` (batch innermost) or ``(N, F)``; a PReLU after a
    convolution or linear layer is applied in the same pass. Same formulas as the modules'
    ``forward``; unknown modules run their own ``forward`` on an NCHW copy. Activations go to the
    two scratch ``slots`` in turn, so the result may live in one of them."""
    slot, other = slots
    mods = [m for _, m in layers]
    i = 0
    while i < len(mods):
        m = mods[i]
        nxt = mods[i + 1] if i + 1 < len(mods) else None
        alpha = nxt.params["alpha"] if isinstance(nxt, PReLU) else None
        if isinstance(m, Conv2d) and x.ndim == 4 and m.stride == 1 and m.pad == 0:
            w = m.params["w"].astype(x.dtype, copy=False)
            f, c, kh, kw = w.shape
            _, h, wd, n = x.shape
            oh, ow = h - kh + 1, wd - kw + 1
            cols = (x.reshape(c, -1) if kh == kw == 1 else
                    im2col_chwn(x, kh, kw, out=_scratch.array("cols", (c * kh * kw, oh * ow * n), x.dtype)))
            y = matmul(w.reshape(f, -1), cols, out=_scratch.array(slot, (f, oh * ow * n), x.dtype))
            x = bias_prelu_rows(y, m.params["b"], alpha).reshape(f, oh, ow, n)
            slot, other = other, slot
            i += 1 if alpha is None else 2
            continue
        if isinstance(m, Linear) and x.ndim == 2:
            y = x @ m.params["w"].astype(x.dtype, copy=False).T
            y += m.params["b"].astype(x.dtype, copy=False)
            if alpha is not None:
                y = np.where(y > 0, y, alpha.astype(x.dtype, copy=False)[None] * y)
            x = y
            i += 1 if alpha is None else 2
            continue
        if isinstance(m, MaxPool2d) and x.ndim == 4:
            c, h, wd, n = x.shape
            shape = (c, pool_output_size(h, m.kernel, m.stride, m.ceil_mode),
                     pool_output_size(wd, m.kernel, m.stride, m.ceil_mode), n)
            x = maxpool_chwn(x, m.kernel, m.stride, m.ceil_mode, out=_scratch.array(slot, shape, x.dtype))
            slot, other = other, slot
        elif isinstance(m, Flatten) and x.ndim == 4:
            x = x.reshape(-1, x.shape[3]).T  # (N, C*H*W) in C order, as Caffe; a transposed view
        elif isinstance(m, PReLU):
            a = m.params["alpha"].astype(x.dtype, copy=False)
            a = a[:, None, None, None] if x.ndim == 4 else a[None]
            x = np.where(x > 0, x, a * x)
        elif not isinstance(m, Dropout):  # Dropout is the identity outside training
            y = m.forward(to_nchw(x))
            x = np.ascontiguousarray(y.transpose(1, 2, 3, 0)) if y.ndim == 4 else y
        i += 1
    return x
