"""How many threads tinymtcnn uses, for its Numba kernels and for BLAS.

    >>> import tinymtcnn
    >>> tinymtcnn.set_num_threads(1)                  # doctest: +SKIP
    >>> tinymtcnn.MTCNN(num_threads=2).detect(img)    # doctest: +SKIP

The default is every core Numba sees (``NUMBA_NUM_THREADS``). A detection runs
inside ``limit_threads(n, blas=1)``: Numba's parallel kernels use ``n`` threads and
BLAS (numpy's matrix products, set through ``threadpoolctl``) one, restored
afterwards. OpenBLAS's own threads spin while they wait, and on MTCNN's many
medium-sized products they cost more than they save: measured on a busy 2-core
machine, a product 7x slower with 2 BLAS threads than with 1. The large products
of R-Net and O-Net are instead cut into column blocks that :func:`matmul` hands to
``n`` threads of its own, each calling single-threaded BLAS. P-Net, the costly
stage, does not use BLAS at all: whole pyramid levels go to the threads
(:func:`parallel_map`; the first level is about half the work). Small problems run
single-threaded whatever the setting: waking a thread costs more than it saves.

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
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .kernels import _jit

__all__ = ["set_num_threads", "get_num_threads", "limit_threads", "max_threads", "matmul", "parallel_map",
           "blas_single_threaded"]

max_threads = _jit.max_threads
get_num_threads = _jit.get_num_threads

_controller = None  # threadpoolctl.ThreadpoolController, made at the first detection
_blas_single = False  # inside limit_threads(..., blas=1): matmul may split products over our threads


def set_num_threads(n):
    """Use ``n`` threads from now on (clipped to ``1..max_threads()``); ``None`` restores the default.

    Returns the number now in force.
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"number of threads must be a positive integer or None, got {n!r}")
    return _jit.set_num_threads(n)


def _blas_controller():
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # optional: without it BLAS keeps its own setting
            _controller = False
        else:
            _controller = ThreadpoolController()
    return _controller


@contextlib.contextmanager
def limit_threads(n=None, blas=None):
    """Within the block, Numba kernels and :func:`matmul` use ``n`` threads (default:
    :func:`get_num_threads`) and BLAS ``blas`` (default ``n``; needs ``threadpoolctl``);
    the settings are restored on exit."""
    global _blas_single
    n = get_num_threads() if n is None else max(1, min(int(n), max_threads()))
    blas = n if blas is None else max(1, int(blas))
    saved, saved_single = _jit._threads, _blas_single
    _jit._threads = n
    old = _jit.apply_num_threads(n)
    controller = _blas_controller()
    _blas_single = blas == 1 and bool(controller)
    try:
        if controller:
            with controller.limit(limits=blas, user_api="blas"):
                yield n
        else:
            yield n
    finally:
        _jit._threads, _blas_single = saved, saved_single
        _jit.apply_num_threads(old)


def blas_single_threaded():
    """True inside ``limit_threads(..., blas=1)`` (with ``threadpoolctl``): BLAS runs one thread, so
    several of tinymtcnn's threads may call it at once (OpenBLAS's own threads must not be entered
    from several threads)."""
    return _blas_single


# ---------------------------------------------------------------------------- products
MATMUL_MIN_WORK = 1 << 25  # multiply-adds (about a millisecond) below which a product runs in one call
_pool = None
_pool_lock = threading.Lock()


def _executor():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max(1, max_threads() - 1), thread_name_prefix="tinymtcnn")
    return _pool


def matmul(a, b, out=None):
    """``a (M, K) @ b (K, P)`` into ``out`` (or a new array), over :func:`get_num_threads` threads.

    Inside ``limit_threads(n, blas=1)`` (every detection) large products are cut into
    column blocks of ``b``; the calling thread computes the first block and pool threads
    the others, each a single-threaded BLAS product, so the result equals
    ``np.matmul(a, b)`` column by column. Elsewhere this is ``np.matmul`` (BLAS threads
    as configured).
    """
    m, k = a.shape
    p = b.shape[1]
    if out is None:
        out = np.empty((m, p), dtype=np.result_type(a, b))
    n = min(get_num_threads(), max(1, m * k * p // MATMUL_MIN_WORK)) if _blas_single else 1
    if n <= 1 or p < 2 * n:
        return np.matmul(a, b, out=out)
    edges = [p * i // n for i in range(n + 1)]
    jobs = [_executor().submit(np.matmul, a, b[:, lo:hi], out=out[:, lo:hi])
            for lo, hi in zip(edges[1:-1], edges[2:])]
    np.matmul(a, b[:, :edges[1]], out=out[:, :edges[1]])
    for job in jobs:
        job.result()
    return out


def parallel_map(fn, items, n=None):
    """``[fn(x) for x in items]`` on up to ``n`` threads (default :func:`get_num_threads`): the
    caller's and pool threads, each taking the next item as it frees up; results in order.

    Worth it when ``fn`` spends its time in code that releases the GIL (Numba ``nogil``
    kernels, numpy on large arrays).
    """
    items = list(items)
    n = min(get_num_threads() if n is None else n, len(items))
    if n <= 1:
        return [fn(x) for x in items]
    results = [None] * len(items)
    order = iter(range(len(items)))
    lock = threading.Lock()

    def drain():
        while True:
            with lock:
                i = next(order, None)
            if i is None:
                return
            results[i] = fn(items[i])

    jobs = [_executor().submit(drain) for _ in range(n - 1)]
    try:
        drain()
    finally:
        for job in jobs:
            job.result()
    return results
