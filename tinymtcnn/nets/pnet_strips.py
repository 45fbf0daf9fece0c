"""P-Net's one specialisation: the whole trunk and both 1x1 heads fused, in horizontal strips.

A pyramid level is one large image: P-Net's layers run as direct 3x3 convolutions with bias and
PReLU, the 2x2 pool and the 1x1 heads on bands of output rows that stay in cache
(:func:`tinymtcnn.kernels.conv_direct.pnet_trunk`). Same formulas as the layers' ``forward``
(equal to float32 rounding: ``tests/test_perf_kernels.py``); nothing is kept for a backward pass.
:meth:`tinymtcnn.nets.base.Net.infer` takes this road for a P-Net-shaped net on float32 levels,
and the layers' road (:meth:`~tinymtcnn.nets.base.Net.forward` without caches) for everything else.
"""
import numpy as np

from ..kernels.conv_direct import pnet_output_size, pnet_trunk
from ..layers.modules import Conv2d, MaxPool2d, PReLU


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


def pnet_strip_outputs(net, x):
    """``net``'s head outputs ``{key: (N, F, h, w)}`` for levels ``x (N, 3, H, W)`` float32 by
    strips, or None when this road does not apply (not P-Net's layers, an empty batch or one of more than 4
    images — training and mining crops go through the layers —, or an input under 12x12)."""
    if x.dtype != np.float32 or not 1 <= len(x) <= 4 or min(pnet_output_size(*x.shape[2:])) < 1:
        return None
    fused = pnet_fused_weights(net)
    if fused is None:
        return None
    weights, widths = fused
    maps = [pnet_trunk(xi, *weights) for xi in x]
    maps = maps[0][None] if len(maps) == 1 else np.stack(maps)
    out, start = {}, 0
    for key, width in widths:
        out[key] = maps[:, start:start + width]
        start += width
    return out
