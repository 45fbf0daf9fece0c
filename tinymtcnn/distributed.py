"""Detection and training samples on a Dask cluster (``pip install "tinymtcnn[dask]"``).

    >>> from distributed import Client
    >>> from tinymtcnn.distributed import detect_paths
    >>> client = Client("tcp://scheduler:8786")                 # doctest: +SKIP
    >>> records = detect_paths(paths, client)                   # doctest: +SKIP

Each photo is one Dask task running the CLI's own per-photo function
(:func:`tinymtcnn.cli._process`), so a record is exactly a record of ``tinymtcnn detect``'s JSON.
Each worker process builds one :class:`~tinymtcnn.MTCNN` per set of options, on its first photo,
and shares it between its task threads (an ``MTCNN`` is thread-safe); each detection uses
``num_threads`` threads (default 1: a worker started with ``--nthreads T`` runs T photos at once).
A photo that cannot be read or detected gives an error entry, never an exception; a worker that
dies is replaced by its nanny and Dask reruns its tasks elsewhere (up to
``distributed.scheduler.allowed-failures`` times, then the photo is reported as failed).

Workers read the photos, the ``weights`` folder and write the annotated pictures at the paths
given here: they must see the same files (one machine, or a shared file system).
:func:`run_on_client` is the general runner, with :meth:`tinymtcnn.process_pool.WorkerPool.run`'s
contract; training's sample building uses it through ``build_samples(..., workers=client)``, and
evaluation (``tinymtcnn.eval.evaluate(..., client=)``) through :func:`worker_detector` as detection
does: a task carries the detector's options, never the detector, so any worker can run it.
Dask is imported only here, and only when used: the core package does not need it.
"""
import itertools
import json
import os
import sys
import threading
import uuid

from .process_pool import PoolBroken

INSTALL_HINT = 'pip install "tinymtcnn[dask]"  (or: pip install dask distributed)'
MAX_PENDING = 20_000  # tasks the command line keeps submitted at once (the scheduler holds each)


class ClusterLost(PoolBroken):
    """The scheduler went away or cancelled the work: the results received so far are kept."""


def require_distributed():
    """The ``distributed`` module, or ImportError saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise ImportError(f"running on a Dask cluster needs dask and distributed: {INSTALL_HINT}") from None
    return distributed


def is_client(obj):
    """Whether ``obj`` is a ``distributed.Client`` (without importing Dask when it is not loaded)."""
    distributed = sys.modules.get("distributed")
    return distributed is not None and isinstance(obj, distributed.Client)


_clients = {}


def client_for(address, timeout=10):
    """A connected ``distributed.Client`` for the scheduler at ``address`` (kept for this process).

    Raises
    ------
    ValueError
        Dask is not installed, or no scheduler answers at ``address`` within ``timeout`` seconds.
    """
    client = _clients.get(address)
    if client is not None and client.status == "running":
        return client
    try:
        distributed = require_distributed()
    except ImportError as exc:
        raise ValueError(f"--scheduler: {exc}") from None
    try:
        client = distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ValueError(f"--scheduler {address}: no Dask scheduler answers there ({exc})") from None
    _clients[address] = client
    if not client.scheduler_info().get("workers"):  # Dask waits for workers; say so rather than seem stuck
        print(f"tinymtcnn: the Dask scheduler at {address} has no workers yet: the work waits until some "
              f"join (dask worker {address} ...)", file=sys.stderr)
    return client


def _error_text(exc):
    """``"Type: message"`` as :class:`~tinymtcnn.process_pool.WorkerPool` reports a failed task."""
    if type(exc).__name__ == "KilledWorker":
        return f"the Dask workers running it died each time it was tried (KilledWorker: {exc})"
    return f"{type(exc).__name__}: {exc}"


def run_on_client(client, work, tasks, *, name="tinymtcnn", max_pending=None, progress=False):
    """Run ``work(task)`` on the cluster; yield ``(index, result, error)`` per ``(index, task)`` as they finish.

    The same contract as :meth:`tinymtcnn.process_pool.WorkerPool.run`: ``error`` is None on success,
    else ``"Type: message"`` and ``result`` is None. Results arrive in any order.

    Parameters
    ----------
    client : distributed.Client
    work : callable
        Module-level function (workers import it by name: they need the same tinymtcnn).
    tasks : iterable of (index, task)
    name : str
        Prefix of the task keys (what the dashboard and the progress bar show).
    max_pending : int, optional
        Keep at most this many tasks submitted, submitting the next as one finishes (bounded
        scheduler memory for millions of photos). None: submit all at once.
    progress : bool
        Show Dask's progress bar (a widget in a notebook, a text bar on stdout in a console). Needs
        ``max_pending=None``: the bar tracks the tasks submitted when it starts.

    Raises
    ------
    ClusterLost
        A task was cancelled (the scheduler restarted or went away); the results yielded stay valid.
    """
    distributed = require_distributed()
    tasks = iter(tasks)
    token = uuid.uuid4().hex[:8]
    index_of = {}

    task_of, tries = {}, {}

    def submit(batch):
        for index, _ in batch:
            tries[index] = tries.get(index, 0) + 1
        keys = [f"{name}-{token}-{index}-{tries[index]}" for index, _ in batch]
        futures = client.map(_in_worker, [task for _, task in batch], key=keys, pure=False, work=work)
        for future, (index, task) in zip(futures, batch):
            index_of[future.key] = index
            task_of[index] = task
        return futures

    futures = submit(list(tasks if max_pending is None else itertools.islice(tasks, max_pending)))
    bar = None
    if progress:
        bar = threading.Thread(target=distributed.progress, args=(futures,), daemon=True, name="dask-progress",
                               kwargs={"notebook": None if _in_notebook() else False})
        bar.start()
    # One result gathered at a time, by this thread: gathering them inside as_completed (with_results=True)
    # let two reads meet on one connection now and then (tornado's "assert buf is not None"), after which
    # as_completed waited for ever. A result lost with its worker before it reached us is computed again.
    finished = distributed.as_completed(futures)
    del futures
    try:
        for future in finished:
            for new in submit(list(itertools.islice(tasks, 1))):
                finished.add(new)
            index = index_of.pop(future.key)
            result, error, lost = None, None, future.status == "lost"
            if future.status == "finished":
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - the worker holding it died
                    lost = f"{type(exc).__name__}: {exc}"
            if lost:  # the result went with its worker before it reached us: compute it again
                future.release()
                if tries[index] >= 3:
                    raise ClusterLost(f"task {index} lost its result {tries[index]} times ({lost})")
                finished.add(submit([(index, task_of[index])])[0])
                continue
            if future.status == "error":
                error = _error_text(future.exception())
            elif future.status != "finished":
                raise ClusterLost(f"the scheduler at {client.scheduler.address} dropped the work ({future.status})")
            future.release()
            task_of.pop(index, None)
            yield index, result, error
        if bar is not None:
            bar.join(timeout=10)  # its last line drawn before we return (seconds on a busy machine)
    finally:
        pending = list(finished.futures)  # submitted, not finished
        if pending:  # closed early (Ctrl-C, an error): the cluster stops working for us
            client.cancel(pending)


_malloc_tuned = False


def _in_worker(task, work):
    """``work(task)`` in a Dask worker, after :func:`_undo_malloc_trim` (once per process)."""
    global _malloc_tuned
    if not _malloc_tuned:
        _malloc_tuned = True
        _undo_malloc_trim()
    return work(task)


def _undo_malloc_trim():
    """Give back glibc's large-block thresholds that Dask's ``MALLOC_TRIM_THRESHOLD_`` takes away.

    Dask starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (memory returned to the system at
    once); that also fixes glibc's mmap threshold at 128 KiB, so every array of a detection above it
    is mapped and unmapped afresh: measured 1.4-1.6x slower detections (photos of 640x640, 1 thread).
    Thresholds of 32 MiB (mmap) and 64 MiB (trim) give the speed of a plain process back, at the same
    peak memory. Only where that variable is set and glibc is the C library; otherwise nothing.
    """
    import ctypes

    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, Windows, musl)
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's <malloc.h>
    libc.mallopt(m_mmap_threshold, 32 << 20)
    libc.mallopt(m_trim_threshold, 64 << 20)


def _in_notebook():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


# ------------------------------------------------------------------ detection
_detectors = {}
_detectors_lock = threading.Lock()


def worker_detector(options):
    """This worker process's ``MTCNN`` for ``options``, built on first use and then reused."""
    from . import cli

    key = json.dumps(options, sort_keys=True)
    with _detectors_lock:
        detector = _detectors.get(key)
        if detector is None:
            detector = _detectors[key] = cli._make_detector(options)
    return detector


def _detect_task(task):
    """One photo in a worker: ``(record, None)`` or ``(None, error)``, as the command line's workers give."""
    from . import cli

    options, path, picture = task
    return cli._process(worker_detector(options), path, picture)


def detector_options(options=None, num_threads=1):
    """The MTCNN options sent to the workers (``num_threads`` per detection, 1 unless given), checked here.

    Weights paths are made absolute (the workers' working folder may differ). Raises ``ValueError`` or
    ``TypeError`` for options ``MTCNN`` refuses, and ``TypeError`` for nets given in memory: a task
    carries the options, not the nets (save them with :func:`tinymtcnn.weights.save_net`).
    """
    from . import cli

    options = dict(options or {})
    if options.get("num_threads") is None:
        options["num_threads"] = num_threads
    cli._make_detector(options)  # bad options fail here, before any task is sent
    weights = options.get("weights")
    if isinstance(weights, (str, os.PathLike)):
        options["weights"] = os.path.abspath(weights)
    elif isinstance(weights, dict):
        in_memory = sorted(k for k, v in weights.items() if not isinstance(v, (str, os.PathLike)))
        if in_memory:
            raise TypeError(f"weights {in_memory} are nets in memory: on a Dask cluster give their .npz paths "
                            f"(tinymtcnn.weights.save_net writes them); each worker loads its own")
        options["weights"] = {k: os.path.abspath(v) for k, v in weights.items()}
    return options


def iter_detect(paths, client, *, options=None, pictures=None, max_pending=MAX_PENDING, progress=False):
    """Yield ``(index, (record, error))`` per photo as it finishes on the cluster (any order).

    ``record`` is the command line's JSON record (``error`` None), or None with ``error`` naming the
    photo. ``options``: :class:`~tinymtcnn.MTCNN` keyword arguments; ``pictures``: per photo, the
    annotated picture to write (a path, or None), as ``tinymtcnn detect --out`` names them.
    """
    options = detector_options(options)
    pictures = [None] * len(paths) if pictures is None else list(pictures)
    if len(pictures) != len(paths):
        raise ValueError(f"pictures has {len(pictures)} entries for {len(paths)} paths")
    tasks = ((i, (options, str(p), None if q is None else str(q))) for i, (p, q) in enumerate(zip(paths, pictures)))
    for index, result, error in run_on_client(client, _detect_task, tasks, name="tinymtcnn-detect",
                                              max_pending=max_pending, progress=progress):
        yield index, (result if error is None else (None, f"failed on {str(paths[index])!r}: {error}"))


def detect_paths(paths, client, *, options=None, pictures=None, progress=True):
    """Detect faces in every photo of ``paths`` on the cluster of ``client``; records in input order.

    Parameters
    ----------
    paths : iterable of str or os.PathLike, or a dask.bag.Bag of them
        Photos, readable by the workers at these paths (a bag is computed into a list first).
    client : distributed.Client
    options : dict, optional
        :class:`~tinymtcnn.MTCNN` keyword arguments; ``num_threads`` (threads per detection) is 1
        unless given.
    pictures : list, optional
        Per photo, where a worker writes the annotated picture (or None).
    progress : bool
        Dask's progress bar.

    Returns
    -------
    list of dict
        Per photo, the record of ``tinymtcnn detect``'s JSON (``path``, ``annotated``, ``width``,
        ``height``, ``faces``), or ``{"path": ..., "error": message}`` for a photo that failed.
        ``[r for r in records if "error" not in r]`` is the command line's JSON.
    """
    paths = list(paths)
    records = [None] * len(paths)
    for index, (record, error) in iter_detect(paths, client, options=options, pictures=pictures, max_pending=None,
                                              progress=progress):
        records[index] = record if record is not None else {"path": str(paths[index]), "error": error}
    return records
