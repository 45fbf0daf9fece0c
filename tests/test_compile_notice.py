"""The one line a first run prints while Numba compiles (issue: a cold start said nothing for 16 s).

Each case runs a fresh process on a pseudo-terminal (``pty``) with its own empty Numba cache, so
the kernel really compiles; the second run loads it from that cache and must say nothing.
"""
import os
import pty
import subprocess
import sys

import pytest

pytest.importorskip("numba")

from tinymtcnn.kernels._jit import COMPILE_NOTICE  # noqa: E402

SCRIPT = ("import numpy as np; from tinymtcnn.kernels.resample import resample; "
          "resample(np.zeros((4, 4, 3), np.uint8), 2, 2)")  # a kernel no classroom task stubs


def run(cache, terminal):
    """Run :data:`SCRIPT`; stderr on a pseudo-terminal or a pipe. Returns what stderr got."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    env.pop("TINYMTCNN_DISABLE_JIT", None)
    if not terminal:
        done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stderr
    main, child = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.DEVNULL, stderr=child)
        os.close(child)
        got = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            got += chunk
        assert proc.wait(300) == 0, got
        return got.decode("utf-8", "replace")
    finally:
        os.close(main)


def test_first_compile_says_so_once_on_a_terminal_and_never_from_the_cache(tmp_path):
    first = run(tmp_path / "cache", terminal=True)
    assert first.count(COMPILE_NOTICE) == 1, first
    again = run(tmp_path / "cache", terminal=True)
    assert COMPILE_NOTICE not in again, again


def test_no_notice_when_stderr_is_not_a_terminal(tmp_path):
    assert COMPILE_NOTICE not in run(tmp_path / "cache", terminal=False)
