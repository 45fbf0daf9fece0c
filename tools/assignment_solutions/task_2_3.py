"""Task 2.3, PReLU forward and backward: element by element, from the formulas of layers/prelu.py."""
import numpy as np


def prelu_forward_naive(x, alpha):
    """Body of the region: sets ``out`` (the copy's own ``return out, PReLUCache(x, alpha)`` follows)."""
    out = x.copy()
    flat = out.reshape(x.shape[0], x.shape[1], -1)  # a view: writing through it fills out
    for n in range(flat.shape[0]):
        for c in range(flat.shape[1]):
            for s in range(flat.shape[2]):
                if flat[n, c, s] <= 0:
                    flat[n, c, s] = alpha[c] * flat[n, c, s]


def prelu_backward_naive(dout, cache):
    """Body of the region: returns ``(dx, dalpha)``."""
    inputs = cache.x.reshape(cache.x.shape[0], cache.x.shape[1], -1)
    grads = dout.reshape(inputs.shape)
    dx = np.zeros(inputs.shape, dtype=dout.dtype)
    dalpha = np.zeros(len(cache.alpha), dtype=dout.dtype)
    for n in range(inputs.shape[0]):
        for c in range(inputs.shape[1]):
            for s in range(inputs.shape[2]):
                if inputs[n, c, s] > 0:
                    dx[n, c, s] = grads[n, c, s]
                else:
                    dx[n, c, s] = cache.alpha[c] * grads[n, c, s]
                    dalpha[c] += grads[n, c, s] * inputs[n, c, s]
    return dx.reshape(dout.shape), dalpha
