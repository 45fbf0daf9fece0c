"""The one place where Numba is imported.

``jit`` compiles a function with ``numba.njit(cache=True)``. When Numba is not
installed (or ``TINYMTCNN_DISABLE_JIT=1`` is set) it returns the function
unchanged, so every kernel still runs as plain Python: slow, but importable and
correct. Tests compare each compiled kernel with its plain-Python twin.
"""
import os
import types

# Idle OpenMP threads sleep instead of spinning (see tinymtcnn.threads); read when Numba starts them.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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
# holds a core: then a sleeping thread may wait milliseconds for a time slice), so
# problems under about a millisecond of work run the serial build of the same loop.
PARALLEL_MIN_WORK = 1 << 20


def parallel_build(fn, **options):
    """``jit(parallel=True, **options)`` of a renamed copy of ``fn`` (``<name>_parallel``).

    Numba's disk cache (``cache=True``) files a compiled function under its module, qualified
    name and line and looks entries up by argument types: the compile options are not part of
    the key. ``jit(fn)`` and ``jit(parallel=True)(fn)`` would share one entry, and whichever build
    was compiled first is what both load from then on (seen: a "parallel" resampler running on
    one thread, and a "serial" P-Net loop starting threads of its own inside a pyramid level
    already running on a thread of :func:`tinymtcnn.threads.parallel_map`). The copy has a
    cache entry of its own.
    """
    twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_parallel", fn.__defaults__,
                              fn.__closure__)
    twin.__qualname__ = fn.__qualname__ + "_parallel"
    twin.__doc__ = fn.__doc__
    return jit(parallel=True, **options)(twin)


class SerialOrParallel:
    """One loop compiled twice (serial and ``parallel=True``, each with its own cache entry: see
    :func:`parallel_build`); calls pick by problem size.

    ``kernel(work, *args)`` runs the parallel build when ``work >= PARALLEL_MIN_WORK``.
    """

    def __init__(self, fn, **options):
        self.py = fn
        self.serial = jit(**options)(fn)
        self.parallel = parallel_build(fn, **options)
        self.__doc__ = fn.__doc__

    def __call__(self, work, *args):
        f = self.parallel if work >= PARALLEL_MIN_WORK and get_num_threads() > 1 else self.serial
        return f(*args)


def jit_serial_or_parallel(fn):
    """Decorator form of ``SerialOrParallel``."""
    return SerialOrParallel(fn)


# --------------------------------------------------------------------------- thread count
_threads = None  # tinymtcnn's thread count; None = Numba's default (NUMBA_NUM_THREADS)


def max_threads():
    """Most threads Numba can use in this process (``NUMBA_NUM_THREADS``; 1 without Numba)."""
    return int(numba.config.NUMBA_NUM_THREADS) if HAVE_NUMBA else 1


def get_num_threads():
    """Threads that the parallel kernels use (``set_num_threads``'s value, else Numba's default)."""
    return max_threads() if _threads is None else _threads


def set_num_threads(n):
    """Use ``n`` threads (clipped to ``1..max_threads()``) in the parallel kernels; ``None`` resets.

    Numba's own setting is per calling thread; ``apply_num_threads`` re-applies it
    in whichever thread runs a detection.
    """
    global _threads
    _threads = None if n is None else max(1, min(int(n), max_threads()))
    apply_num_threads()
    return get_num_threads()


def apply_num_threads(n=None):
    """Make Numba's setting in the calling thread ``n`` (default: ``get_num_threads()``); returns the old one.

    Starts Numba's thread pool only when more than one thread is asked for.
    """
    n = get_num_threads() if n is None else n
    if not HAVE_NUMBA or (n == 1 and not _pool_started()):
        return n
    old = numba.get_num_threads()
    if old != n:
        numba.set_num_threads(n)
    return old


def _pool_started():
    from numba.np.ufunc import parallel

    return bool(getattr(parallel, "_is_initialized", False))
