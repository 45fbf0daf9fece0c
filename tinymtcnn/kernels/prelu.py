"""Bias and PReLU on channel rows, forward and backward in one pass each.

In the batch-innermost layout every activation is ``(C, ...)`` with the channel first, so a
convolution's product ``(F, OH*OW*N)`` and a fully connected layer's ``(F, N)`` are both *rows*,
one per channel. With ``y`` such an ``(F, M)`` array, ``b (F,)`` a bias (or None) and
``alpha (F,)`` PReLU slopes (or None)::

    pre[f, m] = y[f, m] + b[f]
    out[f, m] = pre if pre > 0 else alpha[f] * pre

and backward, with ``g = dL/dout``::

    dpre[f, m] = g if pre > 0 else alpha[f] * g          (dL/dpre, = dL/dy)
    db[f]      = sum over m of dpre[f, m]                 (accumulated in float64)
    dalpha[f]  = sum over m with pre <= 0 of g * pre      (accumulated in float64)

numpy needs several passes and temporaries for these; the Numba loops read every array once.
``bias_prelu_naive`` / ``bias_prelu_backward_naive`` are the readable twins.
"""
import numpy as np

from ._jit import SerialOrParallel, jit_serial_or_parallel, prange


# --------------------------------------------------------------------------- plain twins
def bias_prelu_naive(y, b, alpha):
    """Readable twin: ``(pre, out)`` for ``y (F, M)`` (new arrays; ``out`` is ``pre`` without alpha)."""
    # >>> STUDENT-FAST 2.3: return _student_bias_prelu(y, b, alpha)
    pre = y if b is None else y + b.astype(y.dtype)[:, None]
    if alpha is None:
        return pre, pre
    return pre, np.where(pre > 0, pre, alpha.astype(y.dtype)[:, None] * pre)
    # <<< STUDENT-FAST 2.3


def bias_prelu_backward_naive(g, pre, alpha):
    """Readable twin: ``(dpre, db, dalpha)`` for ``g, pre (F, M)``; ``db``/``dalpha`` in ``g``'s dtype
    (``dalpha`` None without alpha)."""
    # >>> STUDENT-FAST 2.3: return _student_bias_prelu_backward(g, pre, alpha)
    if alpha is None:
        return g, g.sum(axis=1, dtype=np.float64).astype(g.dtype), None
    dpre = np.where(pre > 0, g, alpha.astype(g.dtype)[:, None] * g)
    dalpha = np.where(pre > 0, 0.0, g.astype(np.float64) * pre).sum(axis=1)
    return dpre, dpre.sum(axis=1, dtype=np.float64).astype(g.dtype), dalpha.astype(g.dtype)
    # <<< STUDENT-FAST 2.3


# the student copy's readable twins (STUDENT-FAST above, tools/assignment_source.py): the student's
# PReLU functions (tinymtcnn.layers.prelu, imported late: that module imports this one)
def _student_bias_prelu(y, b, alpha):
    """:func:`bias_prelu_naive` by the student's ``prelu_forward_naive`` on the rows as channels."""
    from ..layers.prelu import prelu_forward_naive

    pre = y if b is None else y + b.astype(y.dtype)[:, None]
    return pre, (pre if alpha is None else prelu_forward_naive(pre, alpha.astype(y.dtype))[0])


def _student_bias_prelu_backward(g, pre, alpha):
    """:func:`bias_prelu_backward_naive` by the student's ``prelu_backward_naive``."""
    from ..layers.prelu import PReLUCache, prelu_backward_naive

    dpre, dalpha = (g, None) if alpha is None else prelu_backward_naive(g, PReLUCache(pre, alpha.astype(g.dtype)))
    return dpre, dpre.sum(axis=1, dtype=np.float64).astype(g.dtype), (None if dalpha is None else
                                                                     dalpha.astype(g.dtype))


# --------------------------------------------------------------------------- Numba kernels
@jit_serial_or_parallel
def _forward_loop(y, b, alpha, out, use_b, use_alpha):
    f_n, m_n = y.shape
    for f in prange(f_n):
        bf = b[f]
        a = alpha[f]
        row, dst = y[f], out[f]
        for m in range(m_n):
            v = row[m] + bf if use_b else row[m]
            if use_b:
                row[m] = v
            dst[m] = v if v > 0 or not use_alpha else a * v


def _backward_loop_py(g, pre, alpha, dpre, db, dalpha, use_alpha):
    f_n, m_n = g.shape
    for f in prange(f_n):
        a = alpha[f]
        sb = 0.0
        sa = 0.0
        for m in range(m_n):
            gv = g[f, m]
            p = pre[f, m]
            if p > 0 or not use_alpha:
                d = gv
            else:
                d = a * gv
                sa += np.float64(gv) * np.float64(p)
            dpre[f, m] = d
            sb += np.float64(d)
        db[f] = sb
        dalpha[f] = sa


# the float64 sums may be reassociated to vectorise
_backward_loop = SerialOrParallel(_backward_loop_py, fastmath={"reassoc", "contract"})


def bias_prelu(y, b, alpha, out=None):
    """Numba twin of :func:`bias_prelu_naive`, in place: ``y (F, M)`` (C-contiguous) becomes ``pre``
    (untouched when ``b`` is None) and ``out`` (default: ``y`` itself) gets the activation. Returns
    ``(pre, out)``; ``b``/``alpha`` may be None."""
    assert y.ndim == 2 and y.flags.c_contiguous
    # >>> STUDENT-FAST 2.3: return _student_in_place(y, out, _student_bias_prelu(y, b, alpha))
    out = y if out is None else out
    assert out.shape == y.shape and out.flags.c_contiguous
    f = y.shape[0]
    use_b, use_alpha = b is not None, alpha is not None
    b = np.zeros(f, y.dtype) if b is None else np.asarray(b, dtype=y.dtype)
    a = np.ones(f, y.dtype) if alpha is None else np.asarray(alpha, dtype=y.dtype)
    _forward_loop(y.size, y, b, a, out, use_b, use_alpha)
    return y, out
    # <<< STUDENT-FAST 2.3


def bias_prelu_backward(g, pre, alpha):
    """Numba twin of :func:`bias_prelu_backward_naive`: ``(dpre, db, dalpha)``, sums in float64."""
    # >>> STUDENT-FAST 2.3: return _student_bias_prelu_backward(g, pre, alpha)
    g = np.ascontiguousarray(g)
    pre = g if pre is None else np.ascontiguousarray(pre, dtype=g.dtype)  # (read only with alpha)
    f = g.shape[0]
    use_alpha = alpha is not None
    a = np.ones(f, g.dtype) if alpha is None else np.asarray(alpha, dtype=g.dtype)
    dpre = np.empty_like(g)
    db, dalpha = np.empty(f, np.float64), np.empty(f, np.float64)
    _backward_loop(g.size, g, pre, a, dpre, db, dalpha, use_alpha)
    return dpre, db.astype(g.dtype), (dalpha.astype(g.dtype) if use_alpha else None)
    # <<< STUDENT-FAST 2.3


def _student_in_place(y, out, results):
    """The student copy's :func:`bias_prelu`: the readable results written where the kernel writes."""
    pre, act = results
    y[...] = pre
    if out is None:
        out = y
    out[...] = act
    return y, out
