"""When ``call_parallel`` runs a parallel build that is not compiled yet (kernels/_jit.py, PARALLEL_COMPILE_AFTER).

A cold start should not compile parallel builds that would not pay for themselves: until the serial
build has run ``PARALLEL_COMPILE_AFTER`` seconds in its place, a launch runs the serial build (same
bits); a build already compiled, or in Numba's disk cache, runs at once. No timing is measured here
beyond counting the fake builds' calls.
"""
import time
import types

import pytest

from tinymtcnn.kernels import _jit

pytestmark = pytest.mark.skipif(not _jit.HAVE_NUMBA, reason="the rule only applies to Numba's builds")


class FakeBuild:
    """Stands for a Numba dispatcher: ``signatures`` (compiled ones) and a disk-cache index path."""

    def __init__(self, name, calls, index_path="/nonexistent/index.nbi", signatures=(), sleep=0.0):
        self.name, self.calls, self.sleep = name, calls, sleep
        self.signatures = list(signatures)
        self._cache = types.SimpleNamespace(_cache_file=types.SimpleNamespace(_index_path=str(index_path)))

    def __call__(self, x):
        time.sleep(self.sleep)
        self.calls.append(self.name)
        return x


@pytest.fixture
def builds(monkeypatch):
    monkeypatch.setattr(_jit, "_serial_seconds", {})
    calls = []
    serial = FakeBuild("serial", calls, signatures=["compiled"], sleep=0.02)
    return calls, serial


def test_serial_runs_until_it_has_spent_the_compile_budget(builds, monkeypatch):
    calls, serial = builds
    parallel = FakeBuild("parallel", calls)
    monkeypatch.setattr(_jit, "PARALLEL_COMPILE_AFTER", 0.03)
    assert [_jit.call_parallel(parallel, serial, k) for k in range(3)] == [0, 1, 2]
    assert calls == ["serial", "serial", "parallel"]  # 2 x 0.02 s >= 0.03 s: then the parallel build


def test_zero_compiles_at_the_first_launch(builds, monkeypatch):
    calls, serial = builds
    monkeypatch.setattr(_jit, "PARALLEL_COMPILE_AFTER", 0.0)
    _jit.call_parallel(FakeBuild("parallel", calls), serial, 1)
    assert calls == ["parallel"]


def test_a_compiled_or_cached_build_runs_at_once(builds, monkeypatch, tmp_path):
    calls, serial = builds
    monkeypatch.setattr(_jit, "PARALLEL_COMPILE_AFTER", 1e9)
    index = tmp_path / "kernel.nbi"
    index.write_bytes(b"")
    _jit.call_parallel(FakeBuild("cached", calls, index_path=index), serial, 1)
    _jit.call_parallel(FakeBuild("compiled", calls, signatures=["sig"]), serial, 1)
    _jit.call_parallel(FakeBuild("neither", calls), serial, 1)
    assert calls == ["cached", "compiled", "serial"]


def test_the_serial_builds_own_compile_does_not_count(builds, monkeypatch):
    calls, _ = builds
    parallel = FakeBuild("parallel", calls)
    fresh = FakeBuild("serial", calls, sleep=0.02)  # no signatures yet: this call would compile it
    monkeypatch.setattr(_jit, "PARALLEL_COMPILE_AFTER", 0.01)
    _jit.call_parallel(parallel, fresh, 1)
    assert _jit._serial_seconds == {}


@pytest.mark.parametrize("bad", ["-1", "soon", "nan"])
def test_a_bad_setting_is_a_value_error_naming_it(bad):
    with pytest.raises(ValueError, match="TINYMTCNN_PARALLEL_COMPILE_AFTER"):
        _jit._compile_after(bad)
    assert _jit._compile_after("2.5") == 2.5
