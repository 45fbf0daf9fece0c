"""The one place where Numba is imported.

``jit`` compiles a function with ``numba.njit(cache=True)``. When Numba is not
installed (or ``TINYMTCNN_DISABLE_JIT=1`` is set) it returns the function
unchanged, so every kernel still runs as plain Python: slow, but importable and
correct. Tests compare each compiled kernel with its plain-Python twin.
"""
import os

try:  # pragma: no cover - depends on the environment
    if os.environ.get("TINYMTCNN_DISABLE_JIT") == "1":
        raise ImportError("disabled by TINYMTCNN_DISABLE_JIT")
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    numba = None
    HAVE_NUMBA = False


def jit(fn=None, **options):
    """Decorate ``fn`` with ``numba.njit(cache=True, **options)`` when Numba is available."""

    def wrap(f):
        if not HAVE_NUMBA:
            return f
        return numba.njit(cache=True, **options)(f)

    return wrap(fn) if fn is not None else wrap


def prange(*args):
    """``numba.prange`` inside compiled code, ``range`` otherwise."""
    return range(*args)


if HAVE_NUMBA:  # pragma: no cover
    prange = numba.prange  # noqa: F811


# Parallel regions cost a thread wake-up each (and much more when another process
# holds a core), so small problems run the serial build of the same loop.
PARALLEL_MIN_WORK = 1 << 17


class SerialOrParallel:
    """One loop compiled twice (serial and ``parallel=True``); calls pick by problem size.

    ``kernel(work, *args)`` runs the parallel build when ``work >= PARALLEL_MIN_WORK``.
    """

    def __init__(self, fn):
        self.py = fn
        self.serial = jit(fn)
        self.parallel = jit(parallel=True)(fn)
        self.__doc__ = fn.__doc__

    def __call__(self, work, *args):
        f = self.parallel if work >= PARALLEL_MIN_WORK else self.serial
        return f(*args)


def jit_serial_or_parallel(fn):
    """Decorator form of ``SerialOrParallel``."""
    return SerialOrParallel(fn)
