"""A read-only install (a shared lab install, a container): with the package folder and $HOME
read-only, ``import tinymtcnn``, a detection and a training step still run (Numba's cache goes to
the temp dir, or, where that is read-only too, stays in memory with a one-line warning).

The folders are made read-only by bind mounts in a private mount namespace (``unshare``), which
also holds for root, who ignores file modes; the test is skipped where ``unshare`` is not allowed.
"""
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tinymtcnn

PROBE = Path(__file__).resolve().parent / "probes" / "readonly_probe.py"


def _unshare_works():
    if shutil.which("unshare") is None:
        return False
    done = subprocess.run(["unshare", "-r", "-m", "sh", "-c", "mount --bind /tmp /tmp && mount -o remount,ro,bind /tmp /tmp"],
                          capture_output=True)
    return done.returncode == 0


def _run_read_only(read_only, env_extra):
    mounts = " && ".join(f"mount --bind {shlex.quote(str(p))} {shlex.quote(str(p))} && "
                         f"mount -o remount,ro,bind {shlex.quote(str(p))} {shlex.quote(str(p))}" for p in read_only)
    command = f"{mounts} && exec {shlex.quote(sys.executable)} {shlex.quote(str(PROBE))}"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(env_extra)
    done = subprocess.run(["unshare", "-r", "-m", "sh", "-c", command], env=env, capture_output=True, text=True,
                          timeout=900, cwd=env["HOME"])
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("temp_writable", [True, False], ids=["temp-dir-cache", "no-disk-cache"])
@pytest.mark.pipeline
def test_runs_with_package_and_home_read_only(tmp_path, temp_writable):
    if not _unshare_works():
        pytest.skip("needs 'unshare -r -m' (user and mount namespaces) to make folders read-only")
    package = Path(tinymtcnn.__path__[0])
    home, temp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    temp.mkdir()
    # no temp dir at all: Python's tempfile would fall back to /tmp, /var/tmp and the working directory
    read_only = [package, home] + ([] if temp_writable else [temp] + [p for p in ("/tmp", "/var/tmp", "/usr/tmp")
                                                                      if os.path.isdir(p)])
    result, stderr = _run_read_only(read_only, {"HOME": str(home), "TMPDIR": str(temp)})
    assert Path(result["package"]) == package
    assert result["faces"] == 1
    if temp_writable:
        assert result["cache"] is True
        assert result["cache_dir"] == str(temp / f"tinymtcnn-numba-{os.getuid()}")
        assert any((temp / f"tinymtcnn-numba-{os.getuid()}").rglob("*.nbi"))  # the cache was written there
        assert result["warnings"] == []
    else:
        assert result["cache"] is False
        assert len(result["warnings"]) == 1 and "NUMBA_CACHE_DIR" in result["warnings"][0]


def test_choose_cache_dir(tmp_path, monkeypatch):
    from tinymtcnn.kernels import _jit

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    package, home = tmp_path / "pkg", tmp_path / "home"
    package.mkdir()
    assert _jit.choose_cache_dir(str(package), str(home)) == (None, True)  # Numba's own places work
    monkeypatch.setattr(_jit, "_writable", lambda folder: str(folder).startswith(str(tmp_path / "tmp")))
    monkeypatch.setattr(_jit.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    folder, cache = _jit.choose_cache_dir(str(package), str(home))
    assert cache and folder.startswith(str(tmp_path / "tmp")) and "tinymtcnn-numba" in folder
    monkeypatch.setattr(_jit, "_writable", lambda folder: False)
    assert _jit.choose_cache_dir(str(package), str(home)) == (None, False)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert _jit.choose_cache_dir(str(package), str(home)) == (None, True)  # the user's choice stands


def test_an_installed_copy_caches_in_the_users_cache_not_in_site_packages(tmp_path, monkeypatch):
    from tinymtcnn.kernels import _jit

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    home = tmp_path / "home"
    installed = tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "tinymtcnn" / "kernels"
    assert _jit.choose_cache_dir(str(installed), str(home)) == (str(home / ".cache" / "tinymtcnn" / "numba"), True)
    checkout = tmp_path / "src" / "tinymtcnn" / "kernels"
    assert _jit.choose_cache_dir(str(checkout), str(home)) == (None, True)  # a checkout: Numba's own places


def test_pip_uninstall_would_leave_nothing_after_the_kernels_compiled(tmp_path):
    """A copy of the package in a ``site-packages`` folder compiles a kernel: every new file lands in the
    user's cache, none in the package (pip uninstall removes only what pip installed; a leftover folder
    would hide a later editable install as an empty namespace package)."""
    pytest.importorskip("numba")
    site = tmp_path / "site-packages"
    shutil.copytree(Path(tinymtcnn.__file__).parent, site / "tinymtcnn",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    before = sorted(p.relative_to(site) for p in site.rglob("*"))
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "TINYMTCNN_DISABLE_JIT")}
    env.update(PYTHONPATH=str(site), HOME=str(tmp_path / "home"), PYTHONDONTWRITEBYTECODE="1")
    script = ("import numpy as np, tinymtcnn; from tinymtcnn.kernels.resample import resample; "
              "assert tinymtcnn.__file__.startswith(%r); resample(np.zeros((4, 4, 3), np.uint8), 2, 2)" % str(site))
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(p.relative_to(site) for p in site.rglob("*")) == before
    assert any((tmp_path / "home" / ".cache" / "tinymtcnn" / "numba").rglob("*.nbi"))
