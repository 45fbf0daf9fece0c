"""How many threads tinymtcnn uses, for its kernels and for BLAS; thread safety; determinism.

    >>> import tinymtcnn
    >>> tinymtcnn.set_num_threads(1)                  # doctest: +SKIP
    >>> tinymtcnn.MTCNN(num_threads=2).detect(img)    # doctest: +SKIP

The default is every core Numba sees (``NUMBA_NUM_THREADS``). One parallel mechanism does all the
work sharing: a Python thread pool (:func:`parallel_map`, :func:`tinymtcnn.kernels._jit.parallel_chunks`)
whose threads call the Numba kernels, all compiled serial and ``nogil``, and numpy's matrix products.
Who shares out what:

* P-Net: whole pyramid levels go to the threads in a detection (the first level is about half the
  work); a big level run on its own (``trace()``, ``PNet.infer``) shares out its strips
  (:mod:`tinymtcnn.kernels.conv_direct`);
* convolutions: bands of output rows, each thread calling single-threaded BLAS
  (:mod:`tinymtcnn.layers.conv`);
* the resampler (pyramid levels, R-Net/O-Net crops) and the max-pool: chunks of output rows, crops or
  channels (:func:`~tinymtcnn.kernels._jit.parallel_chunks`).

Small problems run on the calling thread whatever the setting: waking a thread costs more than it
saves. A detection runs inside ``limit_threads(n, blas=1)``: BLAS on one thread. OpenBLAS's own
threads spin while they wait, and on MTCNN's many medium-sized products they cost more than they save
(measured on a busy 2-core machine: a product 7x slower with 2 BLAS threads than with 1).

Thread safety. The thread count is held per context (a ``ContextVar``: every Python thread has its
own), so one ``MTCNN`` may be shared by many threads: each ``detect`` uses its own count and changes
nobody else's. BLAS's setting is process-wide: it stays at one thread while any thread is inside a
``blas=1`` block and gets its own value back when the last one leaves.

Determinism. Work is shared out only where the outputs of one piece depend on nothing else (levels,
strips, rows, crops, channels), or, for a convolution's sums, in bands that depend on the shapes only,
never on the thread count; so on a given CPU and BLAS kernel the detections are the same bits at every
thread count and with any number of ``--workers`` (tests/test_determinism.py checks 1-4 threads under
each OpenBLAS core type the CPU runs). Across CPUs or BLAS kernels results may differ in the last
float32 bits.

``--workers`` in the command-line tools is another matter: whole photos in separate processes
(:mod:`tinymtcnn.process_pool`), so that a worker killed by the system costs only its photo.
"""
import contextlib
import contextvars
import threading

from .kernels import _jit

__all__ = ["set_num_threads", "get_num_threads", "limit_threads", "max_threads", "parallel_map",
           "blas_single_threaded"]

max_threads = _jit.max_threads
get_num_threads = _jit.get_num_threads

_controller = None  # threadpoolctl.ThreadpoolController (False without threadpoolctl), made on first use
_blas_lock = threading.Lock()  # guards the three below
_blas_holders = 0  # contexts now inside limit_threads(..., blas=1)
_blas_limiter = None  # threadpoolctl's limiter that restores BLAS's own setting when the last one leaves
_blas_pinned = contextvars.ContextVar("tinymtcnn_blas_pinned", default=False)


def _check_count(n):
    """``n`` as an int >= 1 (TypeError for strings, bools, floats; ValueError below 1)."""
    from .layers._checks import check_number  # here: the layers import this module

    return check_number("number of threads", n, low=1, integer=True)


def set_num_threads(n):
    """Make ``n`` threads (clipped to ``1..max_threads()``) the process default; ``None`` restores
    Numba's default. Contexts inside :func:`limit_threads` keep their own count.

    Returns the number now in force in the calling context.
    """
    if n is not None:
        n = _check_count(n)
    return _jit.set_num_threads(n)


def _blas_controller():
    global _controller
    with _blas_lock:
        if _controller is None:
            try:
                from threadpoolctl import ThreadpoolController
            except ImportError:  # optional: without it BLAS keeps its own setting
                _controller = False
            else:
                _controller = ThreadpoolController()
    return _controller


@contextlib.contextmanager
def _pin_blas():
    """BLAS on one thread while any context is inside; its own setting back when the last one leaves."""
    global _blas_holders, _blas_limiter
    controller = _blas_controller()
    if not controller:
        yield
        return
    with _blas_lock:
        if _blas_holders == 0:
            _blas_limiter = controller.limit(limits=1, user_api="blas")
        _blas_holders += 1
    token = _blas_pinned.set(True)
    try:
        yield
    finally:
        _blas_pinned.reset(token)
        with _blas_lock:
            _blas_holders -= 1
            if _blas_holders == 0:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


@contextlib.contextmanager
def limit_threads(n=None, blas=None):
    """Within the block, tinymtcnn's kernels and :func:`parallel_map` use ``n``
    threads (default: :func:`get_num_threads`) in the calling context only; ``blas=1`` also holds
    BLAS to one thread (needs ``threadpoolctl``).

    Safe to use from several threads at once: the count is a ``ContextVar`` (each Python thread
    has its own), and BLAS, whose setting is process-wide, stays at one thread while any thread
    is inside a ``blas=1`` block and gets its own setting back when the last one leaves.
    ``blas=None`` leaves BLAS as it is.
    """
    if n is not None:
        n = _check_count(n)
    if blas not in (None, 1):
        raise ValueError(f"blas must be None (leave BLAS alone) or 1, got {blas!r}")
    n = get_num_threads() if n is None else _jit.clip_threads(n)
    token = _jit._context_threads.set(n)
    try:
        if blas == 1:
            with _pin_blas():
                yield n
        else:
            yield n
    finally:
        _jit._context_threads.reset(token)


def blas_single_threaded():
    """True inside ``limit_threads(..., blas=1)`` (with ``threadpoolctl``): BLAS runs one thread, so
    several of tinymtcnn's threads may call it at once (OpenBLAS's own threads must not be entered
    from several threads)."""
    return _blas_pinned.get()


# ---------------------------------------------------------------------------- the thread pool
MATMUL_MIN_WORK = 1 << 25  # multiply-adds (about a millisecond) below which a layer's products stay on one thread
parallel_map = _jit.parallel_map
