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
