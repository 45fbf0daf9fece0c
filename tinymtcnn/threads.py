"""How many threads tinymtcnn uses, for its Numba kernels and for BLAS; thread safety; determinism.

    >>> import tinymtcnn
    >>> tinymtcnn.set_num_threads(1)                  # doctest: +SKIP
    >>> tinymtcnn.MTCNN(num_threads=2).detect(img)    # doctest: +SKIP

The default is every core Numba sees (``NUMBA_NUM_THREADS``). A detection runs
inside ``limit_threads(n, blas=1)``: Numba's parallel kernels use ``n`` threads and
BLAS (numpy's matrix products, set through ``threadpoolctl``) one. OpenBLAS's own
threads spin while they wait, and on MTCNN's many medium-sized products they cost
more than they save: measured on a busy 2-core machine, a product 7x slower with 2
BLAS threads than with 1. The convolutions' products are instead cut into bands of
output rows (``tinymtcnn.layers.conv``) that :func:`parallel_map` hands to ``n`` threads
of its own, each calling single-threaded BLAS. P-Net, the costly stage, does not use
BLAS at all: whole pyramid levels go to the threads (:func:`parallel_map`; the first
level is about half the work). Small problems run single-threaded whatever the
setting: waking a thread costs more than it saves.

Thread safety. The thread count is held per context (a ``ContextVar``: every Python
thread has its own), so one ``MTCNN`` may be shared by many threads: each ``detect``
uses its own count and changes nobody else's. Numba's own count is per thread too; it
is set for each parallel launch and restored after it (:func:`tinymtcnn.kernels._jit.call_parallel`).
BLAS's setting is process-wide: it stays at one thread while any thread is inside a
``blas=1`` block and gets its own value back when the last one leaves. Under Numba's
``workqueue`` threading layer, which cannot take two launches at once, a launch made
while another thread's runs uses the serial build of the same loop instead.

Determinism. Every kernel's work is split by the problem's shape, never by the thread
count (the convolutions' bands of output rows), so on a given CPU and BLAS kernel the
detections are the same bits at every thread count and with any number of ``--workers``
(tests/test_determinism.py checks 1-4 threads under each OpenBLAS core type the CPU runs).
Across CPUs or BLAS kernels results may differ in the last float32 bits.

Numba's parallel kernels run on OpenMP when it is available; unless
``OMP_WAIT_POLICY`` is set, tinymtcnn sets it to ``PASSIVE`` before Numba starts
its threads, so that idle threads sleep instead of spinning. A spinning thread
takes a core from the thread doing the work when the machine is busy (measured:
a 2-thread pyramid 15x slower than 1 thread on a loaded 2-core machine). A library
that loaded OpenMP earlier in the process (PyTorch ships its own ``libgomp.so.1``,
which Numba then shares) has already read the setting: export
``OMP_WAIT_POLICY=PASSIVE`` before starting Python, or use 1 thread, when mixing them.
"""
import contextlib
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

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
    thread (nothing nested goes parallel again) and the caller's BLAS setting. Worth it when
    ``fn`` spends its time in code that releases the GIL (Numba ``nogil`` kernels, numpy on
    large arrays).
    """
    items = list(items)
    n = min(get_num_threads() if n is None else n, len(items))
    if n <= 1:
        return [fn(x) for x in items]
    results = [None] * len(items)
    order = iter(range(len(items)))
    lock = threading.Lock()

    def drain():
        token = _jit._context_threads.set(1)
        try:
            while True:
                with lock:
                    i = next(order, None)
                if i is None:
                    return
                results[i] = fn(items[i])
        finally:
            _jit._context_threads.reset(token)

    jobs = [_executor().submit(contextvars.copy_context().run, drain) for _ in range(n - 1)]
    try:
        drain()
    finally:
        for job in jobs:
            job.result()
    return results
