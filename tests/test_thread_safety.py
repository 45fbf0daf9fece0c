"""One ``MTCNN`` shared by several Python threads (docs/performance.md, "Threads"): concurrent
``detect`` calls give exactly the serial results and leave every thread setting as it was; Numba's
own threads are never started (the package's thread pool is its one parallel mechanism)."""
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import tinymtcnn
from tinymtcnn import threads

PROBES = Path(__file__).resolve().parent / "probes"
sys.path.insert(0, str(PROBES))
import threads_probe  # noqa: E402


def _check(result):
    assert result["errors"] == [], result
    assert result["mismatches"] == [], result
    assert sum(result["faces"]) >= 4, result
    assert result["after"] == result["before"], result
    assert result["numba_threads"] is False, result


@pytest.mark.pipeline
def test_shared_detector_from_four_threads_equals_serial():
    _check(threads_probe.run(callers=4, rounds=2))


@pytest.mark.slow
@pytest.mark.pipeline
def test_two_threads_in_a_fresh_process():
    """A process of its own with two threads (``NUMBA_NUM_THREADS=2``, whatever the machine has): the
    threads really share the work, and Numba starts no threads of its own."""
    env = dict(os.environ, NUMBA_NUM_THREADS="2")
    done = subprocess.run([sys.executable, str(PROBES / "threads_probe.py")], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-3000:]}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["before"]["tinymtcnn"] == 2
    _check(result)


def test_limit_threads_is_per_thread():
    inside, release = threading.Event(), threading.Event()
    seen = {}

    def holder():
        with threads.limit_threads(1, blas=1):
            seen["holder"] = tinymtcnn.get_num_threads()
            inside.set()
            release.wait(10)

    default = tinymtcnn.get_num_threads()
    t = threading.Thread(target=holder)
    t.start()
    try:
        assert inside.wait(10)
        assert tinymtcnn.get_num_threads() == default  # this thread's count is untouched
        assert threads.blas_single_threaded() is False  # the pin belongs to the other context
    finally:
        release.set()
        t.join()
    assert seen["holder"] == 1


def test_limit_threads_rejects_bad_values():
    with pytest.raises(TypeError):
        with threads.limit_threads("2"):
            pass
    with pytest.raises(ValueError):
        with threads.limit_threads(0):
            pass
    with pytest.raises(ValueError, match="blas"):
        with threads.limit_threads(1, blas=2):
            pass
