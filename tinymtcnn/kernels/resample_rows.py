"""The row kernel shared by the resampler, the pyramid levels and the R-Net/O-Net crops.

Port of: imResampleMex.cpp (``resample``), one output row at a time; see
:mod:`tinymtcnn.kernels.resample` for the weights and their readable twin. Along y, each
output row is ``sum_t w_t * row_t`` over consecutive source rows, the rows of equal weight
(the whole source pixels of an area average, all but the two partial ends) summed first and
multiplied once; along x, each output pixel sums its run of taps. Numba kernels only: their
twin is ``resample_naive`` (the tests compare them).
"""
import numpy as np

from ._jit import jit

_MIN_SPAN = 4  # fewer equal taps: summing them separately would not pay


@jit
def _tap_runs(idx, wts):
    """The tap tables of :func:`~tinymtcnn.kernels.resample.axis_taps` as runs: ``first (n_out,)``,
    ``run (n_out, T)`` and ``span (n_out, 2)``.

    ``run[b, t]`` is the weight of source index ``first[b] + t`` (the taps of one output are
    consecutive indices, in order; unused entries 0). A run may reach up to ``T - 1`` indices
    past the source's end: the callers' row buffers have ``T`` zero entries there, so no index
    needs clamping. ``run[b, lo:hi]`` with ``(lo, hi) = span[b]`` are equal weights (the whole
    source pixels of an area average; ``hi - lo >= _MIN_SPAN``, else ``(0, 0)``): their rows can be
    summed first and multiplied once.
    """
    n_out, taps = idx.shape
    first = np.empty(n_out, dtype=np.int64)
    run = np.zeros((n_out, taps), dtype=np.float64)
    span = np.zeros((n_out, 2), dtype=np.int64)
    for b in range(n_out):
        first[b] = idx[b, 0]
        n_t = 0
        for t in range(taps):
            if wts[b, t] != 0.0:
                run[b, idx[b, t] - first[b]] = wts[b, t]
                n_t = idx[b, t] - first[b] + 1
        if n_t >= 3:
            v = run[b, 1]
            lo = 0 if run[b, 0] == v else 1
            hi = n_t if run[b, n_t - 1] == v else n_t - 1
            equal = hi - lo >= _MIN_SPAN
            for t in range(lo, hi):
                equal = equal and run[b, t] == v
            if equal:
                span[b, 0] = lo
                span[b, 1] = hi
    return first, run, span


@jit(inline="always")
def _add_row(src, y, h, start, wt, dst):
    """``dst += wt * row y of src`` (flat, from offset ``start``), unless ``wt == 0`` or ``y`` is outside ``[0, h)``."""
    if wt == 0.0 or y < 0 or y >= h:
        return
    srow = src[y].reshape(-1)[start:start + dst.shape[0]]
    for k in range(dst.shape[0]):
        dst[k] += wt * srow[k]


@jit(inline="always")
def _add_row_sum(src, ya, yb, h, start, wt, acc, dst):
    """``dst += wt * sum(rows ya..yb-1 of src, those inside [0, h))``, each row read from flat offset
    ``start``; the sum is taken in ``acc`` (int32 for uint8 images: exact, and it vectorises wide)."""
    n = dst.shape[0]
    a = acc[:n]
    for k in range(n):
        a[k] = 0
    for y in range(max(ya, 0), min(yb, h)):
        srow = src[y].reshape(-1)[start:start + n]
        for k in range(n):
            a[k] += srow[k]
    for k in range(n):
        dst[k] += wt * a[k]


@jit
def _resample_row(src, y0, x0, h, w, yfirst, yrun, yspan, xfirst, xrun, b, rowbuf, acc, out_row):
    """One output row ``b`` of a resampled window of ``src``.

    The window has its top-left source pixel at ``(y0, x0)`` (0-based, may be negative)
    and the tap runs (:func:`_tap_runs`) index it; source pixels outside ``[0, h) x [0, w)``
    count as 0. ``src`` is C-contiguous; ``rowbuf`` (window width + T, C) float64 C-contiguous
    scratch whose last T rows are 0; ``out_row`` (out_w, C) float64 result. The pass along y
    runs over the flattened row (x and channel together) so that it vectorises; the pass along
    x sums each output's run of taps, the channels of a pixel together. Sums run over the taps
    in index order, so the result does not depend on the window's padding.
    """
    c_n = src.shape[2]
    win_w = rowbuf.shape[0] - xrun.shape[1]
    flat = rowbuf.reshape(-1)
    flat[:win_w * c_n] = 0.0
    xs = min(max(0, -x0), win_w) * c_n  # the window's columns inside the image: [xs, xe), maybe empty
    xe = max(min(win_w, w - x0) * c_n, xs)
    off = x0 * c_n
    dst = flat[xs:xe]  # a view, so that the loop indices are plain ranges and they vectorise
    ytop = y0 + yfirst[b]
    lo, hi = yspan[b, 0], yspan[b, 1]  # taps [lo, hi): one weight, rows summed first
    for t in range(lo):
        _add_row(src, ytop + t, h, off + xs, yrun[b, t], dst)
    if hi > lo:
        _add_row_sum(src, ytop + lo, ytop + hi, h, off + xs, yrun[b, lo], acc, dst)
    for t in range(hi, yrun.shape[1]):
        _add_row(src, ytop + t, h, off + xs, yrun[b, t], dst)
    taps = xrun.shape[1]
    if c_n == 3:
        for xb in range(out_row.shape[0]):
            p = xfirst[xb] * 3
            a0 = 0.0
            a1 = 0.0
            a2 = 0.0
            for t in range(taps):
                wt = xrun[xb, t]
                a0 += wt * flat[p]
                a1 += wt * flat[p + 1]
                a2 += wt * flat[p + 2]
                p += 3
            out_row[xb, 0] = a0
            out_row[xb, 1] = a1
            out_row[xb, 2] = a2
        return
    for xb in range(out_row.shape[0]):
        for c in range(c_n):
            total = 0.0
            for t in range(taps):
                total += xrun[xb, t] * rowbuf[xfirst[xb] + t, c]
            out_row[xb, c] = total


def _acc_like(src):
    """Row sums of uint8 images are taken in int32 (exact), of float images in float64."""
    return np.zeros(0, dtype=np.int32 if src.dtype == np.uint8 else np.float64)
