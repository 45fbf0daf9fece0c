"""The determinism promise (docs/performance.md): on a given CPU and BLAS kernel, detections are
the same bits at every thread count and every ``--workers`` count.

Each OpenBLAS core type the CPU can run is tried in a process of its own (``OPENBLAS_CORETYPE``),
with 4 Numba threads (on any number of cores), on a photo with many candidates. The Haswell/Zen
kernels are the ones where a product cut by thread count changed the last bits (5e-5 on a
128x1152 @ 1152x600 product, 7e-6 px on detections); the test fails there if a layer ever cuts its
products by thread count (the convolution's bands of output rows depend on the shapes only).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).resolve().parent / "probes" / "determinism_probe.py"
# core type -> CPU flags it needs (/proc/cpuinfo); OpenBLAS falls back to an older kernel when unsupported
CORE_TYPES = {
    "SkylakeX": {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"},
    "Haswell": {"avx2", "fma"},
    "Zen": {"avx2", "fma"},
    "Sandybridge": {"avx"},
    "Nehalem": {"sse4_2"},
}


def _cpu_flags():
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def _run_probe(env_extra):
    env = dict(os.environ, NUMBA_NUM_THREADS="4", **env_extra)
    done = subprocess.run([sys.executable, str(PROBE)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _core_type_params():
    preset = os.environ.get("OPENBLAS_CORETYPE")
    if preset:  # the machine sets its own core type (older OpenBLAS builds misbehave on it): keep it
        return [pytest.param(preset, id=f"preset-{preset}")]
    return [pytest.param(name, id=name) for name in CORE_TYPES]


@pytest.mark.slow
@pytest.mark.pipeline
@pytest.mark.parametrize("core_type", _core_type_params())
def test_detections_are_the_same_bits_at_every_thread_count(core_type):
    missing = CORE_TYPES.get(core_type, set()) - _cpu_flags()
    if missing and not os.environ.get("OPENBLAS_CORETYPE"):
        pytest.skip(f"this CPU lacks {sorted(missing)} for OpenBLAS's {core_type} kernels")
    result = _run_probe({"OPENBLAS_CORETYPE": core_type})
    assert result["faces"] > 4, result  # a photo with many candidates, or the test proves little
    assert set(result["detect"]) == {"1", "2", "3", "4"}, result
    assert all(d == 0.0 for d in result["conv"].values()), result
    assert all(d == 0.0 for d in result["detect"].values()), result


def test_conv_bands_depend_on_the_shapes_only():
    from tinymtcnn.layers import conv
    from tinymtcnn.threads import limit_threads

    for oh, row_bytes in [(22, 27 * 22 * 128 * 4), (9, 252 * 9 * 128 * 4), (3, 10), (46, 1 << 22)]:
        bands = conv.row_bands(oh, row_bytes)
        assert bands[0][0] == 0 and bands[-1][1] == oh and all(lo < hi for lo, hi in bands)
        assert all(hi == lo2 for (_, hi), (lo2, _) in zip(bands, bands[1:]))
        for n in (1, 2, 3):
            with limit_threads(n, blas=1):
                assert conv.row_bands(oh, row_bytes) == bands
    assert len(conv.row_bands(22, 27 * 22 * 128 * 4)) > 1  # R-Net's conv1 on 128 crops is cut
