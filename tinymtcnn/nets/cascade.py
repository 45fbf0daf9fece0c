"""P-Net, R-Net and O-Net (``det1``, ``det2``, ``det3`` of the authors' release).

Layer names are the prototxt's, so weight keys read ``"conv1.w"``, ``"PReLU1.alpha"``,
``"conv4-1.b"``... Every net works on natural ``(N, 3, H=y, W=x)`` images: the
Caffe transposition is undone once, in the weight loader (``tinymtcnn.weights.layout``).

================  ===============================================  ============
net               layers (spec §1.2-1.4)                            parameters
================  ===============================================  ============
PNet (12x12, FCN) conv3-10 PReLU pool2/2 conv3-16 PReLU conv3-32      6,632
                  PReLU -> conv1x1-2 (face), conv1x1-4 (box)
RNet (24x24)      conv3-28 pool3/2 conv3-48 pool3/2 conv2-64         100,178
                  fc576-128 -> fc2 (face), fc4 (box)
ONet (48x48)      conv3-32 pool3/2 conv3-64 pool3/2 conv3-64         389,040
                  pool2/2 conv2-128 fc1152-256 -> fc2, fc4, fc10
================  ===============================================  ============

All pools are Caffe ceil-mode max pools. ``landmark_head=True`` adds a landmark
head to P-Net (``conv4-3``) and R-Net (``conv5-3``, present but undeclared in
``det2.caffemodel``) for joint training with the paper's landmark loss.
"""
import numpy as np

from ..layers.modules import Conv2d, Dropout, Flatten, Linear, MaxPool2d, PReLU
from .base import Net


class PNet(Net):
    """Proposal net: fully convolutional, one 12x12 window per output cell (stride 2).

    ``forward(x (N, 3, H, W))`` returns ``face_logits (N, 2, h, w)``, ``face_prob (N, h, w)``,
    ``box_reg (N, 4, h, w)`` [and ``landmarks (N, 10, h, w)``] with ``h = ceil(H/2) - 5``.
    """

    in_channels = 3

    def __init__(self, *, landmark_head=False, dtype=np.float32, rng=None, init="xavier"):
        super().__init__(dtype)
        kw = dict(dtype=dtype, rng=rng, init=init)
        self.trunk = [
            ("conv1", Conv2d(3, 10, 3, **kw)), ("PReLU1", PReLU(10, dtype=dtype)),
            ("pool1", MaxPool2d(2, 2)),
            ("conv2", Conv2d(10, 16, 3, **kw)), ("PReLU2", PReLU(16, dtype=dtype)),
            ("conv3", Conv2d(16, 32, 3, **kw)), ("PReLU3", PReLU(32, dtype=dtype)),
        ]
        self.heads = {"face_logits": [("conv4-1", Conv2d(32, 2, 1, **kw))],
                      "box_reg": [("conv4-2", Conv2d(32, 4, 1, **kw))]}
        if landmark_head:
            self.heads["landmarks"] = [("conv4-3", Conv2d(32, 10, 1, **kw))]


class RNet(Net):
    """Refinement net on 24x24 crops: ``face_logits (N, 2)``, ``face_prob (N,)``, ``box_reg (N, 4)``
    [and ``landmarks (N, 10)``]."""

    in_channels = 3
    input_size = 24

    def __init__(self, *, landmark_head=False, dtype=np.float32, rng=None, init="xavier"):
        super().__init__(dtype)
        kw = dict(dtype=dtype, rng=rng, init=init)
        self.trunk = [
            ("conv1", Conv2d(3, 28, 3, **kw)), ("prelu1", PReLU(28, dtype=dtype)),
            ("pool1", MaxPool2d(3, 2)),
            ("conv2", Conv2d(28, 48, 3, **kw)), ("prelu2", PReLU(48, dtype=dtype)),
            ("pool2", MaxPool2d(3, 2)),
            ("conv3", Conv2d(48, 64, 2, **kw)), ("prelu3", PReLU(64, dtype=dtype)),
            ("flatten", Flatten()),
            ("conv4", Linear(576, 128, **kw)), ("prelu4", PReLU(128, dtype=dtype)),
        ]
        self.heads = {"face_logits": [("conv5-1", Linear(128, 2, **kw))],
                      "box_reg": [("conv5-2", Linear(128, 4, **kw))]}
        if landmark_head:
            self.heads["landmarks"] = [("conv5-3", Linear(128, 10, **kw))]


class ONet(Net):
    """Output net on 48x48 crops: ``face_logits (N, 2)``, ``face_prob (N,)``, ``box_reg (N, 4)``,
    ``landmarks (N, 10)`` planar ``(x1..x5, y1..y5)`` in units of the crop."""

    in_channels = 3
    input_size = 48

    def __init__(self, *, dtype=np.float32, rng=None, init="xavier", dropout=0.25):
        super().__init__(dtype)
        kw = dict(dtype=dtype, rng=rng, init=init)
        self.trunk = [
            ("conv1", Conv2d(3, 32, 3, **kw)), ("prelu1", PReLU(32, dtype=dtype)),
            ("pool1", MaxPool2d(3, 2)),
            ("conv2", Conv2d(32, 64, 3, **kw)), ("prelu2", PReLU(64, dtype=dtype)),
            ("pool2", MaxPool2d(3, 2)),
            ("conv3", Conv2d(64, 64, 3, **kw)), ("prelu3", PReLU(64, dtype=dtype)),
            ("pool3", MaxPool2d(2, 2)),
            ("conv4", Conv2d(64, 128, 2, **kw)), ("prelu4", PReLU(128, dtype=dtype)),
            ("flatten", Flatten()),
            ("conv5", Linear(1152, 256, **kw)), ("drop5", Dropout(dropout, rng=rng)),
            ("prelu5", PReLU(256, dtype=dtype)),
        ]
        self.heads = {"face_logits": [("conv6-1", Linear(256, 2, **kw))],
                      "box_reg": [("conv6-2", Linear(256, 4, **kw))],
                      "landmarks": [("conv6-3", Linear(256, 10, **kw))]}
