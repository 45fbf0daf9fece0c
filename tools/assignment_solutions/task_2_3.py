"""Task 2.3, PReLU forward and backward: element by element, from the formulas of layers/prelu.py.

The channel is axis 0: ``x`` is ``(C, H, W, N)`` or ``(C, N)``."""
import numpy as np


def prelu_forward_naive(x, alpha):
    """Body of the region: sets ``out`` (the copy's own ``return out, PReLUCache(x, alpha)`` follows)."""
    out = x.copy()
    flat = out.reshape(x.shape[0], -1)  # a view: writing through it fills out
    for c in range(flat.shape[0]):
        for s in range(flat.shape[1]):
            if flat[c, s] <= 0:
                flat[c, s] = alpha[c] * flat[c, s]


def prelu_backward_naive(dout, cache):
    """Body of the region: returns ``(dx, dalpha)``."""
    inputs = cache.x.reshape(cache.x.shape[0], -1)
    grads = dout.reshape(inputs.shape)
    dx = np.zeros(inputs.shape, dtype=dout.dtype)
    dalpha = np.zeros(len(cache.alpha), dtype=dout.dtype)
    for c in range(inputs.shape[0]):
        for s in range(inputs.shape[1]):
            if inputs[c, s] > 0:
                dx[c, s] = grads[c, s]
            else:
                dx[c, s] = cache.alpha[c] * grads[c, s]
                dalpha[c] += grads[c, s] * inputs[c, s]
    return dx.reshape(dout.shape), dalpha
