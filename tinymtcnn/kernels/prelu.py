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

from ._jit import jit


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
@jit
def _forward_loop(y, b, alpha, out, use_b, use_alpha, q0, q1):
    """Columns ``[q0, q1)`` of every row (a layer's band of output rows)."""
    f_n = y.shape[0]
    for f in range(f_n):
        bf = b[f]
        a = alpha[f]
        row, dst = y[f, q0:q1], out[f, q0:q1]
        for m in range(q1 - q0):
            v = row[m] + bf if use_b else row[m]
            if use_b:
                row[m] = v
            dst[m] = v if v > 0 or not use_alpha else a * v


@jit(fastmath={"reassoc", "contract"})  # the float64 sums may be reassociated to vectorise
def _backward_loop(g, pre, alpha, dpre, db, dalpha, use_alpha, q0, q1):
    """Columns ``[q0, q1)`` of ``g``/``pre`` (a band) -> ``dpre (F, q1 - q0)``, ``db``, ``dalpha``."""
    f_n = g.shape[0]
    for f in range(f_n):
        a = alpha[f]
        gr, pr, dr = g[f, q0:q1], pre[f, q0:q1], dpre[f]
        sb = 0.0
        sa = 0.0
        for m in range(q1 - q0):
            gv = gr[m]
            p = pr[m]
            neg = use_alpha and p <= 0  # selects, no branches: the loop vectorises
            d = a * gv if neg else gv
            sa += np.float64(gv) * np.float64(p) if neg else 0.0
            dr[m] = d
            sb += np.float64(d)
        db[f] = sb
        dalpha[f] = sa



def bias_prelu(y, b, alpha, out=None, columns=None):
    """Numba twin of :func:`bias_prelu_naive`, in place: ``y (F, M)`` (C-contiguous) becomes ``pre``
    (untouched when ``b`` is None) and ``out`` (default: ``y`` itself) gets the activation. Returns
    ``(pre, out)``; ``b``/``alpha`` may be None. ``columns=(q0, q1)``: only those columns (a band)."""
    assert y.ndim == 2 and y.flags.c_contiguous
    # >>> STUDENT-FAST 2.3: return _student_in_place(y, b, alpha, out, columns)
    out = y if out is None else out
    assert out.shape == y.shape and out.flags.c_contiguous
    f = y.shape[0]
    q0, q1 = (0, y.shape[1]) if columns is None else columns
    use_b, use_alpha = b is not None, alpha is not None
    b = np.zeros(f, y.dtype) if b is None else np.asarray(b, dtype=y.dtype)
    a = np.ones(f, y.dtype) if alpha is None else np.asarray(alpha, dtype=y.dtype)
    _forward_loop(y, b, a, out, use_b, use_alpha, q0, q1)
    return y, out
    # <<< STUDENT-FAST 2.3


def bias_prelu_backward(g, pre, alpha, columns=None):
    """Numba twin of :func:`bias_prelu_backward_naive`: ``(dpre, db, dalpha)``, sums in float64.
    ``columns=(q0, q1)``: only those columns of ``g`` and ``pre`` (a band; ``dpre`` is the band's)."""
    # >>> STUDENT-FAST 2.3: return _student_bias_prelu_backward_columns(g, pre, alpha, columns)
    g = np.ascontiguousarray(g)
    pre = g if pre is None else np.ascontiguousarray(pre, dtype=g.dtype)  # (read only with alpha)
    f = g.shape[0]
    q0, q1 = (0, g.shape[1]) if columns is None else columns
    use_alpha = alpha is not None
    a = np.ones(f, g.dtype) if alpha is None else np.asarray(alpha, dtype=g.dtype)
    dpre = np.empty((f, q1 - q0), g.dtype)
    db, dalpha = np.empty(f, np.float64), np.empty(f, np.float64)
    _backward_loop(g, pre, a, dpre, db, dalpha, use_alpha, q0, q1)
    return dpre, db.astype(g.dtype), (dalpha.astype(g.dtype) if use_alpha else None)
    # <<< STUDENT-FAST 2.3


def _student_bias_prelu_backward_columns(g, pre, alpha, columns):
    """The student copy's :func:`bias_prelu_backward` (on the given columns)."""
    q = slice(None) if columns is None else slice(*columns)
    return _student_bias_prelu_backward(np.ascontiguousarray(g[:, q]),
                                        None if pre is None else np.ascontiguousarray(pre[:, q]), alpha)


def _student_in_place(y, b, alpha, out, columns):
    """The student copy's :func:`bias_prelu`: the readable twin on the given columns, written where the
    kernel writes."""
    q = slice(None) if columns is None else slice(*columns)
    pre, act = _student_bias_prelu(np.ascontiguousarray(y[:, q]), b, alpha)
    y[:, q] = pre
    out = y if out is None else out
    out[:, q] = act
    return y, out
