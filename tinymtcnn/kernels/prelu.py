"""PReLU forward and backward in one pass each (one slope per channel, axis 1).

Formulas (``x`` is ``(N, C, ...)``, viewed here as ``(N, C, S)``)::

    out[n, c, s] = x if x > 0 else alpha[c] * x
    dx[n, c, s]  = g if x > 0 else alpha[c] * g
    dalpha[c]    = sum over (n, s) with x <= 0 of g * x      (accumulated in float64)

numpy needs several passes and temporaries for these (``where``, a product, a
masked sum); the Numba loops read every array once. ``prelu_forward_reference`` /
``prelu_backward_reference`` are the readable numpy twins.
"""
import numpy as np

from ._jit import SerialOrParallel, jit_serial_or_parallel, prange


# --------------------------------------------------------------------------- plain twins
def prelu_forward_reference(x, alpha):
    """Readable twin: ``x (N, C, ...)``, ``alpha (C,)`` -> ``out`` like ``x``."""
    # >>> STUDENT-FAST 2.3: return _naive_forward(x, alpha)
    a = alpha.astype(x.dtype).reshape((1, -1) + (1,) * (x.ndim - 2))
    return np.where(x > 0, x, a * x)
    # <<< STUDENT-FAST 2.3


def prelu_backward_reference(dout, x, alpha):
    """Readable twin: ``(dx, dalpha)``; ``dalpha`` has ``dout``'s dtype."""
    # >>> STUDENT-FAST 2.3: return _naive_backward(dout, x, alpha)
    a = alpha.astype(x.dtype).reshape((1, -1) + (1,) * (x.ndim - 2))
    dx = np.where(x > 0, dout, a * dout)
    axes = (0,) + tuple(range(2, x.ndim))
    dalpha = np.where(x > 0, 0, dout.astype(np.float64) * x).sum(axis=axes)
    return dx, dalpha.astype(dout.dtype)
    # <<< STUDENT-FAST 2.3


def _as4d(a):
    return a.reshape(a.shape[0], a.shape[1], -1, 1)


def _naive_forward(x, alpha):
    """The student copy's fast path (STUDENT-FAST, tools/assignment_source.py): the readable
    :func:`tinymtcnn.layers.prelu.prelu_forward_naive` on ``x`` viewed as ``(N, C, S, 1)``."""
    from ..layers.prelu import prelu_forward_naive  # (that module imports this one)

    return prelu_forward_naive(_as4d(x), alpha)[0].reshape(x.shape)


def _naive_backward(dout, x, alpha):
    """The student copy's fast path: the readable ``prelu_backward_naive``; ``(dx, dalpha)``."""
    from ..layers.prelu import PReLUCache, prelu_backward_naive

    dx, dalpha = prelu_backward_naive(_as4d(dout), PReLUCache(_as4d(x), alpha))
    return dx.reshape(x.shape), dalpha.astype(dout.dtype)


# --------------------------------------------------------------------------- Numba kernels
@jit_serial_or_parallel
def _forward_loop(x, alpha, out):
    n_n, c_n, s_n = x.shape
    for c in prange(c_n):
        a = alpha[c]
        for n in range(n_n):
            src = x[n, c]
            dst = out[n, c]
            for s in range(s_n):
                v = src[s]
                dst[s] = v if v > 0 else a * v


def _backward_loop_py(dout, x, alpha, dx, dalpha):
    n_n, c_n, s_n = x.shape
    for c in prange(c_n):
        a = alpha[c]
        acc = 0.0
        for n in range(n_n):
            xs = x[n, c]
            gs = dout[n, c]
            dst = dx[n, c]
            for s in range(s_n):  # selects, no branches: the signs of x are unpredictable
                v = xs[s]
                g = gs[s]
                dst[s] = g if v > 0 else a * g
                acc += 0.0 if v > 0 else np.float64(g) * np.float64(v)
        dalpha[c] = acc


# the float64 sum may be reassociated, so that it vectorises (it is a sum of products, in any order)
_backward_loop = SerialOrParallel(_backward_loop_py, fastmath={"reassoc", "contract"})


def _as3d(a):
    return np.ascontiguousarray(a).reshape(a.shape[0], a.shape[1], -1)


def prelu_forward(x, alpha):
    """Numba twin of :func:`prelu_forward_reference`."""
    # >>> STUDENT-FAST 2.3: return prelu_forward_reference(x, alpha)
    out = np.empty(x.shape, dtype=x.dtype)
    _forward_loop(x.size, _as3d(x), alpha.astype(x.dtype, copy=False), out.reshape(_as3d(x).shape))
    return out
    # <<< STUDENT-FAST 2.3


def prelu_backward(dout, x, alpha):
    """Numba twin of :func:`prelu_backward_reference`: ``(dx, dalpha)``."""
    # >>> STUDENT-FAST 2.3: return prelu_backward_reference(dout, x, alpha)
    dx = np.empty(x.shape, dtype=dout.dtype)
    dalpha = np.empty(x.shape[1], dtype=np.float64)
    x3 = _as3d(x)
    _backward_loop(x.size, _as3d(dout), x3, alpha.astype(dout.dtype, copy=False), dx.reshape(x3.shape), dalpha)
    return dx, dalpha.astype(dout.dtype)
    # <<< STUDENT-FAST 2.3
