"""Cases and comparisons of the grader's checkers.

A checker draws its cases from a ``numpy.random.Generator``; each case names the calls the child
makes (function of the task's module, arguments as descriptions of arrays: :func:`child.build`) and
a ``check(results)`` that receives the decoded outputs (one per call) and returns the problems found
(an empty list: the case passes). Comparisons say which output is wrong, how many values, the
largest error and where, expected (the reference) and got (the student's), labelled.
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Tuple

import numpy as np


class Wrong(Exception):
    """A result that cannot be compared (wrong type or structure); the message says what was expected."""


@dataclass
class Unsupported:
    """An output the child could not send as numbers (its type name)."""

    type: str

    def __repr__(self):
        return f"a {self.type}"


@dataclass
class Case:
    name: str
    describe: str
    calls: List[dict] = field(default_factory=list)
    check: Callable = None
    points: float = 1.0

    def call(self, function, *args, **kwargs):
        self.calls.append({"function": function, "args": list(args), "kwargs": kwargs})


class TaskCases:
    """The cases of one task and their input arrays (one npz for the child)."""

    def __init__(self):
        self.cases, self.arrays = [], {}

    def case(self, name, describe, points=1.0):
        c = Case(name, describe, points=points)
        self.cases.append(c)
        return c

    def arr(self, a):
        """Register an input array; returns its description for a call's arguments."""
        key = f"x{len(self.arrays)}"
        self.arrays[key] = np.array(a)
        return {"array": key}


@dataclass
class TaskChecker:
    """How one task is graded: its module, the functions the child calls, the fast twins that are
    trapped (``(module, name)``, besides every Numba kernel), and ``make(rng) -> TaskCases``."""

    task: str
    module: str
    make: Callable
    twins: Tuple[Tuple[str, str], ...] = ()
    tolerance: Dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- comparisons
def describe(value):
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)}"
    return "None" if value is None else repr(value) if isinstance(value, Unsupported) else \
        f"{type(value).__name__} {value!r}"


def item(value, index, what):
    """``value[index]`` of a returned tuple/list described as ``what`` (e.g. "(dx, dw, db)")."""
    n = what.count(",") + 1
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise Wrong(f"expected a tuple {what}, got {describe(value)}")
    return value[index]


def _fmt(v):
    return f"{v:.6g}" if isinstance(v, (float, np.floating)) else str(v)


def _show(a):
    return np.array2string(np.asarray(a), precision=6, threshold=12, separator=", ", max_line_width=200)


def check_array(label, got, expected, *, rtol=1e-7, atol=1e-10, dtype=None):
    """``None`` when ``got`` matches ``expected`` (shape, kind of dtype, NaN places, values within
    ``atol + rtol * |expected|``, exactly for integers and booleans); else the problem in words."""
    expected = np.asarray(expected)
    if not isinstance(got, np.ndarray):
        return f"{label}: expected an array of shape {expected.shape}, got {describe(got)}"
    if got.shape != expected.shape:
        return f"{label}: shape {got.shape}, expected {expected.shape}"
    kinds = {"f": "f", "i": "iu", "u": "iu", "b": "b"}[expected.dtype.kind]
    if got.dtype.kind not in kinds:
        return f"{label}: dtype {got.dtype}, expected {'a float' if kinds == 'f' else 'an integer' if kinds == 'iu' else 'a bool'} array"
    if dtype is not None and got.dtype != dtype:
        return f"{label}: dtype {got.dtype}, expected {np.dtype(dtype)}"
    if got.size == 0:
        return None
    if kinds == "f":
        g, e = got.astype(np.float64), expected.astype(np.float64)
        nan_g, nan_e = np.isnan(g), np.isnan(e)
        err = np.where(nan_g | nan_e, np.where(nan_g == nan_e, 0.0, np.inf), np.abs(g - e))
        bad = err > atol + rtol * np.abs(np.nan_to_num(e))
    else:
        err = np.abs(got.astype(np.int64) - expected.astype(np.int64)).astype(np.float64)
        bad = err > 0
    if not bad.any():
        return None
    at = np.unravel_index(int(np.argmax(np.where(bad, err, -1.0))), got.shape)
    where = at[0] if len(at) == 1 else tuple(int(i) for i in at)
    msg = (f"{label}: {int(bad.sum())} of {got.size} values wrong; largest error {_fmt(float(err[at]))} at "
           f"index {where}: expected {_fmt(expected[at].item())}, got {_fmt(got[at].item())}")
    if expected.size <= 12:
        msg += f" (expected {_show(expected)}, got {_show(got)})"
    return msg


def check_value(label, got, expected, *, rtol=1e-7, atol=1e-10):
    """A returned number, bool or None against the reference's."""
    if expected is None:
        return None if got is None else f"{label}: expected None, got {describe(got)}"
    if isinstance(got, np.ndarray) and got.ndim == 0:
        got = got.item()
    if not isinstance(got, (int, float, bool, np.integer, np.floating, np.bool_)):
        return f"{label}: expected a number ({_fmt(expected)}), got {describe(got)}"
    if isinstance(expected, (bool, int, np.integer)) and not isinstance(expected, float):
        return None if got == expected and float(got).is_integer() else f"{label}: expected {expected}, got {got}"
    if abs(float(got) - float(expected)) <= atol + rtol * abs(float(expected)):
        return None
    return f"{label}: expected {_fmt(float(expected))}, got {_fmt(float(got))} (error {_fmt(abs(float(got) - float(expected)))})"
