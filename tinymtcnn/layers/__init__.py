"""Hand-written layers: forward/backward function pairs and the thin classes around them."""
from .conv import ConvCache, conv2d_backward, conv2d_backward_naive, conv2d_forward, conv2d_forward_naive
from .linear import LinearCache, linear_backward, linear_backward_naive, linear_forward, linear_forward_naive
from .modules import Conv2d, Dropout, Flatten, Linear, MaxPool2d, Module, PReLU, init_weight
from .pool import (MaxPoolCache, maxpool2d_backward, maxpool2d_backward_naive, maxpool2d_forward,
                   maxpool2d_forward_naive, maxpool2d_values, pool_output_size)
from .prelu import PReLUCache, prelu_backward, prelu_backward_naive, prelu_forward, prelu_forward_naive
from .softmax import log_softmax, softmax, softmax_cross_entropy

__all__ = [
    "ConvCache", "conv2d_forward", "conv2d_backward", "conv2d_forward_naive", "conv2d_backward_naive",
    "LinearCache", "linear_forward", "linear_backward", "linear_forward_naive", "linear_backward_naive",
    "MaxPoolCache", "maxpool2d_forward", "maxpool2d_backward", "maxpool2d_forward_naive",
    "maxpool2d_backward_naive", "maxpool2d_values", "pool_output_size",
    "PReLUCache", "prelu_forward", "prelu_backward", "prelu_forward_naive", "prelu_backward_naive",
    "softmax", "log_softmax", "softmax_cross_entropy",
    "Module", "Conv2d", "PReLU", "MaxPool2d", "Linear", "Flatten", "Dropout", "init_weight",
]
