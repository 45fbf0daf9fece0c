"""Numerical gradients for checking hand-written backward passes.

``numerical_gradient(f, x, dout)`` estimates ``d/dx sum(f(x) * dout)`` by central
differences, ``(f(x + h e_i) - f(x - h e_i)) . dout / (2h)`` for each element
``i`` of ``x`` (changed in place and restored). Use float64 inputs.

``rel_error(a, b) = ||a - b|| / (||a|| + ||b||)`` (Euclidean norms over all
elements), the usual relative error for comparing an analytic with a numerical
gradient: about 1e-10 or less when a float64 backward pass is right, 1e-2 or
more when it is wrong. Unlike an elementwise ratio it is not blown up by
entries that are zero up to rounding.
"""
import numpy as np


def numerical_gradient(f, x, dout=None, *, h=1e-6, indices=None):
    """Central-difference gradient of ``sum(f(x) * dout)`` with respect to ``x``.

    Parameters
    ----------
    f : callable, ``f(x) -> ndarray`` (or a scalar when ``dout`` is None)
    x : ndarray, float64; perturbed in place and restored
    dout : ndarray shaped like ``f(x)``, the upstream gradient (None: ``f`` returns a scalar)
    h : float, step
    indices : optional list of index tuples; only those entries are estimated
        (use it for large parameter arrays)

    Returns
    -------
    ndarray shaped like ``x`` (or ``(len(indices),)`` when ``indices`` is given)
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError(f"numerical gradients need a float64 array, got {getattr(x, 'dtype', type(x))}")
    todo = list(np.ndindex(x.shape)) if indices is None else [tuple(i) for i in indices]
    values = np.empty(len(todo))
    for k, i in enumerate(todo):
        old = x[i]
        x[i] = old + h
        fp = f(x)
        x[i] = old - h
        fm = f(x)
        x[i] = old
        diff = fp - fm if dout is None else np.sum((fp - fm) * dout)
        values[k] = diff / (2 * h)
    return values.reshape(x.shape) if indices is None else values


def random_indices(shape, count, rng):
    """``count`` random index tuples into an array of ``shape`` (all of them if there are fewer)."""
    size = int(np.prod(shape))
    flat = np.arange(size) if size <= count else rng.choice(size, count, replace=False)
    return [np.unravel_index(i, shape) for i in flat]


def rel_error(a, b):
    """Relative error ``||a - b|| / max(1e-300, ||a|| + ||b||)`` over all elements (0 for empty arrays)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare shapes {a.shape} and {b.shape}")
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / denom) if denom > 0 else 0.0
