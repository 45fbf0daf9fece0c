"""Grade student copies task by task, without ever importing student code in this process.

For each task the grader (this process) draws the inputs from a seed chosen at grading time, computes
the expected outputs with the teacher's package, and starts a child process (``grading/child.py``:
``python -I -S -B``, the submission's ``tinymtcnn/`` as the only ``tinymtcnn``, its working folder a
fresh temporary folder, a time limit) that imports the student's task module, runs the calls and
returns raw outputs as ``.npz`` files. The verdict is this process's comparison of those numbers with
its own: nothing the student's code prints, writes, exits with or patches in the child can pass a
case. A task scores 0 when its code refers to (static check of the task's functions here) or calls
(traps in the child) the package's own fast implementation of the same computation. Details, and
what the grader cannot detect: docs/teachers_guide.md, section "Grading".

Used by ``make_assignment.py grade``; :func:`grade_class` is the entry point.
"""
import compileall
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from assignment_source import PACKAGE, REPO, find_tasks  # noqa: E402
from grading.results import score_task  # noqa: E402
from grading.static import read_rules, static_findings  # noqa: E402

CHILD = Path(__file__).resolve().parent / "grading" / "child.py"
DEFAULT_POINTS = Path(__file__).resolve().parent / "grading_points.toml"
DEFAULT_TIMEOUT = 60.0
MEMORY_BYTES = 4 << 30  # address-space limit of a child

# --------------------------------------------------------------------------- configuration
def load_points(path, task_ids):
    """``{task: points}`` from a TOML file (``default = 10`` and a ``[points]`` table by task id)."""
    path = Path(path) if path else DEFAULT_POINTS
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() or path != DEFAULT_POINTS else {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"points file {path}: {exc}") from None
    default, table = config.get("default", 10), config.get("points", {})
    unknown = sorted(set(table) - set(task_ids))
    if unknown and path != DEFAULT_POINTS:
        raise ValueError(f"points file {path}: unknown task(s) {unknown}; known: {list(task_ids)}")
    points = {t: table.get(t, default) for t in task_ids}
    bad = {t: p for t, p in points.items() if not isinstance(p, (int, float)) or p < 0}
    if bad:
        raise ValueError(f"points file {path}: points must be numbers >= 0, got {bad}")
    return {t: float(p) for t, p in points.items()}


# --------------------------------------------------------------------------- the tasks of one grading run
class Prepared:
    """One task's cases (drawn once per run: every student gets the same inputs) and what is scanned."""

    def __init__(self, task, checker, seed, index):
        self.task, self.checker = task, checker
        self.cases = checker.make(np.random.default_rng([seed, index]))
        self.functions = [(r.path, r.function) for r in task.regions]
        self.twin_names = {n for _, n in checker.twins}


def _teachers_package(repo):
    """Import ``tinymtcnn`` from ``repo`` (the references are the teacher's); warn if another one
    was imported already."""
    if "tinymtcnn" not in sys.modules and str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    import tinymtcnn

    where = Path(tinymtcnn.__file__).resolve()
    if Path(repo).resolve() not in where.parents:
        warnings.warn(f"the references come from {where.parent}, not from {repo}", RuntimeWarning, stacklevel=3)


def prepare(selected=None, seed=None, repo=REPO):
    """``(seed, [Prepared])`` for the tasks ``selected`` (default all) of the teacher's package."""
    from grading import checkers

    _teachers_package(repo)
    tasks = find_tasks(repo)
    ids = list(tasks) if not selected else [str(t) for t in selected]
    unknown = [t for t in ids if t not in tasks]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; known: {list(tasks)}")
    table = checkers(Path(repo) / PACKAGE)
    missing = [t for t in ids if t not in table]
    if missing:
        raise ValueError(f"no grading checker for task(s) {missing} (tools/grading/tasks.py)")
    seed = secrets.randbelow(2 ** 31) if seed is None else int(seed)
    return seed, [Prepared(tasks[t], table[t], seed, i) for i, t in enumerate(ids)]


# --------------------------------------------------------------------------- the child process
def run_child(prepared, submission_root, folder, timeout):
    """Run one task's calls in a child; returns ``{"events", "timed_out", "returncode", "output", "seconds"}``."""
    folder.mkdir(parents=True)
    np.savez(folder / "inputs.npz", **prepared.cases.arrays)
    read_fd, write_fd = os.pipe()
    request = {"submission": str(submission_root), "site_dirs": [str(Path(np.__file__).resolve().parents[1])],
               "read_rules": read_rules(), "inputs": str(folder / "inputs.npz"), "event_fd": write_fd,
               "module": prepared.checker.module, "twins": [list(t) for t in prepared.checker.twins],
               "cases": [{"calls": c.calls} for c in prepared.cases.cases], "memory_bytes": MEMORY_BYTES}
    (folder / "request.json").write_text(json.dumps(request), encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(folder), "LANG": "C.UTF-8",
           "TINYMTCNN_DISABLE_JIT": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    events, chunks = [], []

    def read_events():
        total = 0
        with os.fdopen(read_fd, "rb") as pipe:
            for line in pipe:
                total += len(line)
                if total < 1 << 20:
                    chunks.append(line)

    reader = threading.Thread(target=read_events, daemon=True)
    start = time.perf_counter()
    with open(folder / "output.txt", "wb") as out:
        try:
            proc = subprocess.Popen([sys.executable, "-I", "-S", "-B", str(CHILD), str(folder / "request.json")],
                                    cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    pass_fds=(write_fd,), start_new_session=True)
        finally:
            os.close(write_fd)
        reader.start()
        timed_out = False
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:  # it ended just now
                pass
            proc.wait()
    reader.join(5)
    for line in chunks:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            events.append(record)
    with open(folder / "output.txt", "rb") as f:
        f.seek(max(0, os.fstat(f.fileno()).st_size - 2000))
        output = f.read().decode("utf-8", "replace")
    return {"events": events, "timed_out": timed_out, "returncode": proc.returncode, "output": output,
            "seconds": time.perf_counter() - start}


# --------------------------------------------------------------------------- a class
def find_submissions(paths):
    """``[(student id, folder)]``: each path is a submission (has ``tinymtcnn/``) or a folder of them."""
    found = []
    for p in map(Path, paths):
        if not p.is_dir():
            raise ValueError(f"{p} is not a folder")
        if (p / PACKAGE).is_dir():
            found.append((p.resolve().name, p))
        else:
            subs = sorted(d for d in p.iterdir() if d.is_dir() and not d.name.startswith("."))
            if not subs:
                raise ValueError(f"{p} has no {PACKAGE}/ package and no student folders")
            found += [(d.name, d) for d in subs]
    ids = [s for s, _ in found]
    twice = sorted({s for s in ids if ids.count(s) > 1})
    if twice:
        raise ValueError(f"two submissions have the same folder name (student id): {twice}")
    return found


def _copy_submission(src, dst):
    """The submission's Python modules (no links, data or compiled files), then byte-compiled
    (compiling runs no code): the child reads this copy, never the student's folder."""
    def ignore(folder, names):
        return [n for n in names if os.path.islink(os.path.join(folder, n)) or n == "__pycache__"
                or (not n.endswith(".py") and not os.path.isdir(os.path.join(folder, n)))]

    shutil.copytree(src / PACKAGE, dst / PACKAGE, ignore=ignore)
    compileall.compile_dir(dst / PACKAGE, quiet=2, workers=1)


def _total(student):
    student["score"] = round(sum(t["score"] for t in student["tasks"]), 2)
    student["tasks"].sort(key=lambda t: [int(x) for x in t["task"].split(".")])


def grade_class(paths, selected=None, points_file=None, timeout=DEFAULT_TIMEOUT, jobs=None, seed=None,
                progress=None):
    """Grade every submission under ``paths``: ``{"seed", "tasks", "students": [...]}``. A student's
    entry has ``student``, ``score``, ``max_score``, ``tasks`` (:func:`score_task` dicts) and ``error``
    (the grader's own failure on it, else empty). One student's crash or loop never stops the others."""
    submissions = find_submissions(paths)
    seed, prepared = prepare(selected, seed)
    points = load_points(points_file, [p.task.id for p in prepared])
    jobs = max(1, int(jobs or os.cpu_count() or 1))
    students = {sid: {"student": sid, "folder": str(folder), "score": 0.0, "tasks": [], "error": "",
                      "max_score": sum(points.values())} for sid, folder in submissions}
    with tempfile.TemporaryDirectory(prefix="grading-") as tmp:
        roots = {}
        for sid, folder in submissions:
            if not (folder / PACKAGE / "__init__.py").is_file():
                students[sid]["error"] = f"{folder} has no {PACKAGE}/__init__.py"
                continue
            roots[sid] = Path(tmp) / sid / "submission"
            try:
                _copy_submission(folder, roots[sid])
            except OSError as exc:
                students[sid]["error"] = f"could not copy {folder / PACKAGE}: {exc}"
                roots.pop(sid)

        # The pool's threads only wait for child processes. Everything that parses (``ast``: the static
        # scan, and numpy's reading of .npz headers with ast.literal_eval) runs in this one thread:
        # CPython 3.11's AST constructor keeps one recursion counter per interpreter, and two threads
        # parsing at once can fail with "SystemError: AST constructor recursion depth mismatch"
        # (python/cpython#106905), which once cost an honest student a task.
        read_rules()
        static = {(sid, k): static_findings(roots[sid] / PACKAGE, p)
                  for sid in roots for k, p in enumerate(prepared)}

        def folder_of(sid, k):
            return Path(tmp) / sid / f"task_{prepared[k].task.id}"

        jobs_list = [(sid, k) for sid in roots for k in range(len(prepared))]
        with ThreadPoolExecutor(jobs) as pool:
            futures = {(sid, k): pool.submit(run_child, prepared[k], roots[sid], folder_of(sid, k), timeout)
                       for sid, k in jobs_list}
            for (sid, k), future in futures.items():
                p = prepared[k]
                try:
                    students[sid]["tasks"].append(score_task(p, points[p.task.id], future.result(),
                                                             static[sid, k], folder_of(sid, k), seed, timeout))
                except Exception as exc:  # noqa: BLE001 - one student's failure to grade never stops the class
                    students[sid]["error"] = students[sid]["error"] or f"{type(exc).__name__}: {exc}"
                if progress and k == len(prepared) - 1:
                    _total(students[sid])
                    progress(students[sid])
    for s in students.values():
        _total(s)
    return {"seed": seed, "tasks": [{"task": p.task.id, "title": p.task.title, "points": points[p.task.id],
                                     "cases": len(p.cases.cases)} for p in prepared],
            "students": list(students.values())}
