"""im2col / col2im: unroll convolution windows into columns, and fold them back.

Layout (both twins)::

    x     : (N, C, H, W)
    cols  : (N, C*KH*KW, OH*OW)
    row    r = (c*KH + i)*KW + j          (channel, kernel row, kernel column)
    column p = oy*OW + ox                 (output row, output column)
    cols[n, r, p] = x[n, c, oy*stride - pad + i, ox*stride - pad + j]   (0 outside the image)

``OH = (H + 2*pad - KH) // stride + 1`` and likewise ``OW``.

``im2col_reference`` / ``col2im_reference`` are the readable numpy twins (the
oracle in the tests); ``im2col`` / ``col2im`` are the Numba loops used by the
layers.
"""
import numpy as np

from ._jit import jit_serial_or_parallel, prange


def conv_output_size(size, kernel, stride, pad):
    """Output length of a convolution along one axis: ``(size + 2*pad - kernel) // stride + 1``."""
    return (size + 2 * pad - kernel) // stride + 1


# --------------------------------------------------------------------------- plain twins
def im2col_reference(x, kh, kw, stride, pad):
    """Readable im2col with numpy's sliding windows. Shapes as in the module docstring."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    win = win[:, :, ::stride, ::stride]  # (N, C, OH, OW, KH, KW)
    oh, ow = win.shape[2], win.shape[3]
    return np.ascontiguousarray(win.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow))


def col2im_reference(cols, x_shape, kh, kw, stride, pad):
    """Readable col2im: add every column entry back to the pixel it was read from."""
    n, c, h, w = x_shape
    oh = conv_output_size(h, kh, stride, pad)
    ow = conv_output_size(w, kw, stride, pad)
    xp = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=cols.dtype)
    c6 = cols.reshape(n, c, kh, kw, oh, ow)
    for i in range(kh):
        for j in range(kw):
            xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride] += c6[:, :, i, j]
    return xp[:, :, pad:pad + h, pad:pad + w]


# --------------------------------------------------------------------------- Numba kernels
@jit_serial_or_parallel
def _im2col_loop(x, kh, kw, stride, pad, oh, ow, cols):
    n, c, h, w = x.shape
    for nc in prange(n * c):
        b = nc // c
        ch = nc % c
        for i in range(kh):
            for j in range(kw):
                r = (ch * kh + i) * kw + j
                for oy in range(oh):
                    y = oy * stride - pad + i
                    if y < 0 or y >= h:
                        for ox in range(ow):
                            cols[b, r, oy * ow + ox] = 0.0
                        continue
                    for ox in range(ow):
                        xx = ox * stride - pad + j
                        if xx < 0 or xx >= w:
                            cols[b, r, oy * ow + ox] = 0.0
                        else:
                            cols[b, r, oy * ow + ox] = x[b, ch, y, xx]


@jit_serial_or_parallel
def _col2im_loop(cols, kh, kw, stride, pad, oh, ow, x):
    n, c, h, w = x.shape
    for nc in prange(n * c):
        b = nc // c
        ch = nc % c
        for i in range(kh):
            for j in range(kw):
                r = (ch * kh + i) * kw + j
                for oy in range(oh):
                    y = oy * stride - pad + i
                    if y < 0 or y >= h:
                        continue
                    for ox in range(ow):
                        xx = ox * stride - pad + j
                        if 0 <= xx < w:
                            x[b, ch, y, xx] += cols[b, r, oy * ow + ox]


def im2col(x, kh, kw, stride=1, pad=0):
    """Unroll ``x`` (N, C, H, W) into columns (N, C*KH*KW, OH*OW); Numba kernel."""
    assert x.ndim == 4
    n, c, h, w = x.shape
    oh = conv_output_size(h, kh, stride, pad)
    ow = conv_output_size(w, kw, stride, pad)
    cols = np.empty((n, c * kh * kw, oh * ow), dtype=x.dtype)
    _im2col_loop(cols.size, np.ascontiguousarray(x), kh, kw, stride, pad, oh, ow, cols)
    return cols


def col2im(cols, x_shape, kh, kw, stride=1, pad=0):
    """Fold columns (N, C*KH*KW, OH*OW) back into an (N, C, H, W) array, summing overlaps."""
    n, c, h, w = x_shape
    oh = conv_output_size(h, kh, stride, pad)
    ow = conv_output_size(w, kw, stride, pad)
    assert cols.shape == (n, c * kh * kw, oh * ow)
    x = np.zeros(x_shape, dtype=cols.dtype)
    _col2im_loop(cols.size, np.ascontiguousarray(cols), kh, kw, stride, pad, oh, ow, x)
    return x
