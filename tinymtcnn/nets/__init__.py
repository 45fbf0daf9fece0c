"""The four MTCNN networks with hand-written forward and backward passes."""
from .base import Net
from .cascade import ONet, PNet, RNet
from .lnet import LNet

#: The net class of each kind, the one table that maps a kind name to its net.
NET_CLASSES = {"pnet": PNet, "rnet": RNet, "onet": ONet, "lnet": LNet}


def build_net(kind, *, landmark_head=False, **options):
    """A new net of ``kind`` (``"pnet"``, ``"rnet"``, ``"onet"`` or ``"lnet"``).

    ``landmark_head`` adds the landmark head to P-Net and R-Net (O-Net and LNet always have one);
    the other keyword arguments (``dtype``, ``rng``, ``init``, O-Net's ``dropout``) go to the class.
    """
    if kind not in NET_CLASSES:
        raise ValueError(f"unknown net kind {kind!r}; expected one of {tuple(NET_CLASSES)}")
    if kind in ("pnet", "rnet"):
        options["landmark_head"] = landmark_head
    return NET_CLASSES[kind](**options)


__all__ = ["Net", "PNet", "RNet", "ONet", "LNet", "NET_CLASSES", "build_net"]
