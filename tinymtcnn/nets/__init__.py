"""The four MTCNN networks with hand-written forward and backward passes."""
from .base import Net
from .cascade import ONet, PNet, RNet
from .lnet import LNet

__all__ = ["Net", "PNet", "RNet", "ONet", "LNet"]
