import numpy as np


def conv2d_backward_naive(dout, cache):
    """Every output cell sends its gradient back through the window it read (x is (C, H, W, N))."""
    x, w, stride, pad = cache.x, cache.w, cache.stride, cache.pad
    n_ch, height, width, n_img = x.shape
    n_f, _, k_h, k_w = w.shape
    padded = np.zeros((n_ch, height + 2 * pad, width + 2 * pad, n_img), dtype=x.dtype)
    padded[:, pad:pad + height, pad:pad + width] = x
    grad_padded = np.zeros_like(padded)
    grad_w = np.zeros(w.shape, dtype=dout.dtype)
    for img in range(n_img):
        for f in range(n_f):
            for row in range(dout.shape[1]):
                for col in range(dout.shape[2]):
                    g = dout[f, row, col, img]
                    top, left = row * stride, col * stride
                    grad_w[f] += g * padded[:, top:top + k_h, left:left + k_w, img]
                    grad_padded[:, top:top + k_h, left:left + k_w, img] += g * w[f]
    grad_b = np.array([dout[f].sum() for f in range(n_f)], dtype=dout.dtype)
    return grad_padded[:, pad:pad + height, pad:pad + width], grad_w, grad_b
