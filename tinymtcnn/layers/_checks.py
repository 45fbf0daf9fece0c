"""Argument checks shared by the package (user-facing errors, not asserts).

The layer functions check their arrays here; the detector, the pyramid and the alignment
check their numeric settings with :func:`check_number` (one rule everywhere: a string, a
bool or ``None`` is a ``TypeError``, NaN/inf and out-of-range values a ``ValueError``).
"""
import math
import numbers

import numpy as np


def check_array(name, a, ndim=None):
    """Raise ``TypeError``/``ValueError`` unless ``a`` is a floating numpy array of rank ``ndim``."""
    if type(a) is np.ndarray and a.dtype.kind == "f" and (
            ndim is None or a.ndim == ndim or (isinstance(ndim, tuple) and a.ndim in ndim)):
        return  # the common case, without numpy's slower dtype helpers (every layer call checks here)
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(a).__name__}")
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"{name} must be a float array, got dtype {a.dtype}")
    if ndim is not None and a.ndim not in np.atleast_1d(ndim):
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {a.shape}")


def check_number(name, v, *, low=None, high=None, low_open=False, high_open=False, integer=False,
                 allow_inf=False):
    """A real number (or an integer) within bounds, as a Python ``float`` (``int``).

    Parameters
    ----------
    name : str
        The setting's name, for the messages.
    v : object
        The value. Python and numpy numbers are accepted; ``bool`` (``True`` is not 1 px),
        strings, ``None``, arrays and other objects are not.
    low, high : float, optional
        Bounds, inclusive unless ``low_open`` / ``high_open``.
    integer : bool
        Require an integral type (``int`` or a numpy integer; ``20.0`` is refused).
    allow_inf : bool
        Accept ``+inf`` (e.g. a budget switched off); NaN is always refused.

    Returns
    -------
    int or float

    Raises
    ------
    TypeError
        ``v`` is not a number of the required kind (the message names the type).
    ValueError
        NaN, an infinity not allowed, or a value outside the bounds.
    """
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, kind):
        what = "an integer" if integer else "a number"
        hint = " (write the number without quotes)" if isinstance(v, str) else ""
        raise TypeError(f"{name} must be {what}, got {type(v).__name__} {v!r}{hint}")
    given, v = v, int(v) if integer else float(v)
    if not integer and (math.isnan(v) or (math.isinf(v) and not (allow_inf and v > 0))):
        raise ValueError(f"{name} must be finite, got {given!r}")
    below = low is not None and (v <= low if low_open else v < low)
    above = high is not None and (v >= high if high_open else v > high)
    if below or above:
        if low is not None and high is not None:
            span = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        elif low is not None:
            span = f"{'>' if low_open else '>='} {low:g}"
        else:
            span = f"{'<' if high_open else '<='} {high:g}"
        raise ValueError(f"{name} must be {span}, got {given!r}")
    return v


def check_positive_int(name, v, minimum=1):
    """``v`` as an ``int >= minimum``; ``TypeError`` for a non-integer (bools included), else ``ValueError``."""
    return check_number(name, v, low=minimum, integer=True)
