"""Argument checks shared by the layer functions (user-facing errors, not asserts)."""
import numpy as np


def check_array(name, a, ndim=None):
    """Raise ``TypeError``/``ValueError`` unless ``a`` is a floating numpy array of rank ``ndim``."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(a).__name__}")
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"{name} must be a float array, got dtype {a.dtype}")
    if ndim is not None and a.ndim not in np.atleast_1d(ndim):
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {a.shape}")


def check_positive_int(name, v, minimum=1):
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return int(v)
