"""A small pool of spawned worker processes that survives a killed worker.

``ProcessPoolExecutor`` turns one killed worker (the out-of-memory killer, ``kill -9``) into
``BrokenProcessPool`` for every pending task. Here each worker holds one task at a time, sent over its
own pipe, so the pool always knows which task a dead worker had: the worker is replaced, its task is
retried once on a fresh worker, then reported as failed, and every other task carries on.

Workers ignore SIGINT from birth: on Ctrl-C (SIGINT to the whole process group) the parent alone
gets ``KeyboardInterrupt`` and ends them, so they print no tracebacks.
"""
import collections
import contextlib
import signal
import threading
from multiprocessing import connection, get_context


_READY = "ready"  # a worker's first message, once its initializer has run
STARTUP_FAILURES = 3  # workers dying in a row before they are ready: the pool gives up


class PoolBroken(RuntimeError):
    """Worker processes keep dying before they are ready (the initializer fails or the machine is out of memory)."""


def describe_exit(exitcode):
    """Words for a process exit code: ``"killed by SIGKILL"`` or ``"exit status 1"``."""
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit status {exitcode}"


def _exit_on_sigterm(signum, frame):
    """SIGTERM (the pool ending a worker): exit through Python, so atomic writes in progress clean up."""
    raise SystemExit(128 + signum)


def _worker_main(conn, work, initializer, initargs):
    """A worker: ``initializer(*initargs)`` once, then ``work(task)`` for each task until ``None``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and ends the workers
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if initializer is not None:
        initializer(*initargs)
    conn.send(_READY)
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the parent is gone
            return
        if message is None:
            return
        index, task = message
        try:
            conn.send((index, work(task), None))
        except Exception as exc:  # reported for this task; the worker carries on
            conn.send((index, None, f"{type(exc).__name__}: {exc}"))


@contextlib.contextmanager
def _sigint_ignored():
    """Ctrl-C ignored inside (main thread only; elsewhere a no-op); the previous handler restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)


class _Worker:
    def __init__(self, context, work, initializer, initargs):
        self.conn, child_conn = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child_conn, work, initializer, initargs),
                                       daemon=True)
        # SIGINT ignored while starting it: the child inherits SIG_IGN through exec (a blocked signal
        # mask is not kept), so a Ctrl-C while it imports gives no traceback
        with _sigint_ignored():
            self.process.start()
        child_conn.close()
        self.task = None  # (index, task) while busy
        self.ready = False  # its initializer has run


class WorkerPool:
    """``n_workers`` spawned processes running ``work(task)``; a context manager that ends them on exit.

    Parameters
    ----------
    work : callable
        Module-level function (pickled by reference) run on each task in a worker.
    n_workers : int
    initializer, initargs
        ``initializer(*initargs)`` runs once in each worker before its first task.
    retries : int
        How many times a task whose worker died is given to a fresh worker.
    on_death : callable, optional
        ``on_death(task, how, retrying)`` is called when a worker dies holding ``task``.
    """

    def __init__(self, work, n_workers, initializer=None, initargs=(), retries=1, on_death=None):
        self._context = get_context("spawn")  # fresh interpreters: no fork of Numba/OpenMP threads
        self._args = (work, initializer, initargs)
        self.n_workers, self.retries, self.on_death = n_workers, retries, on_death
        self._workers = []
        self._startup_failures = 0  # workers in a row that died before they were ready

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close(wait=exc_info[0] is None)

    def close(self, wait=True):
        """Stop the workers: ask them to finish (``wait``) or end them at once (a second Ctrl-C waits)."""
        with _sigint_ignored():
            self._close(wait)

    def _close(self, wait):
        for worker in self._workers:
            if wait and worker.process.is_alive():
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
        for worker in self._workers:
            if wait:
                worker.process.join(timeout=10)
            if worker.process.is_alive():
                worker.process.terminate()  # SIGTERM: the worker exits through Python (see _exit_on_sigterm)
                worker.process.join(timeout=10)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        self._workers = []

    def _start_worker(self):
        worker = _Worker(self._context, *self._args)
        self._workers.append(worker)
        return worker

    def _retire(self, worker):
        worker.process.join()
        worker.conn.close()
        self._workers.remove(worker)

    def run(self, tasks):
        """Yield ``(index, result, error)`` for each ``(index, task)`` as it finishes (any order).

        ``error`` is None on success; otherwise a message (the task raised, or its worker died more
        than ``retries`` times on it) and ``result`` is None.
        """
        pending = collections.deque(tasks)
        deaths = collections.Counter()
        while pending or any(w.task is not None for w in self._workers):
            for worker in [w for w in self._workers if w.task is None and not w.process.is_alive()]:
                self._retire(worker)  # died between tasks: replaced below if needed
            idle = [w for w in self._workers if w.task is None]
            while pending and (idle or len(self._workers) < self.n_workers):
                worker = idle.pop() if idle else self._start_worker()
                worker.task = pending.popleft()
                try:
                    worker.conn.send(worker.task)
                except OSError:  # it died before taking the task: its sentinel tells below
                    pass
            busy = [w for w in self._workers if w.task is not None]
            ready = set(connection.wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
            for worker in busy:
                if worker.conn not in ready and worker.process.sentinel not in ready:
                    continue
                try:
                    message = worker.conn.recv() if worker.conn.poll() else None
                except (EOFError, OSError):
                    message = None  # died
                if message == _READY:
                    worker.ready, self._startup_failures = True, 0
                elif message is not None:
                    worker.task = None
                    yield message
                elif not worker.process.is_alive() or worker.conn in ready:
                    yield from self._bury(worker, pending, deaths)

    def _bury(self, worker, pending, deaths):
        index, task = worker.task
        self._retire(worker)
        how = describe_exit(worker.process.exitcode)
        if not worker.ready:  # died while starting: not this task's fault
            self._startup_failures += 1
            if self._startup_failures >= STARTUP_FAILURES:
                raise PoolBroken(f"{self._startup_failures} worker processes in a row died while starting ({how})")
            pending.appendleft((index, task))
            return
        deaths[index] += 1
        retrying = deaths[index] <= self.retries
        if self.on_death is not None:
            self.on_death(task, how, retrying)
        if retrying:
            pending.appendleft((index, task))
        else:
            yield index, None, f"its worker process died {deaths[index]} times on it ({how})"
