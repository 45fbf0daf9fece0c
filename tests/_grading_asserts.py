"""Assertions of the assignment's task tests, with messages a student can act on.

Every failure says which output is wrong (``dx``, ``boxes``, the picks), its shape or dtype when
those are wrong, else the largest error, where it is, what was EXPECTED and what the student's
function GOT (in that order, never swapped), and how to rebuild the inputs in a Python session::

    dw is wrong at 36 of 36 elements; the largest error is 17.02 at index (0, 1, 2, 1):
      expected -7.191998096, got 9.823495595 (allowed: |got - expected| <= 1e-10 + 1e-09 * |expected|)
      to reproduce: import numpy as np; d = np.load('tests/fixtures/task_cases.npz'); ...

Used by the tests that carry a ``task_N_M`` marker (docs/teachers_guide.md).
"""
import numpy as np

__all__ = ["assert_close", "assert_same_picks", "fixture_repro", "seed_repro"]


def _where(message, repro):
    return message + (f"\n  to reproduce: {repro}" if repro else "")


def _check_kind(name, got, expected, repro, dtype=True):
    if not isinstance(got, np.ndarray):
        raise AssertionError(_where(f"{name} must be a numpy array, got {type(got).__name__}", repro))
    if got.shape != expected.shape:
        raise AssertionError(_where(f"{name} has shape {got.shape}, expected {expected.shape}", repro))
    if dtype and got.dtype != expected.dtype:
        raise AssertionError(_where(f"{name} has dtype {got.dtype}, expected {expected.dtype}", repro))


def assert_close(name, got, expected, *, rtol=1e-7, atol=1e-9, repro="", dtype=True):
    """``got`` (the student's ``name``) equals ``expected`` elementwise within ``atol + rtol * |expected|``.

    Checks the shape first, then (``dtype=True``) the dtype; NaN is an error unless expected.
    """
    expected = np.asarray(expected)
    if isinstance(got, (float, int, np.generic)) and expected.ndim == 0:  # a scalar result (a loss)
        got, dtype = np.asarray(got), False
    _check_kind(name, got, expected, repro, dtype)
    if got.size == 0:
        return
    g, e = got.astype(np.float64), expected.astype(np.float64)
    err = np.abs(g - e)
    both_nan = np.isnan(g) & np.isnan(e)
    err = np.where(both_nan, 0.0, np.where(np.isnan(err), np.inf, err))
    bad = err > atol + rtol * np.abs(np.nan_to_num(e))
    if not bad.any():
        return
    worst = np.unravel_index(np.argmax(np.where(bad, err, -1.0)), got.shape)
    index = tuple(int(i) for i in worst)
    raise AssertionError(_where(
        f"{name} is wrong at {int(bad.sum())} of {got.size} elements; the largest error is {err[worst]:.4g} "
        f"at index {index}:\n  expected {float(e[worst]):.10g}, got {float(g[worst]):.10g} "
        f"(allowed: |got - expected| <= {atol:g} + {rtol:g} * |expected|)", repro))


def assert_same_picks(name, got, expected, *, repro=""):
    """Index arrays (NMS picks): the same indices in the same order, int64."""
    expected = np.asarray(expected)
    if not isinstance(got, np.ndarray):
        raise AssertionError(_where(f"{name} must be a numpy array, got {type(got).__name__}", repro))
    if got.ndim != 1 or got.dtype != expected.dtype:
        raise AssertionError(_where(f"{name} must be a 1-D {expected.dtype} array, got shape {got.shape}, "
                                    f"dtype {got.dtype}", repro))
    if np.array_equal(got, expected):
        return
    first = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
    want = f"box {int(expected[first])}" if first < len(expected) else "nothing (no more picks)"
    have = f"box {int(got[first])}" if first < len(got) else "nothing (no more picks)"
    raise AssertionError(_where(
        f"{name} are wrong from pick {first} on: expected {want}, got {have}\n"
        f"  expected {expected.tolist()}\n  got      {got.tolist()}", repro))


def seed_repro(seed, code):
    """Text that rebuilds a test's random inputs: ``rng = np.random.default_rng(seed); <code>``."""
    return f"import numpy as np; rng = np.random.default_rng({seed}); {code}"


def fixture_repro(group, index):
    """Text that loads case ``index`` of ``group`` from the committed task fixtures."""
    return (f"import numpy as np; d = np.load('tests/fixtures/task_cases.npz'); "
            f"case = {{k.split('/', 2)[2]: d[k] for k in d.files if k.startswith('{group}/{index}/')}}")
