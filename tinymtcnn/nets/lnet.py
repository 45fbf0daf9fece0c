"""LNet, the MTCNNv2 4th stage (``det4``): refines each of the five landmarks.

Input ``(N, 15, 24, 24)``: five 24x24 RGB patches, one around each landmark,
stacked on the channel axis (landmark ``k`` in channels ``3k..3k+2``). Each patch
runs through its own branch ``conv1_k 3x3-28, prelu, pool 3/2, conv2_k 3x3-48,
prelu, pool 3/2, conv3_k 2x2-64, prelu`` -> ``(64, 3, 3)``; the five maps are
concatenated (320, 3, 3), flattened, ``fc4`` 2880->256 + ``prelu4``; then per
landmark ``fc4_k`` 256->64, ``prelu4_k``, ``fc5_k`` 64->2. Output
``landmark_offsets (N, 5, 2)``: ``(ox, oy)`` of each point in patch units (spec §5.6).
948,102 parameters.
"""
import numpy as np

from ..layers.modules import Conv2d, Flatten, Linear, MaxPool2d, PReLU
from .base import Net


class LNet(Net):
    """Landmark refinement net (see the module docstring)."""

    in_channels = 15
    input_size = 24

    def __init__(self, *, dtype=np.float32, rng=None, init="xavier"):
        super().__init__(dtype)
        kw = dict(dtype=dtype, rng=rng, init=init)
        self.branches = []
        for k in range(1, 6):
            self.branches.append([
                (f"conv1_{k}", Conv2d(3, 28, 3, **kw)), (f"prelu1_{k}", PReLU(28, dtype=dtype)),
                (f"pool1_{k}", MaxPool2d(3, 2)),
                (f"conv2_{k}", Conv2d(28, 48, 3, **kw)), (f"prelu2_{k}", PReLU(48, dtype=dtype)),
                (f"pool2_{k}", MaxPool2d(3, 2)),
                (f"conv3_{k}", Conv2d(48, 64, 2, **kw)), (f"prelu3_{k}", PReLU(64, dtype=dtype)),
            ])
        self.trunk = [("flatten", Flatten()), ("fc4", Linear(2880, 256, **kw)), ("prelu4", PReLU(256, dtype=dtype))]
        self.heads = {f"point{k}": [(f"fc4_{k}", Linear(256, 64, **kw)), (f"prelu4_{k}", PReLU(64, dtype=dtype)),
                                    (f"fc5_{k}", Linear(64, 2, **kw))] for k in range(1, 6)}

    def named_modules(self):
        for branch in self.branches:
            yield from branch
        yield from super().named_modules()

    def forward_trunk(self, x, *, record=True):
        """Each landmark's branch on its three channels (``x (15, 24, 24, N)``: rows ``3k..3k+2``), then
        the shared trunk on the joined maps."""
        maps = []
        for k, branch in enumerate(self.branches):
            y = x[3 * k:3 * k + 3]
            for _, m in branch:
                y = m.forward(y) if record else m.infer(y)
            maps.append(y)
        return super().forward_trunk(np.concatenate(maps, axis=0), record=record)

    def _finish(self, out):
        """Adds ``landmark_offsets (N, 5, 2)`` to the heads' ``"point1".."point5": (N, 2)``."""
        out["landmark_offsets"] = np.stack([out[f"point{k}"] for k in range(1, 6)], axis=1)
        return out

    def backward(self, grads, *, input_grad=True, trunk=True):
        """Accepts ``{"landmark_offsets": (N, 5, 2)}`` or per-point ``{"pointK": (N, 2)}``; returns dL/dx
        (see :meth:`Net.backward`: the heads, then :meth:`backward_trunk`)."""
        grads = dict(grads)
        if "landmark_offsets" in grads:
            g = grads.pop("landmark_offsets")
            for k in range(1, 6):
                grads[f"point{k}"] = g[:, k - 1]
        return super().backward(grads, input_grad=input_grad, trunk=trunk)

    def backward_trunk(self, dfeat, *, input_grad=True):
        """The shared trunk (its input gradient is needed: the branches are below it), then each branch."""
        dfeat = super().backward_trunk(dfeat, input_grad=True)
        dx = []
        for k, branch in enumerate(self.branches):
            g = dfeat[64 * k:64 * (k + 1)]
            for i, (_, m) in enumerate(reversed(branch)):
                last = i == len(branch) - 1  # the branch's first layer: its input gradient is dL/dx
                g = m.backward(g) if input_grad or not last else m.backward(g, input_grad=False)
            dx.append(g)
        return np.concatenate(dx, axis=0) if input_grad else None
