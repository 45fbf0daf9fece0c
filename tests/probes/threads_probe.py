"""Shared-detector thread safety, imported by tests/test_thread_safety.py (and runnable on its own).

Prints one JSON object: whether concurrent detections equalled the serial ones bit for bit, the
thread settings before and after, and whether Numba ever started threads of its own (it must not:
tinymtcnn's one parallel mechanism is its thread pool, see tinymtcnn.threads).
"""
import json
import sys
import threading

import numpy as np
from PIL import Image
from threadpoolctl import threadpool_info

import tinymtcnn
from tinymtcnn.io import load_image


def photos(count=4, size=640):
    """``count`` different photos made from the bundled one (rotated, resized)."""
    photo = Image.fromarray(load_image(tinymtcnn.__path__[0] + "/assets/astronaut.png"))
    return [np.asarray(photo.rotate(10 * i).resize((size - 32 * i, size))) for i in range(count)]


def settings():
    blas = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    return {"tinymtcnn": tinymtcnn.get_num_threads(), "blas": blas}


def numba_threads_started():
    """Whether Numba has started its own thread pool (a ``parallel=True`` kernel ran) in this process."""
    from numba.np.ufunc import parallel

    return bool(getattr(parallel, "_is_initialized", False))


def same(a, b):
    return (len(a) == len(b) and np.array_equal(a.boxes, b.boxes) and np.array_equal(a.scores, b.scores)
            and np.array_equal(a.landmarks, b.landmarks))


def run(callers=4, rounds=3, num_threads=2):
    """Detections of one shared ``MTCNN(num_threads)`` from ``callers`` threads at once vs serial."""
    images = photos()
    detector = tinymtcnn.MTCNN(num_threads=num_threads)
    serial = [detector.detect(im) for im in images]
    before = settings()
    mismatches, errors = [], []
    start = threading.Barrier(callers)

    def caller(k):
        try:
            start.wait()
            for r in range(rounds):
                for i in np.random.default_rng(k * 100 + r).permutation(len(images)):
                    if not same(detector.detect(images[i]), serial[i]):
                        mismatches.append((k, r, int(i)))
        except Exception as exc:  # reported, not raised: the parent process checks
            errors.append(f"{type(exc).__name__}: {exc}")

    workers = [threading.Thread(target=caller, args=(k,)) for k in range(callers)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return {"numba_threads": numba_threads_started(), "faces": [len(s) for s in serial], "calls": callers * rounds * len(images),
            "mismatches": mismatches, "errors": errors, "before": before, "after": settings()}


if __name__ == "__main__":
    print(json.dumps(run()))
    sys.exit(0)
