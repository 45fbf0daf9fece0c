"""Direct 3x3 convolution fused with bias + PReLU, and the whole P-Net trunk in strips.

P-Net has few channels (3 -> 10 -> 16 -> 32), where unrolling windows with im2col
costs more memory traffic than the products themselves, and its input can be a
4800x3600 pyramid level. So inference runs it directly, one horizontal strip at
a time: every buffer is a few hundred KB, whatever the photo size.

Formulas (one image, ``x (C, H, W)``, ``w (F, C, 3, 3)``)::

    conv3x3_prelu:  y[f, oy, ox] = b[f] + sum_{c,i,j} w[f, c, i, j] * x[c, oy + i, ox + j]
                    out = y if y > 0 else alpha[f] * y          (OH = H - 2, OW = W - 2)

    pnet_trunk:     x (3, H, W) -> conv1 3x3 + PReLU -> max-pool 2/2 (Caffe ceil mode)
                    -> conv2 3x3 + PReLU -> conv3 3x3 + PReLU -> 1x1 heads
                    heads (Fh, h, w),  h = pool_output_size(H - 2, 2, 2) - 4  (w likewise)

Strips: final rows ``[r0, r1)`` need pool rows ``[r0, r1 + 4)``, conv1 rows
``[2 r0, min(2 (r1 + 4), H - 2))`` and input rows ``[2 r0, that + 2)``. Every output
value is computed with the same operations in the same order whatever the strip
height, so the result does not depend on it (the tests check this bit for bit).

``conv3x3_prelu_naive`` / ``pnet_trunk_naive`` are the readable numpy twins;
``conv3x3_prelu`` / ``pnet_trunk`` the Numba kernels (float32; products are fused
multiply-adds, so they agree with the twins to float32 rounding, not bit for bit).
"""
import numpy as np

from ._jit import get_num_threads, jit, parallel_map
from .maxpool import maxpool_forward_naive, pool_output_size

_FMA = {"contract"}  # let LLVM fuse a*b + c; no reassociation


# --------------------------------------------------------------------------- plain twins
def conv3x3_prelu_naive(x, w, b, alpha):
    """Readable twin: ``x (C, H, W)`` -> ``(F, H-2, W-2)``; formula in the module docstring."""
    # >>> STUDENT-FAST 2.1: return _student_conv3x3_prelu(x, w, b, alpha)
    c, h, wd = x.shape
    win = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))  # (C, OH, OW, 3, 3)
    y = np.einsum("chwij,fcij->fhw", win.astype(np.float64), w.astype(np.float64)) + b[:, None, None]
    y = np.where(y > 0, y, alpha[:, None, None] * y)
    return y.astype(x.dtype)
    # <<< STUDENT-FAST 2.1


def _student_conv3x3_prelu(x, w, b, alpha):
    """The student copy's :func:`conv3x3_prelu_naive` (STUDENT-FAST, tools/assignment_source.py): the
    student's ``conv2d_forward_naive`` and ``prelu_forward_naive``, in float64."""
    from ..layers.conv import conv2d_forward_naive  # (imported late: layers import kernels)
    from ..layers.prelu import prelu_forward_naive

    f64 = np.float64  # one image (C, H, W) is the layers' (C, H, W, N) with N = 1
    y, _ = conv2d_forward_naive(x[..., None].astype(f64), w.astype(f64), np.asarray(b, dtype=f64))
    return prelu_forward_naive(y, np.asarray(alpha, dtype=f64))[0][..., 0].astype(x.dtype)


def pnet_trunk_naive(x, w1, b1, a1, w2, b2, a2, w3, b3, a3, wh, bh):
    """Readable twin of :func:`pnet_trunk` on the whole image at once (float64 inside).

    ``x (3, H, W)``; ``w1 (10, 3, 3, 3)``, ``w2 (16, 10, 3, 3)``, ``w3 (32, 16, 3, 3)``;
    ``wh (Fh, 32)`` the stacked 1x1 heads, ``bh (Fh,)``. Returns ``(Fh, h, w)`` float32.
    """
    y = conv3x3_prelu_naive(x, w1, b1, a1)
    y = maxpool_forward_naive(y[..., None], 2, 2)[0][..., 0]
    y = conv3x3_prelu_naive(y, w2, b2, a2)
    y = conv3x3_prelu_naive(y, w3, b3, a3)
    heads = np.einsum("fc,chw->fhw", wh.astype(np.float64), y.astype(np.float64)) + bh[:, None, None]
    return heads.astype(np.float32)


# --------------------------------------------------------------------------- Numba kernels
@jit(fastmath=_FMA)
def _conv3x3_prelu_rows(x, w, b, alpha, out):
    """``out (F, OH, OW) = prelu(conv3x3(x (C, H, W)) + b)``, two output channels per pass.

    The inner loop runs along an output row, so it vectorises; each pass reads the
    three input rows once for two filters.
    """
    c_n = x.shape[0]
    f_n, oh, ow = out.shape
    spare = np.empty(ow, dtype=out.dtype)  # the partner's row when F is odd
    for y in range(oh):
        for f in range(0, f_n, 2):
            g = min(f + 1, f_n - 1)  # the partner filter (f itself when F is odd: results go to spare)
            o = out[f, y]
            p = out[g, y] if g != f else spare
            bf = b[f]
            bg = b[g]
            for ox in range(ow):
                o[ox] = bf
                p[ox] = bg
            for c in range(c_n):
                r0 = x[c, y]
                r1 = x[c, y + 1]
                r2 = x[c, y + 2]
                u00, u01, u02 = w[f, c, 0, 0], w[f, c, 0, 1], w[f, c, 0, 2]
                u10, u11, u12 = w[f, c, 1, 0], w[f, c, 1, 1], w[f, c, 1, 2]
                u20, u21, u22 = w[f, c, 2, 0], w[f, c, 2, 1], w[f, c, 2, 2]
                v00, v01, v02 = w[g, c, 0, 0], w[g, c, 0, 1], w[g, c, 0, 2]
                v10, v11, v12 = w[g, c, 1, 0], w[g, c, 1, 1], w[g, c, 1, 2]
                v20, v21, v22 = w[g, c, 2, 0], w[g, c, 2, 1], w[g, c, 2, 2]
                for ox in range(ow):
                    x00, x01, x02 = r0[ox], r0[ox + 1], r0[ox + 2]
                    x10, x11, x12 = r1[ox], r1[ox + 1], r1[ox + 2]
                    x20, x21, x22 = r2[ox], r2[ox + 1], r2[ox + 2]
                    o[ox] += (u00 * x00 + u01 * x01 + u02 * x02 + u10 * x10 + u11 * x11 + u12 * x12
                              + u20 * x20 + u21 * x21 + u22 * x22)
                    p[ox] += (v00 * x00 + v01 * x01 + v02 * x02 + v10 * x10 + v11 * x11 + v12 * x12
                              + v20 * x20 + v21 * x21 + v22 * x22)
    for f in range(f_n):
        a = alpha[f]
        for y in range(oh):
            for ox in range(ow):
                v = out[f, y, ox]
                if not v > 0:
                    out[f, y, ox] = a * v


@jit(inline="always")
def _max4(a, b, c, d):
    """The first of the largest of ``a, b, c, d`` (scanned in that order, as a window loop would)."""
    best = a
    if b > best:
        best = b
    if c > best:
        best = c
    if d > best:
        best = d
    return best


@jit
def _maxpool2_rows(x, out):
    """Caffe ceil-mode 2x2/2 max-pool of ``x (C, H, W)`` into ``out (C, OH, OW)``; edge windows are partial.

    Full windows take the max of their four values in window order (row by row), with no
    inner window loops, so the loop along a row vectorises; a partial last column or row
    (odd ``W`` or ``H``) takes the max of the values it has.
    """
    c_n, h, w = x.shape
    oh, ow = out.shape[1], out.shape[2]
    full_w = w // 2
    for c in range(c_n):
        for oy in range(oh):
            y0 = 2 * oy
            dst = out[c, oy]
            r0 = x[c, y0]
            if y0 + 1 < h:
                r1 = x[c, y0 + 1]
                for ox in range(full_w):
                    dst[ox] = _max4(r0[2 * ox], r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1])
                if ow > full_w:  # odd width: a 1x2 window at the right edge
                    a = r0[w - 1]
                    b = r1[w - 1]
                    dst[ow - 1] = b if b > a else a
            else:  # odd height: 2x1 windows along the bottom edge
                for ox in range(full_w):
                    a = r0[2 * ox]
                    b = r0[2 * ox + 1]
                    dst[ox] = b if b > a else a
                if ow > full_w:
                    dst[ow - 1] = r0[w - 1]


@jit(fastmath=_FMA)  # called from Python, one strip per call, on parallel_map's threads
def _pnet_strip(x, r0, r1, wp, w1, b1, a1, w2, b2, a2, w3, b3, a3, wh, bh, out):
    """Final rows ``[r0, r1)`` of the P-Net trunk (see the module docstring)."""
    c_in, hs, ws = x.shape
    h1, w1n = hs - 2, ws - 2
    c0 = 2 * r0
    c1 = min(2 * (r1 + 4), h1)
    xin = np.empty((c_in, c1 + 2 - c0, ws), dtype=np.float32)
    for c in range(c_in):  # a contiguous copy of the input rows (x may be a strided view)
        for y in range(c1 + 2 - c0):
            for xx in range(ws):
                xin[c, y, xx] = x[c, c0 + y, xx]
    y1 = np.empty((w1.shape[0], c1 - c0, w1n), dtype=np.float32)
    _conv3x3_prelu_rows(xin, w1, b1, a1, y1)
    pooled = np.empty((w1.shape[0], r1 + 4 - r0, wp), dtype=np.float32)
    _maxpool2_rows(y1, pooled)
    y2 = np.empty((w2.shape[0], r1 + 2 - r0, wp - 2), dtype=np.float32)
    _conv3x3_prelu_rows(pooled, w2, b2, a2, y2)
    y3 = np.empty((w3.shape[0], r1 - r0, wp - 4), dtype=np.float32)
    _conv3x3_prelu_rows(y2, w3, b3, a3, y3)
    ow = wp - 4
    for f in range(wh.shape[0]):
        for y in range(r1 - r0):
            o = out[f, r0 + y]
            bf = bh[f]
            for ox in range(ow):
                o[ox] = bf
            for c in range(wh.shape[1]):
                wv = wh[f, c]
                src = y3[c, y]
                for ox in range(ow):
                    o[ox] += wv * src[ox]


def conv3x3_prelu(x, w, b, alpha):
    """Numba twin of :func:`conv3x3_prelu_naive`: ``x (C, H, W)`` float32 -> ``(F, H-2, W-2)``."""
    assert x.ndim == 3 and w.shape[1:] == (x.shape[0], 3, 3)
    out = np.empty((w.shape[0], x.shape[1] - 2, x.shape[2] - 2), dtype=np.float32)
    f32 = [np.ascontiguousarray(a, dtype=np.float32) for a in (x, w, b, alpha)]
    _conv3x3_prelu_rows(*f32, out)
    return out


def pnet_output_size(height, width):
    """Size ``(h, w)`` of P-Net's output map on an ``height x width`` input."""
    return pool_output_size(height - 2, 2, 2) - 4, pool_output_size(width - 2, 2, 2) - 4


def pnet_trunk(x, w1, b1, a1, w2, b2, a2, w3, b3, a3, wh, bh, *, rows=None):
    """P-Net trunk + 1x1 heads on one image ``x (3, H, W)``, in strips of ``rows`` output rows.

    Same arguments and result ``(Fh, h, w)`` float32 as :func:`pnet_trunk_naive`;
    ``rows=None`` picks strips of about 1 MB of conv3 output. A big level (``h*w >= 2**14`` outputs,
    about 4 ms of work) with more than one thread allowed (:func:`~._jit.get_num_threads`) is cut
    into at least 8 strips that :func:`~._jit.parallel_map`'s threads take one by one. Needs
    ``h, w >= 1`` (input at least 12x12). ``x`` may be a strided view (e.g. an HWC pyramid level
    transposed): it is read strip by strip, never copied whole.
    """
    assert x.ndim == 3 and x.shape[0] == w1.shape[1] and x.dtype == np.float32
    hs, ws = x.shape[1:]
    h, w = pnet_output_size(hs, ws)
    assert h >= 1 and w >= 1, "P-Net needs an input of at least 12x12"
    parallel = get_num_threads() > 1 and h * w >= 1 << 14
    if rows is None:
        rows = max(16, (1 << 18) // (w3.shape[0] * w))  # ~1 MB of conv3 output per strip
        if parallel:
            rows = max(4, min(rows, -(-h // 8)))  # at least 8 strips to share out
    args = [np.ascontiguousarray(a, dtype=np.float32) for a in (w1, b1, a1, w2, b2, a2, w3, b3, a3, wh, bh)]
    out = np.empty((wh.shape[0], h, w), dtype=np.float32)
    strips = [(r0, min(r0 + int(rows), h)) for r0 in range(0, h, int(rows))]
    parallel_map(lambda s: _pnet_strip(x, s[0], s[1], w + 4, *args, out), strips, None if parallel else 1)
    return out
