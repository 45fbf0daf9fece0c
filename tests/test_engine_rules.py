"""House rules of the engine room (docs/engine_room.md), checked by a static scan of tinymtcnn/'s source.

1. Only ``tinymtcnn/kernels/`` imports Numba.
2. ``parallel=True`` is written only in ``tinymtcnn/kernels/_jit.py`` (in ``parallel_build``).
3. A parallel build (a name bound to ``parallel_build(...)``, or the ``.parallel`` of a
   ``SerialOrParallel``) is only ever run through ``call_parallel(build, serial, *args)``, the one
   parallel entry: it applies the calling context's thread count (``limit_threads``) and keeps two
   Python threads from launching on Numba's ``workqueue`` layer at once.
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


def parallel_true_outside_jit(sources):
    """``["path:line: ..."]`` for every ``parallel=True`` (keyword, or ``"parallel": True`` in a dict
    literal) outside ``tinymtcnn/kernels/_jit.py``."""
    found = []
    for path, tree in _parsed(sources).items():
        if path == JIT_FILE:
            continue
        for node in ast.walk(tree):
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


def parallel_builds(sources):
    """``(names, attributes)`` bound to a parallel build anywhere in ``sources``: ``x = parallel_build(...)``
    binds the name ``x``, ``self.parallel = parallel_build(...)`` (``SerialOrParallel``) the attribute
    ``parallel``, ``@parallel_build`` the function's name."""
    names, attributes = set(), set()
    for tree in _parsed(sources).values():
        for node in ast.walk(tree):
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and _is_build_call(node.value):
                for target in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                    if isinstance(target, ast.Name):
                        names.add(target.id)
                    elif isinstance(target, ast.Attribute):
                        attributes.add(target.attr)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if any(_name(d) == "parallel_build" or _is_build_call(d) for d in node.decorator_list):
                    names.add(node.name)
    return names, attributes


def _is_build_call(node):
    return isinstance(node, ast.Call) and _name(node.func) == "parallel_build"


def _is_entry_argument(node):
    """``node`` is the first argument of a ``call_parallel(...)`` call."""
    parent = getattr(node, "parent", None)
    return (isinstance(parent, ast.Call) and _name(parent.func) == "call_parallel" and parent.args
            and parent.args[0] is node)


def parallel_builds_run_directly(sources):
    """``["path:line: ..."]`` for every use of a parallel build other than as the first argument of
    ``call_parallel``, and every ``parallel_build(...)`` whose result is not bound to a name."""
    names, attributes = parallel_builds(sources)
    found = []
    for path, tree in _parsed(sources).items():
        for node in ast.walk(tree):
            if _is_build_call(node):
                parent = node.parent
                bound = (isinstance(parent, (ast.Assign, ast.AnnAssign)) and parent.value is node) or (
                    isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)) and node in parent.decorator_list)
                if not bound:
                    found.append(f"{path}:{node.lineno}: parallel_build(...) used without binding it to a name")
                continue
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in names:
                what = node.id
            elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load)
                  and (node.attr in names or node.attr in attributes)):
                what = ast.unparse(node)
            else:
                continue
            if not _is_entry_argument(node):
                found.append(f"{path}:{node.lineno}: {what} used other than as call_parallel's first argument")
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


def test_parallel_true_only_in_jit():
    found = parallel_true_outside_jit(package_sources())
    assert not found, ("parallel=True outside tinymtcnn/kernels/_jit.py: build a parallel loop with "
                       "_jit.SerialOrParallel / jit_serial_or_parallel, or _jit.parallel_build (a cache entry of its "
                       "own), and launch it with _jit.call_parallel (docs/engine_room.md, 'How to add a kernel'). "
                       "If the keyword is not a Numba option, pass a variable or rename it:\n  " + "\n  ".join(found))


def test_parallel_builds_run_only_through_call_parallel():
    sources = package_sources()
    names, attributes = parallel_builds(sources)
    # the scan must see the builds it guards: _jit's SerialOrParallel and the kernels' own
    assert "parallel" in attributes, "SerialOrParallel no longer binds self.parallel = parallel_build(...): update this test"
    assert names, "no `x = parallel_build(...)` found in tinymtcnn/: update this test if the helper was renamed"
    found = parallel_builds_run_directly(sources)
    assert not found, ("a parallel build is run (or passed on) other than through _jit.call_parallel(build, serial, "
                       "*args), which applies the caller's thread count (limit_threads) and serialises launches on "
                       "Numba's workqueue layer. Call a SerialOrParallel as kernel(work, *args), or "
                       "call_parallel(build, serial_build, *args):\n  " + "\n  ".join(found))


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
def parallel_build(fn, **options):
    return jit(parallel=True, **options)(fn)
class SerialOrParallel:
    def __init__(self, fn):
        self.serial = jit(fn)
        self.parallel = parallel_build(fn)
    def __call__(self, work, *args):
        return call_parallel(self.parallel, self.serial, *args)
'''

GOOD_KERNEL = '''
from ._jit import call_parallel, jit, parallel_build
_loop_serial = jit(_loop)
_loop_parallel = parallel_build(_loop)
_rows = SerialOrParallel(_rows_loop)
def run(x, parallel=False):
    if parallel:
        call_parallel(_loop_parallel, _loop_serial, x)
    else:
        _loop_serial(x)
    _rows(x.size, x)
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
    assert parallel_true_outside_jit(sources) == []
    assert parallel_builds(sources) == ({"_loop_parallel"}, {"parallel"})
    assert parallel_builds_run_directly(sources) == []


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


@pytest.mark.parametrize("source", [
    "f = jit(parallel=True)(g)\n",
    "f = numba.njit(parallel=True, cache=True)(g)\n",
    "OPTIONS = {'parallel': True}\nf = jit(**OPTIONS)(g)\n",
    "@jit(nogil=True, parallel=True)\ndef f(x):\n    pass\n",
])
def test_parallel_true_outside_jit_is_found(source):
    found = parallel_true_outside_jit(_package(good=GOOD_KERNEL, bad=source))
    assert len(found) == 1 and found[0].startswith(f"{KERNELS_DIR}bad.py:")


@pytest.mark.parametrize("source", [
    "_p = parallel_build(_loop)\ndef run(x):\n    _p(x)\n",  # a direct call
    "_p = parallel_build(_loop)\nrun = _p\n",  # an alias, called later
    "_p = parallel_build(_loop)\ndef run(x):\n    call_parallel(_s, _p, x)\n",  # as the serial fallback
    "def run(x):\n    _rows.parallel(x)\n",  # SerialOrParallel's parallel build, called directly
    "def run(x, k):\n    call_parallel(k.serial, k.parallel, x)\n",  # ... in the wrong place
    "def run(x):\n    parallel_build(_loop)(x)\n",  # built and called on the spot
    "@parallel_build\ndef _p(x):\n    pass\ndef run(x):\n    _p(x)\n",  # a decorated build
])
def test_parallel_build_run_directly_is_found(source):
    found = parallel_builds_run_directly(_package(good=GOOD_KERNEL, bad=source))
    assert found and all(f.startswith(f"{KERNELS_DIR}bad.py:") for f in found), found


def test_parallel_build_imported_and_called_elsewhere_is_found():
    sources = _package(good=GOOD_KERNEL)
    sources["tinymtcnn/nets/base.py"] = ("from ..kernels import good\nfrom ..kernels.good import _loop_parallel\n"
                                         "good._loop_parallel(x)\n_loop_parallel(x)\n")
    found = parallel_builds_run_directly(sources)
    assert sorted(f.split(":")[1] for f in found) == ["3", "4"], found


def test_the_current_direct_call_pattern_would_be_found():
    # a scratch copy of a real kernel file with one direct launch added must fail the rule
    path = f"{KERNELS_DIR}conv_direct.py"
    sources = package_sources()
    assert parallel_builds_run_directly(sources) == []
    sources[path] += "\n\ndef _bypass(x, *args):\n    _pnet_strips_parallel(x, *args)\n"
    found = parallel_builds_run_directly(sources)
    assert len(found) == 1 and found[0].startswith(path + ":"), found


def test_map_check_finds_missing_and_gone_files():
    files = ["kernels/__init__.py", "kernels/_jit.py", "kernels/nms.py"]
    text = "| `kernels/__init__.py` |\n| `kernels/_jit.py` | ... `kernels/old.py` |"
    assert kernel_files_missing_from_map(files, text) == (["kernels/nms.py"], ["kernels/old.py"])
    assert kernel_files_missing_from_map(files, text + " `kernels/nms.py`")[0] == []
