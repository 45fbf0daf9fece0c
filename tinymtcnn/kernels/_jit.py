"""The one place where Numba is imported.

``jit`` compiles a function with ``numba.njit(cache=True)``. When Numba is not
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
so on stderr, once per process, if stderr is a terminal (logs and pipes stay clean). Parallel builds,
the slowest to compile, are compiled only once they pay for themselves (:data:`PARALLEL_COMPILE_AFTER`).
"""
import contextvars
import os
import sys
import tempfile
import threading
import time
import types
import warnings

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
    """Decorate ``fn`` with ``numba.njit(cache=True, **options)`` when Numba is available
    (``cache=False`` where no folder can be written, see the module docstring)."""

    def wrap(f):
        if not HAVE_NUMBA:
            return f
        return numba.njit(cache=CACHE, **options)(f)

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

    ``kernel(work, *args)`` runs the parallel build (through :func:`call_parallel`) when
    ``work >= PARALLEL_MIN_WORK`` and the calling context has more than one thread.
    """

    def __init__(self, fn, **options):
        self.py = fn
        self.serial = jit(**options)(fn)
        self.parallel = parallel_build(fn, **options)
        self.__doc__ = fn.__doc__

    def __call__(self, work, *args):
        if work >= PARALLEL_MIN_WORK and get_num_threads() > 1:
            return call_parallel(self.parallel, self.serial, *args)
        return self.serial(*args)


def jit_serial_or_parallel(fn):
    """Decorator form of ``SerialOrParallel``."""
    return SerialOrParallel(fn)


# --------------------------------------------------------------------------- thread count
# The thread count is held per context (a ContextVar: each Python thread has its own), so that
# two threads detecting at once never change each other's setting. ``limit_threads`` (in
# tinymtcnn.threads) sets it for a block; ``set_num_threads`` sets the process default that
# contexts without a setting of their own use.
_default_threads = None  # set_num_threads's value; None = Numba's default (NUMBA_NUM_THREADS)
_context_threads = contextvars.ContextVar("tinymtcnn_num_threads", default=None)


def max_threads():
    """Most threads Numba can use in this process (``NUMBA_NUM_THREADS``; 1 without Numba)."""
    return int(numba.config.NUMBA_NUM_THREADS) if HAVE_NUMBA else 1


def clip_threads(n):
    """``n`` clipped to ``1..max_threads()``."""
    return max(1, min(int(n), max_threads()))


def get_num_threads():
    """Threads that the parallel kernels use in the calling context: ``limit_threads``'s value
    there, else ``set_num_threads``'s process default, else every thread Numba has."""
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


# --------------------------------------------------------------------------- parallel launches
_launch_lock = threading.Lock()
_layer_is_threadsafe = None  # None: not known until the first parallel launch


def _compile_after(value):
    """``TINYMTCNN_PARALLEL_COMPILE_AFTER`` as seconds >= 0 (ValueError naming the variable otherwise)."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also NaN
        raise ValueError(f"TINYMTCNN_PARALLEL_COMPILE_AFTER must be a number of seconds >= 0, got {value!r}")
    return seconds


# A parallel build takes 1-4 s to compile (Numba's parallel passes), more than a photo's whole detection, and
# it gives the same bits as its serial twin. So a parallel build that is not in Numba's disk cache yet is
# compiled only once its serial twin has run this many seconds on work meant for it (work that the calling
# context would have run in parallel); until then ``call_parallel`` runs the serial build. A build in the
# disk cache loads in milliseconds and is used at once. 0 compiles at the first launch (the test suite does,
# so that every parallel build is exercised). The price: until a build is compiled, its work runs on one
# thread (a 2-thread detection of a 1-megapixel photo measured 10-30 % slower), in the first long process
# after an install only (later ones load the build from the disk cache).
PARALLEL_COMPILE_AFTER = _compile_after(os.environ.get("TINYMTCNN_PARALLEL_COMPILE_AFTER", "1"))
_serial_seconds = {}  # parallel build -> seconds its serial twin ran in its place


def _parallel_ready(parallel_fn):
    """Whether ``parallel_fn`` runs without a long compile: compiled (or loaded) in this process already, or
    with an entry in Numba's disk cache (its index file; Numba's internals, so when they cannot be read the
    build counts as ready: the behaviour before this rule)."""
    if getattr(parallel_fn, "signatures", None):
        return True
    try:
        cache_file = getattr(parallel_fn._cache, "_cache_file", None)  # None: no disk cache (NullCache)
        return cache_file is not None and os.path.exists(cache_file._index_path)
    except AttributeError:  # pragma: no cover - another Numba version
        return True


def _serial_in_place_of(parallel_fn, serial_fn, args):
    """Run ``serial_fn(*args)`` for a parallel build not compiled yet, counting its time against
    :data:`PARALLEL_COMPILE_AFTER` (not the serial build's own first compile)."""
    compiled = bool(getattr(serial_fn, "signatures", True))
    start = time.perf_counter()
    try:
        return serial_fn(*args)
    finally:
        if compiled:
            _serial_seconds[parallel_fn] = _serial_seconds.get(parallel_fn, 0.0) + time.perf_counter() - start


def call_parallel(parallel_fn, serial_fn, *args):
    """Run the parallel build ``parallel_fn(*args)`` on :func:`get_num_threads` of Numba's threads.

    The one way into a ``parallel=True`` kernel. Numba's thread count is per Python thread: it
    is set for the launch and restored afterwards, so nothing outside the call changes. Numba's
    ``workqueue`` threading layer cannot take launches from two Python threads at once (the
    process aborts: "Concurrent access has been detected"); under it, or until the layer is
    known, a launch while another thread's is running runs the serial build ``serial_fn``
    instead (same results: every kernel's builds are compared in the tests). So does a launch whose
    parallel build is not compiled yet, until the serial build has run :data:`PARALLEL_COMPILE_AFTER`
    seconds in its place (a cold start then compiles no parallel build that would not pay for itself).
    """
    global _layer_is_threadsafe
    if not HAVE_NUMBA:
        return serial_fn(*args)
    if _serial_seconds.get(parallel_fn, 0.0) < PARALLEL_COMPILE_AFTER and not _parallel_ready(parallel_fn):
        return _serial_in_place_of(parallel_fn, serial_fn, args)
    locked = False
    if not _layer_is_threadsafe:
        locked = _launch_lock.acquire(blocking=False)
        if not locked:
            return serial_fn(*args)
    try:
        n = get_num_threads()
        old = numba.get_num_threads()
        if old != n:
            numba.set_num_threads(n)
        try:
            return parallel_fn(*args)
        finally:
            if old != n:
                numba.set_num_threads(old)
            if _layer_is_threadsafe is None:
                _layer_is_threadsafe = numba.threading_layer() != "workqueue"
    finally:
        if locked:
            _launch_lock.release()
