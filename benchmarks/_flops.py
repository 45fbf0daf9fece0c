"""The cascade's arithmetic: multiply-adds of the convolutions and fully connected layers actually run.

Counted from the nets' layer shapes (``tinymtcnn/nets/cascade.py``, ``nets/lnet.py``), not measured:
a convolution of ``C`` to ``F`` channels with a ``KH x KW`` kernel on an ``OH x OW`` output is
``F * OH * OW * C * KH * KW`` multiply-adds; a fully connected layer ``I -> O`` is ``I * O``. Bias,
PReLU, pooling, resampling and NMS are left out (a few percent of the work). P-Net runs over every
pyramid level; R-Net on the candidates stage 1 gave; O-Net on those of stage 2 (and again on the
mirrored crops of the final faces for ``landmarks="mirror"/"auto"/"tuned"``); LNet on the faces that
``landmarks="auto"`` refines (all of them for ``"refine"``). GFLOP = 2 x multiply-adds / 1e9.
"""
import numpy as np

from tinymtcnn.kernels.im2col import conv_output_size
from tinymtcnn.kernels.maxpool import pool_output_size
from tinymtcnn.layers.modules import Conv2d, Linear, MaxPool2d


def layers_macs(layers, shape):
    """Multiply-adds of ``layers`` (``[(name, module)]``) on one input of ``shape`` (``(C, H, W)`` or
    ``(F,)``); returns ``(macs, output shape)``."""
    macs = 0
    for _, m in layers:
        if isinstance(m, Conv2d):
            f, c, kh, kw = m.params["w"].shape
            if shape[0] != c:
                raise ValueError(f"a convolution of {c} input channels on an input of shape {shape}")
            oh = conv_output_size(shape[1], kh, m.stride, m.pad)
            ow = conv_output_size(shape[2], kw, m.stride, m.pad)
            macs += f * oh * ow * c * kh * kw
            shape = (f, oh, ow)
        elif isinstance(m, MaxPool2d):
            shape = (shape[0], *(pool_output_size(s, m.kernel, m.stride, m.ceil_mode) for s in shape[1:]))
        elif isinstance(m, Linear):
            o, i = m.params["w"].shape
            if int(np.prod(shape)) != i:
                raise ValueError(f"a fully connected layer of {i} inputs on an input of shape {shape}")
            macs += i * o
            shape = (o,)
        elif type(m).__name__ == "Flatten":
            shape = (int(np.prod(shape)),)
        # PReLU, Dropout: no multiply-adds counted, shape unchanged
    return macs, shape


def net_macs(net, height, width):
    """Multiply-adds of ``net`` (trunk and every head) on one input of ``height x width`` pixels.

    A net with ``branches`` (LNet) runs branch ``k`` on input channels ``3k..3k+2`` and concatenates
    their outputs along the channels before its trunk.
    """
    macs = 0
    branches = getattr(net, "branches", None)
    if branches:
        outs = []
        for branch in branches:
            m, out = layers_macs(branch, (3, height, width))
            macs += m
            outs.append(out)
        shape = (sum(o[0] for o in outs), *outs[0][1:])
    else:
        shape = (net.in_channels, height, width)
    m, shape = layers_macs(net.trunk, shape)
    macs += m
    return macs + sum(layers_macs(head, shape)[0] for head in net.heads.values())


def cascade_macs(levels, counts, nets):
    """Multiply-adds per net: ``{"pnet", "rnet", "onet", "lnet"}``.

    Parameters
    ----------
    levels : list of (h, w)
        The pyramid levels P-Net ran on.
    counts : dict
        How many inputs each of the other nets got: ``{"rnet": K2, "onet": K3, "lnet": K4}``
        (24x24 crops, 48x48 crops, faces refined by LNet: 5 patches of 24x24 each, one input
        of 15 channels).
    nets : dict
        ``MTCNN().nets``.
    """
    out = {"pnet": sum(net_macs(nets["pnet"], h, w) for h, w in levels)}
    for key, size in (("rnet", 24), ("onet", 48), ("lnet", 24)):
        k = counts.get(key, 0)
        out[key] = k * net_macs(nets[key], size, size) if k else 0
    return out


def detection_counts(detector, image):
    """``(levels, counts)`` of one ``detector.detect(image)`` (:class:`tinymtcnn.MTCNN`), from ``trace``."""
    from tinymtcnn.detect.detector import auto_refine_weight
    from tinymtcnn.io import load_image

    image = load_image(image)
    tr = detector.trace(image)
    faces = tr["onet"]
    k2, k3, k4 = len(tr["pnet"][0]), len(tr["rnet"][0]), len(faces)
    onet = k3 + (k4 if detector.landmarks in ("mirror", "auto", "tuned") else 0)
    if detector.landmarks == "refine":
        lnet = k4
    elif detector.landmarks == "auto" and k4:
        b = faces.boxes
        lnet = int(np.count_nonzero(auto_refine_weight(np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])) > 0))
    else:
        lnet = 0
    return [size for _, size in tr["pyramid"]], {"rnet": k2, "onet": onet, "lnet": lnet}
