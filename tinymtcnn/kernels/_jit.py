"""The one place where Numba is imported.

``jit`` compiles a function with ``numba.njit(cache=True, nogil=True)``. When Numba is not
installed (or ``TINYMTCNN_DISABLE_JIT=1`` is set) it returns the function
unchanged, so every kernel still runs as plain Python: slow, but importable and
correct. Tests compare each compiled kernel with its plain-Python twin.

The disk cache goes where Numba puts it (the package's ``__pycache__``, else
``~/.cache/numba``) for a source checkout, and to ``~/.cache/tinymtcnn/numba`` for a copy
installed in ``site-packages`` (so that ``pip uninstall`` leaves nothing behind:
:func:`choose_cache_dir`). Where neither can be written (a read-only shared install with a
read-only home, a container) it goes to ``<temp dir>/tinymtcnn-numba-<user id>``, and
where that fails too the kernels compile in memory at every start, with a one-line
warning. ``NUMBA_CACHE_DIR``, when set, is always used as it is.

Compiling the kernels takes a while on a first run (an empty cache); when it starts, a line says
so on stderr, once per process, if stderr is a terminal (logs and pipes stay clean).

Threads: the package's one parallel mechanism is here too. Every kernel is compiled serial and
``nogil`` (:func:`jit`), and work is shared out by :func:`parallel_map` / :func:`parallel_chunks`, a
Python thread pool whose threads call the kernels (and single-threaded BLAS) with the GIL released.
Numba's own parallel machinery (``parallel=True``, ``prange``, its OpenMP/TBB/workqueue threads) is not
used: one build per kernel, nothing to keep apart in the disk cache, nothing to compile twice.
"""
import contextvars
import os
import sys
import tempfile
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

try:  # pragma: no cover - depends on the environment
    if os.environ.get("TINYMTCNN_DISABLE_JIT") == "1":
        raise ImportError("disabled by TINYMTCNN_DISABLE_JIT")
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    numba = None
    HAVE_NUMBA = False


def _writable(folder):
    """True when a file can be created in ``folder`` (made if missing): a real try, as Numba does."""
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _installed_copy(package_dir):
    """True when ``package_dir`` lies in a ``site-packages`` / ``dist-packages`` folder (a copy made by
    ``pip install``, not a source checkout or an editable install)."""
    parts = os.path.normcase(os.path.abspath(package_dir)).split(os.sep)
    return "site-packages" in parts or "dist-packages" in parts


def choose_cache_dir(package_dir, home):
    """Where Numba's disk cache should go: ``(folder or None, cache on?)``.

    ``None`` with the cache on means Numba's own choice works (``NUMBA_CACHE_DIR`` set, or a source
    checkout whose ``__pycache__`` or ``home/.cache/numba`` is writable). An installed copy (in
    ``site-packages``) caches in ``home/.cache/tinymtcnn/numba`` instead: files Numba wrote into the
    package folder would outlive ``pip uninstall`` (pip removes only what it installed), and the folder
    left behind would then hide a later install of the package as an empty namespace package. Else a
    folder in the temp dir; ``(None, False)`` when nothing can be written.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None, True
    if _installed_copy(package_dir):
        user = os.path.join(home, ".cache", "tinymtcnn", "numba")
        if _writable(user):
            return user, True
    elif _writable(os.path.join(package_dir, "__pycache__")) or _writable(os.path.join(home, ".cache", "numba")):
        return None, True
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    try:
        fallback = os.path.join(tempfile.gettempdir(), f"tinymtcnn-numba-{uid}")
    except OSError:  # no usable temp dir at all
        return None, False
    if _writable(fallback):
        return fallback, True
    return None, False


CACHE = True
if HAVE_NUMBA:  # pragma: no cover - depends on the file system
    _folder, CACHE = choose_cache_dir(os.path.dirname(os.path.abspath(__file__)), os.path.expanduser("~"))
    if _folder is not None:
        numba.config.CACHE_DIR = _folder  # read by Numba's locators at each compile
    elif not CACHE:
        warnings.warn("tinymtcnn: no writable folder for Numba's disk cache (package, home and temp dir are "
                      "read-only); kernels compile in memory at every start. Set NUMBA_CACHE_DIR to keep them.",
                      RuntimeWarning, stacklevel=2)


COMPILE_NOTICE = ("tinymtcnn: compiling its Numba kernels for this machine (first run only; later runs "
                  "load them from the cache) ...")


def _compile_notice(stream):
    """A Numba event listener that writes :data:`COMPILE_NOTICE` to ``stream`` at the first compile
    of one of the package's kernels (a cache miss: loading from the cache is no compile)."""

    class Notice(numba.core.event.Listener):
        said = False

        def on_start(self, event):
            fn = getattr(event.data.get("dispatcher"), "py_func", None)
            if not self.said and getattr(fn, "__module__", "").startswith(__name__.split(".")[0] + "."):
                self.said = True
                print(COMPILE_NOTICE, file=stream, flush=True)

        def on_end(self, event):
            pass

    return Notice()


if HAVE_NUMBA and sys.stderr is not None and sys.stderr.isatty():  # pragma: no cover - needs a terminal
    numba.core.event.register("numba:compile", _compile_notice(sys.stderr))


def jit(fn=None, **options):
    """Decorate ``fn`` with ``numba.njit(cache=True, nogil=True, **options)`` when Numba is available
    (``cache=False`` where no folder can be written, see the module docstring). ``nogil``: the threads of
    :func:`parallel_map` run compiled kernels side by side."""

    def wrap(f):
        if not HAVE_NUMBA:
            return f
        return numba.njit(cache=CACHE, nogil=True, **options)(f)

    return wrap(fn) if fn is not None else wrap


# --------------------------------------------------------------------------- thread count
# The thread count is held per context (a ContextVar: each Python thread has its own), so that
# two threads detecting at once never change each other's setting. ``limit_threads`` (in
# tinymtcnn.threads) sets it for a block; ``set_num_threads`` sets the process default that
# contexts without a setting of their own use.
_default_threads = None  # set_num_threads's value; None = every core (NUMBA_NUM_THREADS)
_context_threads = contextvars.ContextVar("tinymtcnn_num_threads", default=None)


def max_threads():
    """Most threads tinymtcnn uses in this process: ``NUMBA_NUM_THREADS`` (the cores Numba sees, or
    the variable's value); 1 without Numba (plain-Python kernels hold the GIL)."""
    return int(numba.config.NUMBA_NUM_THREADS) if HAVE_NUMBA else 1


def clip_threads(n):
    """``n`` clipped to ``1..max_threads()``."""
    return max(1, min(int(n), max_threads()))


def get_num_threads():
    """Threads that the kernels and :func:`parallel_map` use in the calling context: ``limit_threads``'s
    value there, else ``set_num_threads``'s process default, else :func:`max_threads`."""
    n = _context_threads.get()
    if n is None:
        n = _default_threads
    return max_threads() if n is None else n


def set_num_threads(n):
    """Make ``n`` threads (clipped to ``1..max_threads()``) the process default; ``None`` resets.

    Contexts inside ``limit_threads`` keep their own count.
    """
    global _default_threads
    _default_threads = None if n is None else clip_threads(n)
    return get_num_threads()


# --------------------------------------------------------------------------- the thread pool
# Handing work to a pool thread costs tens of microseconds (and much more when another process holds a
# core: a sleeping thread may then wait milliseconds for a time slice), so a kernel call with less work
# than this (element operations: about a millisecond) stays on the calling thread.
PARALLEL_MIN_WORK = 1 << 20
_pool = None
_pool_lock = threading.Lock()


def _executor():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max(1, max_threads() - 1), thread_name_prefix="tinymtcnn")
    return _pool


def parallel_map(fn, items, n=None):
    """``[fn(x) for x in items]`` on up to ``n`` threads (default :func:`get_num_threads`): the
    caller's and pool threads, each taking the next item as it frees up; results in order.

    On several threads each call of ``fn`` runs in a copy of the caller's context with one
    thread (nothing nested goes parallel again). Worth it when ``fn`` spends its time in code that
    releases the GIL (the kernels, numpy on large arrays, single-threaded BLAS).
    """
    items = list(items)
    n = min(get_num_threads() if n is None else n, len(items))
    if n <= 1:
        return [fn(x) for x in items]
    results = [None] * len(items)
    order = iter(range(len(items)))
    lock = threading.Lock()

    def drain():
        token = _context_threads.set(1)
        try:
            while True:
                with lock:
                    i = next(order, None)
                if i is None:
                    return
                results[i] = fn(items[i])
        finally:
            _context_threads.reset(token)

    jobs = [_executor().submit(contextvars.copy_context().run, drain) for _ in range(n - 1)]
    try:
        drain()
    finally:
        for job in jobs:
            job.result()
    return results


def parallel_chunks(fn, n, work):
    """``fn(lo, hi)`` over ``[0, n)`` cut into one contiguous chunk per thread (:func:`get_num_threads`),
    on :func:`parallel_map`; the whole range in one call on the calling thread when ``work`` (element
    operations in all) is under :data:`PARALLEL_MIN_WORK`. For kernels whose outputs in ``[lo, hi)``
    depend on nothing else: the results are the same bits however the range is cut."""
    parts = min(get_num_threads(), n) if work >= PARALLEL_MIN_WORK else 1
    if parts <= 1:
        fn(0, n)
        return
    bounds = [n * k // parts for k in range(parts + 1)]
    parallel_map(lambda k: fn(bounds[k], bounds[k + 1]), range(parts), parts)
