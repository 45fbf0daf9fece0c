"""Photos per second: in one process, ``--workers 2`` and a local Dask cluster of 1 and 2 workers.

    python benchmarks/bench_distributed.py            # needs dask + distributed (tinymtcnn[dask])
    python benchmarks/bench_distributed.py --photos 48 --size 320

Every mode runs the same per-photo function (:func:`tinymtcnn.cli._process`, what ``tinymtcnn
detect`` runs) on the same generated photos, after a warm-up that builds each process's detector,
so ``photos/s`` is the steady rate; ``start-up`` is the time to the end of that warm-up (spawning
the processes, importing, loading the Numba cache, building the detectors). Modes:

* ``in-process``: one process, ``MTCNN(num_threads=T)``;
* ``--workers 2``: the CLI's :class:`~tinymtcnn.process_pool.WorkerPool`, one thread each;
* ``dask N``: ``distributed.LocalCluster(n_workers=N, threads_per_worker=1, processes=True)`` and
  :func:`tinymtcnn.distributed.detect_paths` (one thread per detection).

``overhead/photo`` is the time a mode adds per photo over the in-process run with the same total
number of threads (wall time difference / photos); ``CPU ms/photo`` counts the CPU time of every
process involved (this one, with Dask's scheduler and client, and the workers), steadier than wall
time on a busy machine, and ``CPU overhead/photo`` is its excess over one thread in one process;
``empty task`` is Dask's round trip for a task
that does nothing (``client.map`` of N no-ops, per task): the scheduling cost alone. Each worker's
memory (RSS after the run) is printed for the docs' sizing advice.
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import environment, print_table  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ASTRONAUT = REPO / "tinymtcnn" / "assets" / "astronaut.png"


def make_photos(folder, n, size):
    """``n`` photos of ``size``x``size``: the astronaut, mirrored and shifted in turn (one face each)."""
    import numpy as np
    from PIL import Image

    base = np.asarray(Image.open(ASTRONAUT).convert("RGB").resize((size, size), Image.BILINEAR))
    paths = []
    for i in range(n):
        img = np.roll(base[:, ::-1] if i % 2 else base, shift=(i * 7) % (size // 4), axis=1)
        paths.append(Path(folder) / f"photo{i:03d}.png")
        Image.fromarray(np.ascontiguousarray(img)).save(paths[-1])
    return [str(p) for p in paths]


def cpu_seconds():
    """CPU time (user + system) of this process and all its descendants (workers, nannies) so far."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:  # ended meanwhile
            continue
        total += times.user + times.system
    return total


def in_process(paths, threads):
    from tinymtcnn import cli

    t0 = time.perf_counter()
    detector = cli._make_detector({"num_threads": threads})
    cli._process(detector, paths[0], None)
    start = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), cpu_seconds()
    for p in paths:
        cli._process(detector, p, None)
    return start, time.perf_counter() - t0, cpu_seconds() - c0, None


def worker_pool(paths, n):
    from tinymtcnn import cli
    from tinymtcnn.process_pool import WorkerPool

    t0 = time.perf_counter()
    with WorkerPool(cli._process_in_worker, n, initializer=cli._init_worker,
                    initargs=(cli._worker_options({"num_threads": None}),)) as pool:
        list(pool.run((i, (p, None)) for i, p in enumerate(paths[:n])))  # warm-up: one photo per worker
        start = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), cpu_seconds()
        results = list(pool.run((i, (p, None)) for i, p in enumerate(paths)))
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    assert all(error is None for _, _, error in results)
    return start, wall, cpu, None


def _noop(x):
    return x


def _rss_mb():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dask_cluster(paths, n):
    import logging

    import distributed

    from tinymtcnn.distributed import detect_paths

    t0 = time.perf_counter()
    with distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster, distributed.Client(cluster) as client:
        detect_paths(paths[:2 * n], client, progress=False)  # warm-up: every worker builds its detector
        start = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), cpu_seconds()
        records = detect_paths(paths, client, progress=False)
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        assert not [r for r in records if "error" in r]
        t1 = time.perf_counter()
        client.gather(client.map(_noop, range(len(paths)), pure=False))
        empty = (time.perf_counter() - t1) / len(paths)
        rss = max(client.run(_rss_mb).values())
    return start, wall, cpu, (empty, rss)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=32, help="photos per timed run (32)")
    parser.add_argument("--size", type=int, default=256, help="side of each photo in pixels (256)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        paths = make_photos(folder, args.photos, args.size)
        runs = [("in-process", "1 x 1", lambda: in_process(paths, 1)),
                ("in-process", "1 x 2", lambda: in_process(paths, 2)),
                ("--workers 2", "2 x 1", lambda: worker_pool(paths, 2)),
                ("dask 1 worker", "1 x 1", lambda: dask_cluster(paths, 1)),
                ("dask 2 workers", "2 x 1", lambda: dask_cluster(paths, 2))]
        measured = [(name, shape, *fn()) for name, shape, fn in runs]
    base = {shape: wall for name, shape, _, wall, _, _ in measured if name == "in-process"}
    base["2 x 1"] = base["1 x 2"]  # the same two threads' worth of cores
    cpu_base = measured[0][4]  # in-process, one thread: the CPU a photo needs
    rows, extra = [], []
    for name, shape, start, wall, cpu, more in measured:
        overhead = None if name == "in-process" else 1e3 * (wall - base[shape]) / args.photos
        rows.append([name, shape, args.photos / wall, 1e3 * wall / args.photos, overhead,
                     1e3 * cpu / args.photos, 1e3 * (cpu - cpu_base) / args.photos, start])
        if more is not None:
            extra.append(f"{name}: empty task {1e3 * more[0]:.1f} ms; worker peak RSS {more[1]:.0f} MB")
    print(f"{args.photos} photos of {args.size}x{args.size}; {environment()}")
    print_table(["mode", "processes x threads", "photos/s", "ms/photo", "overhead/photo ms", "CPU ms/photo",
                 "CPU overhead/photo ms", "start-up s"], rows)
    for line in extra:
        print(line)


if __name__ == "__main__":
    main()
