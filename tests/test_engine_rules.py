"""House rules of the engine room (docs/engine_room.md), checked by a static scan of tinymtcnn/'s source.

1. Only ``tinymtcnn/kernels/`` imports Numba.
2. One parallel mechanism: tinymtcnn's thread pool (``_jit.parallel_map`` / ``parallel_chunks``). Numba's
   own parallelism (``parallel=True``, ``prange``) is written nowhere in the package: it would start a
   second set of threads, need a second build of the kernel (Numba's disk cache does not tell the two
   apart) and ignore the calling context's thread count.
3. Every kernel is compiled by ``_jit.jit`` (disk cache, ``nogil`` so that the pool's threads run it):
   ``njit`` / ``numba.jit`` are called only in ``tinymtcnn/kernels/_jit.py``.
4. docs/engine_room.md names every file of ``tinymtcnn/kernels/``, and names no file that is gone.

Nothing is imported: the source is parsed with :mod:`ast`. Each scanner is also run on small
synthetic sources, so that a rule that could never fail would show.
"""
import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "tinymtcnn"
KERNELS_DIR = "tinymtcnn/kernels/"
JIT_FILE = "tinymtcnn/kernels/_jit.py"
ENGINE_ROOM = REPO / "docs" / "engine_room.md"


def package_sources():
    """``{"tinymtcnn/...py": source}`` for every Python file of the package."""
    return {p.relative_to(REPO).as_posix(): p.read_text(encoding="utf-8") for p in sorted(PACKAGE.rglob("*.py"))}


def _parsed(sources):
    trees = {}
    for path, text in sources.items():
        tree = ast.parse(text, filename=path)
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                child.parent = node
        trees[path] = tree
    return trees


def _name(node):
    """The last name of ``f`` or ``a.b.f`` (None for anything else)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _is_numba(module):
    return module == "numba" or module.startswith("numba.")


# --------------------------------------------------------------------------- scanners
def numba_imports_outside_kernels(sources):
    """``["path:line: ..."]`` for every import of Numba outside ``tinymtcnn/kernels/``."""
    found = []
    for path, tree in _parsed(sources).items():
        if path.startswith(KERNELS_DIR):
            continue
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif (isinstance(node, ast.Call) and _name(node.func) in ("import_module", "__import__") and node.args
                  and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                names = [node.args[0].value]
            if any(_is_numba(n) for n in names):
                found.append(f"{path}:{node.lineno}: imports numba")
    return found


def numba_parallelism(sources):
    """``["path:line: ..."]`` for every ``parallel=True`` (keyword, or ``"parallel": True`` in a dict
    literal) and every use of the name ``prange``, anywhere in ``sources``."""
    found = []
    for path, tree in _parsed(sources).items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.Name, ast.Attribute, ast.alias)):
                name = node.name if isinstance(node, ast.alias) else _name(node)
                if name == "prange":
                    found.append(f"{path}:{getattr(node, 'lineno', '?')}: prange")
                continue
            if isinstance(node, ast.keyword) and node.arg == "parallel":
                value = node.value
            elif isinstance(node, ast.Dict):
                value = next((v for k, v in zip(node.keys, node.values)
                              if isinstance(k, ast.Constant) and k.value == "parallel"), None)
            else:
                continue
            if isinstance(value, ast.Constant) and value.value is True:
                found.append(f"{path}:{value.lineno}: parallel=True")
    return found


def compiles_outside_jit(sources):
    """``["path:line: ..."]`` for every use of ``njit`` or ``numba.jit`` (a call, a decorator, an import)
    outside ``tinymtcnn/kernels/_jit.py``."""
    found = []
    for path, tree in _parsed(sources).items():
        if path == JIT_FILE:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.alias) and node.name in ("njit", "jit") and _is_numba(
                    getattr(node.parent, "module", "") or ""):
                found.append(f"{path}:{node.parent.lineno}: imports numba's {node.name}")
            elif isinstance(node, ast.Attribute) and node.attr in ("njit", "jit") and _name(node.value) == "numba":
                found.append(f"{path}:{node.lineno}: numba.{node.attr}")
            elif isinstance(node, ast.Name) and node.id == "njit":
                found.append(f"{path}:{node.lineno}: njit")
    return found


KERNEL_PATH = re.compile(r"kernels/[\w/]+\.py")


def kernel_files_missing_from_map(kernel_files, text):
    """``(files of kernels/ the map does not name, files the map names that do not exist)``;
    ``kernel_files`` are paths relative to ``tinymtcnn/`` (``"kernels/nms.py"``)."""
    named = set(KERNEL_PATH.findall(text))
    return sorted(set(kernel_files) - named), sorted(named - set(kernel_files))


# --------------------------------------------------------------------------- the rules on the package
def test_only_kernels_import_numba():
    found = numba_imports_outside_kernels(package_sources())
    assert not found, ("Numba is imported outside tinymtcnn/kernels/ (house rule: only kernels/ imports numba; "
                       "compile with tinymtcnn.kernels._jit.jit and call the kernel from there):\n  "
                       + "\n  ".join(found))


def test_no_numba_parallelism():
    found = numba_parallelism(package_sources())
    assert not found, ("Numba's own parallelism in tinymtcnn/: write the kernel as a serial loop over a range "
                       "(compiled by _jit.jit) and share the range out with _jit.parallel_chunks or parallel_map "
                       "(docs/engine_room.md, 'How to add a kernel'). If the keyword is not a Numba option, pass a "
                       "variable or rename it:\n  " + "\n  ".join(found))


def test_every_kernel_is_compiled_by_jit():
    found = compiles_outside_jit(package_sources())
    assert not found, ("a kernel compiled other than by tinymtcnn.kernels._jit.jit (which adds the disk cache "
                       "and nogil, so that the pool's threads run it side by side):\n  " + "\n  ".join(found))


def test_engine_room_names_every_kernel_file():
    files = [p.relative_to(PACKAGE).as_posix() for p in sorted((PACKAGE / "kernels").rglob("*.py"))]
    assert "kernels/_jit.py" in files
    missing, gone = kernel_files_missing_from_map(files, ENGINE_ROOM.read_text(encoding="utf-8"))
    assert not missing, (f"docs/engine_room.md does not name {missing}: add a row to its table 'Files of "
                         "kernels/' (what the file holds, who calls it) and, where it runs, to the detection or "
                         "training table")
    assert not gone, f"docs/engine_room.md names {gone}, which no longer exist in tinymtcnn/: update the map"


# --------------------------------------------------------------------------- the scanners can fail
JIT_SOURCE = '''
import numba
def jit(fn=None, **options):
    return numba.njit(cache=True, nogil=True, **options)(fn)
'''

GOOD_KERNEL = '''
from ._jit import jit, parallel_chunks
@jit(fastmath=True)
def _loop(x, lo, hi):
    for i in range(lo, hi):
        x[i] += 1
def run(x, parallel=False):
    parallel_chunks(lambda lo, hi: _loop(x, lo, hi), len(x), x.size)
    return pnet_trunk(x, parallel=parallel)
'''


def _package(**kernel_sources):
    """A synthetic package: _jit.py as above plus ``kernels/<name>.py`` sources."""
    sources = {JIT_FILE: JIT_SOURCE}
    sources.update({f"{KERNELS_DIR}{name}.py": text for name, text in kernel_sources.items()})
    return sources


def test_synthetic_good_package_passes_every_scan():
    sources = _package(good=GOOD_KERNEL)
    sources["tinymtcnn/nets/base.py"] = "from ..kernels.good import run\nrun(x, parallel=n > 1)\n"
    assert numba_imports_outside_kernels(sources) == []
    assert numba_parallelism(sources) == []
    assert compiles_outside_jit(sources) == []


@pytest.mark.parametrize("path, source", [
    ("tinymtcnn/layers/conv.py", "import numba\n"),
    ("tinymtcnn/nets/base.py", "import numba.core.event as ev\n"),
    ("tinymtcnn/detect/stages.py", "from numba import njit, prange\n"),
    ("tinymtcnn/threads.py", "import importlib\nnb = importlib.import_module('numba')\n"),
])
def test_numba_import_outside_kernels_is_found(path, source):
    sources = _package(good=GOOD_KERNEL)
    sources[path] = source
    assert [f.split(":")[0] for f in numba_imports_outside_kernels(sources)] == [path]


BAD_KERNELS = [(numba_parallelism, source) for source in (
    "f = jit(parallel=True)(g)\n",
    "f = numba.njit(parallel=True, cache=True)(g)\n",
    "OPTIONS = {'parallel': True}\nf = jit(**OPTIONS)(g)\n",
    "@jit(nogil=True, parallel=True)\ndef f(x):\n    pass\n",
    "from numba import prange\n",
    "def f(x):\n    for i in numba.prange(3):\n        pass\n",
)] + [(compiles_outside_jit, source) for source in (
    "import numba\nf = numba.njit(cache=True)(g)\n",
    "import numba\n@numba.jit\ndef f(x):\n    pass\n",
    "from numba import njit\n@njit\ndef f(x):\n    pass\n",
)]


@pytest.mark.parametrize("scan, source", BAD_KERNELS)
def test_a_bad_kernel_source_is_found(scan, source):
    found = scan(_package(good=GOOD_KERNEL, bad=source))
    assert found and all(f.startswith(f"{KERNELS_DIR}bad.py:") for f in found), found


def test_numba_parallelism_in_jit_itself_is_found():
    sources = _package(good=GOOD_KERNEL)
    sources[JIT_FILE] += "prange = numba.prange\n"
    assert {f.split(":")[0] for f in numba_parallelism(sources)} == {JIT_FILE}


def test_a_prange_added_to_a_real_kernel_file_would_be_found():
    path = f"{KERNELS_DIR}maxpool.py"
    sources = package_sources()
    assert numba_parallelism(sources) == []
    sources[path] += "\n\ndef _loop(x):\n    for c in prange(3):\n        pass\n"
    found = numba_parallelism(sources)
    assert len(found) == 1 and found[0].startswith(path + ":"), found


def test_map_check_finds_missing_and_gone_files():
    files = ["kernels/__init__.py", "kernels/_jit.py", "kernels/nms.py"]
    text = "| `kernels/__init__.py` |\n| `kernels/_jit.py` | ... `kernels/old.py` |"
    assert kernel_files_missing_from_map(files, text) == (["kernels/nms.py"], ["kernels/old.py"])
    assert kernel_files_missing_from_map(files, text + " `kernels/nms.py`")[0] == []
