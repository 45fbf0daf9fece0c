"""Run pytest in a student copy and say, per test, what failed and why (used by make_assignment.py).

This module is also the pytest plugin of those runs (``-p assignment_pytest`` with tools/ on
PYTHONPATH). With ``MAKE_ASSIGNMENT_REPORT=FILE`` it writes a JSON report::

    {"tinymtcnn_file": ".../tinymtcnn/__init__.py",      # which package the run imported
     "import_error": None or "SyntaxError: ...",         # when it does not import at all
     "collect_errors": [...],
     "tests": {nodeid: {"tasks": ["3.1"],                # its task_N_M markers
                        "pipeline": False,               # marked pipeline (runs several tasks' code)
                        "outcome": "passed" | "failed" | "skipped" | "notrun",
                        "nie": bool,                     # the failure shows "NotImplementedError: Task N.M"
                                                         # or the CLI's "task N.M (...) is not done yet"
                        "entered": ["3.1"],              # stubs the test called (see below)
                        "message": "..."}}}

``entered``: at start-up every package function whose body raises a task stub is wrapped (its code
object is swapped, so ``from x import f`` references see it too) to record the call. That is how a
stub is still seen when the package swallows its exception: the CLI reports a failing image on stderr
and goes on. With ``MAKE_ASSIGNMENT_EXPECT_ROOT=DIR`` the run stops at once unless ``tinymtcnn``
is imported from DIR (a guard against testing an installed copy instead of the student's).
"""
import ast
import json
import os
import re
import subprocess
import sys
import tempfile
import types
from pathlib import Path

PACKAGE = "tinymtcnn"
# a stub's exception, or the CLI's message for it (tinymtcnn.cli.task_not_done), e.g. from a worker process
STUB_MESSAGE = re.compile(r"NotImplementedError: Task (\d+\.\d+)|task (\d+\.\d+) \([^)]*\) is not done yet")
STUB_TEXT = re.compile(r"^Task (\d+\.\d+): ")
TASK_MARKER = re.compile(r"^task_(\d+)_(\d+)$")


def _sort_key(task_id):
    return tuple(int(p) for p in task_id.split("."))


# --------------------------------------------------------------------------- running pytest there
def student_env(student_dir, plugin_dir=None):
    """Environment that imports the student's package (not an installed one) and this plugin.

    ``plugin_dir``: a folder holding a copy of this file (:func:`plugin_folder`), so that the run
    has none of the teacher's tools/ on its path; default: tools/ itself.
    """
    student_dir = str(Path(student_dir).resolve())
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TINYMTCNN_SHARED")}
    env["PYTHONPATH"] = os.pathsep.join([student_dir, str(plugin_dir or Path(__file__).resolve().parent)])
    env["MAKE_ASSIGNMENT_EXPECT_ROOT"] = student_dir
    return env


def plugin_folder(where):
    """Copy this plugin alone into the folder ``where`` and return it (nothing else of tools/ is importable)."""
    where = Path(where)
    where.mkdir(parents=True, exist_ok=True)
    (where / "assignment_pytest.py").write_text(Path(__file__).read_text(encoding="utf-8"), encoding="utf-8")
    return where


def run_pytest(student_dir, marker_expr=None, extra=(), timeout=900, python=None):
    """Run pytest in ``student_dir`` with this plugin; returns ``(report dict, CompletedProcess)``. Plugins
    that write into the copy (the cache, pytest-benchmark's ``.benchmarks/``) are switched off.

    ``python``: the interpreter to run (e.g. the student's virtual environment; default: this one).
    Only this plugin is put on the path, never the rest of tools/.
    """
    student_dir = Path(student_dir).resolve()
    with tempfile.TemporaryDirectory(prefix="assignment-") as tmp:
        report = Path(tmp) / "report.json"
        env = student_env(student_dir, plugin_folder(Path(tmp) / "plugin"))
        env["MAKE_ASSIGNMENT_REPORT"] = str(report)
        cmd = [str(python or sys.executable), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:benchmark",
               "-p", "assignment_pytest", *extra]
        if marker_expr:
            cmd += ["-m", marker_expr]
        proc = subprocess.run(cmd, cwd=student_dir, env=env, capture_output=True, text=True, timeout=timeout)
        text = report.read_text() if report.exists() else ""
        if not text:
            raise RuntimeError(f"pytest wrote no report (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n"
                               f"{proc.stderr[-3000:]}")
        return json.loads(text), proc


def analyse(report, task_ids):
    """Compare a run of a copy with ``task_ids`` stubbed against the test markers.

    Returns lists of node ids: ``unmarked_failures`` (fail, but carry none of the task markers),
    ``not_stub_failures`` (fail, but neither show NotImplementedError nor called a stub),
    ``task_tests_not_failing`` (carry a marker of ``task_ids`` but pass or skip), ``collect_errors``;
    and ``failed``, ``task_tests``, ``counts`` (per outcome). Tests marked ``pipeline`` (they run
    the code of several tasks: the detector, the trainer) may fail, but only through a stub.
    """
    wanted = set(task_ids)
    tests = report["tests"]
    task_tests = {n for n, t in tests.items() if wanted & set(t["tasks"])}
    pipeline = {n for n, t in tests.items() if t.get("pipeline")}
    failed = {n for n, t in tests.items() if t["outcome"] == "failed"}
    return {
        "unmarked_failures": sorted(failed - task_tests - pipeline),
        "not_stub_failures": sorted(n for n in failed if not (tests[n]["nie"] or tests[n]["entered"])),
        "task_tests_not_failing": sorted(task_tests - failed),
        "collect_errors": report["collect_errors"],
        "failed": sorted(failed), "task_tests": sorted(task_tests), "pipeline_failed": sorted(failed & pipeline),
        "counts": {o: sum(t["outcome"] == o for t in tests.values()) for o in ("passed", "failed", "skipped")},
    }


def problems(result):
    """The non-empty problem lists of an :func:`analyse` result (empty dict: all good)."""
    return {k: result[k] for k in ("unmarked_failures", "not_stub_failures", "task_tests_not_failing",
                                   "collect_errors") if result[k]}


# --------------------------------------------------------------------------- the plugin
_RUN = {"tinymtcnn_file": None, "import_error": None, "collect_errors": [], "tests": {}}
_ENTERED = set()


def _stub_task(node):
    """Task id if ``node`` is ``raise NotImplementedError("Task N.M: ...")``, else None."""
    if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and \
            getattr(node.exc.func, "id", None) == "NotImplementedError" and node.exc.args and \
            isinstance(node.exc.args[0], ast.Constant) and isinstance(node.exc.args[0].value, str):
        m = STUB_TEXT.match(node.exc.args[0].value)
        return m.group(1) if m else None
    return None


def stub_functions(package_dir):
    """``[(module, function, task id)]``: top-level functions of the package that raise a task stub."""
    found = []
    for path in sorted(Path(package_dir).rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if 'NotImplementedError("Task ' not in text:
            continue
        parts = (PACKAGE,) + path.relative_to(package_dir).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef):
                ids = {t for t in map(_stub_task, ast.walk(node)) if t}
                found += [(module, node.name, t) for t in sorted(ids)]
    return found


def _install_probe(func, task_id):
    """Make ``func`` record ``task_id`` in _ENTERED when called; what it does is unchanged."""
    original = types.FunctionType(func.__code__, func.__globals__, func.__name__, func.__defaults__,
                                  func.__closure__)
    original.__kwdefaults__ = func.__kwdefaults__

    def entered(*args, **kwargs):
        _ENTERED.add(task_id)
        return original(*args, **kwargs)

    func.__globals__.setdefault("__assignment_probes__", {})[func.__name__] = entered
    namespace = {}
    exec(f"def {func.__name__}(*args, **kwargs):\n"
         f"    return __assignment_probes__[{func.__name__!r}](*args, **kwargs)\n", namespace)
    func.__code__ = namespace[func.__name__].__code__


def pytest_configure(config):
    import importlib

    try:
        pkg = importlib.import_module(PACKAGE)
    except Exception as exc:  # a student's package that does not import: the test modules report it
        _RUN["import_error"] = f"{type(exc).__name__}: {exc}"
        return
    where = Path(pkg.__file__).resolve()
    _RUN["tinymtcnn_file"] = str(where)
    expect = os.environ.get("MAKE_ASSIGNMENT_EXPECT_ROOT")
    if expect and not where.is_relative_to(Path(expect).resolve()):
        import pytest

        raise pytest.UsageError(f"{PACKAGE} was imported from {where}, not from {expect}")
    if os.environ.get("MAKE_ASSIGNMENT_REPORT"):
        for module, name, task_id in stub_functions(where.parent):
            _install_probe(getattr(importlib.import_module(module), name), task_id)


def _record(nodeid):
    return _RUN["tests"].setdefault(nodeid, {"tasks": [], "pipeline": False, "outcome": "notrun", "nie": False,
                                             "entered": [], "message": ""})


def pytest_collection_finish(session):
    for item in session.items:
        marks = (TASK_MARKER.match(m.name) for m in item.iter_markers())
        rec = _record(item.nodeid)
        rec["tasks"] = sorted({".".join(m.groups()) for m in marks if m}, key=_sort_key)
        rec["pipeline"] = item.get_closest_marker("pipeline") is not None


def pytest_collectreport(report):
    if report.failed:
        _RUN["collect_errors"].append(f"{report.nodeid}: {str(report.longrepr)[-500:]}")


def pytest_runtest_logstart(nodeid, location):
    _ENTERED.clear()


def pytest_runtest_logreport(report):
    rec = _record(report.nodeid)
    rec["entered"] = sorted(set(rec["entered"]) | _ENTERED, key=_sort_key)
    if report.failed:
        rec["outcome"] = "failed"
        shown = report.longreprtext + "".join(text for _, text in report.sections)  # (captured stderr too)
        rec["nie"] = rec["nie"] or bool(STUB_MESSAGE.search(shown))
        crash = getattr(report.longrepr, "reprcrash", None)
        rec["message"] = rec["message"] or (crash.message if crash else report.longreprtext[-300:])
    elif report.skipped and rec["outcome"] != "failed":
        rec["outcome"] = "skipped"
    elif report.when == "call" and rec["outcome"] == "notrun":
        rec["outcome"] = "passed"


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("MAKE_ASSIGNMENT_REPORT")
    if path:
        Path(path).write_text(json.dumps(_RUN, indent=1))
