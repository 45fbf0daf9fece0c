"""Gradable assignments: write a student copy of tinymtcnn, grade one, check the markers.

Solution regions in the package source are comment-marked inside a function body::

    def square_boxes(boxes):
        \"\"\"... docstring (kept) ...\"\"\"
        boxes = _boxes(boxes)                       # kept: input checks stay in the student copy
        # >>> TASK 3.4: square boxes
        w = boxes[:, 2] - boxes[:, 0]
        ...
        # <<< TASK 3.4

``student OUT`` copies the package, tests, setup.py, pytest.ini and README.md to ``OUT`` and replaces
every region (markers included) by ``raise NotImplementedError("Task 3.4: square boxes")`` at the
region's indentation. One task may have several regions (e.g. a forward and a backward function).
Tests carry ``@pytest.mark.task_3_4``; a test that runs several tasks carries all their markers.

Commands (``python tools/make_assignment.py -h``)::

    list                      tasks, their functions and how many tests grade each
    student OUT [--tasks ..]  write the student copy (only the named tasks stubbed, default all)
    grade DIR [--tasks ..]    run the task tests in a student copy, print a per-task table
    check [--keep DIR]        student copy with every task stubbed: exactly the task tests must fail
    deps [--tasks ..]         stub one task at a time: the failing tests must be exactly its marked tests

Runs go through ``assignment_pytest.py`` (beside this file), a pytest plugin that records each test's
task markers, its outcome and whether it failed because of a stub. This is a teacher's tool: it is not
installed with the package.
"""
import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from assignment_pytest import analyse, problems, run_pytest  # noqa: E402
from assignment_source import (PACKAGE, REPO, Task, _check_selection, _ignore, _sort_key,  # noqa: E402,F401
                               copy_repository, find_tasks, find_tasks_in_file, make_student_copy, stub_source)


# --------------------------------------------------------------------------- commands
def _marker_expr(tasks, ids):
    return " or ".join(tasks[t].marker for t in ids)


def collect_markers(repo=REPO):
    """``{node id: [task ids]}`` of the tests in ``repo`` (a collect-only run)."""
    report, _ = run_pytest(repo, extra=["--collect-only"])
    return {n: r["tasks"] for n, r in report["tests"].items()}


def own_expression(task_id, markers):
    """pytest -m expression selecting the tests that need ``task_id`` and no other task."""
    others = sorted({o for ts in markers.values() if task_id in ts for o in ts if o != task_id}, key=_sort_key)
    own = "task_" + task_id.replace(".", "_")
    return own if not others else f"{own} and not ({' or '.join('task_' + o.replace('.', '_') for o in others)})"


def cmd_list(args):
    tasks = find_tasks()
    markers = collect_markers() if args.tests else {}
    for t in tasks.values():
        print(f"{t.id:5} {t.title}  [-m {t.marker}]")
        for f in t.functions:
            print(f"        {f}")
        if args.tests:
            tests = [n for n, ts in markers.items() if t.id in ts]
            own = [n for n in tests if markers[n] == [t.id]]
            print(f"      {len(tests)} tests ({len(own)} own); own only: -m \"{own_expression(t.id, markers)}\"")
            for n in tests:
                print(f"          {'own  ' if n in own else 'joint'} {n}")
    return 0


def cmd_student(args):
    stubbed = make_student_copy(args.out, selected=args.tasks, overwrite=args.force)
    print(f"student copy in {args.out}: {len(stubbed)} task(s) stubbed ({', '.join(stubbed)}); see ASSIGNMENT.md")
    return 0


def grade(student_dir, selected=None, repo=REPO, student_tests=False):
    """Run the task tests on the package in ``student_dir``: ``{"tasks": [one dict per task], "errors": [...]}``.

    By default the student's ``tinymtcnn/`` is graded with the teacher's tests and pytest.ini (in a
    temporary folder), so edited tests do not count; ``student_tests=True`` runs the student's own.
    ``own`` are the tests that carry only this task's marker (the verdict), ``joint`` those that need
    this task and others (reported, not counted: they fail whenever any of their tasks does).
    """
    tasks = find_tasks(repo)
    ids = list(tasks) if not selected else [str(t) for t in selected]
    unknown = [t for t in ids if t not in tasks]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; known: {list(tasks)}")
    student_dir = Path(student_dir)
    if not (student_dir / PACKAGE / "__init__.py").is_file():
        raise ValueError(f"{student_dir} has no {PACKAGE}/ package")
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        where = student_dir
        if not student_tests:
            where = Path(tmp) / "graded"
            shutil.copytree(student_dir / PACKAGE, where / PACKAGE, ignore=_ignore)
            shutil.copytree(Path(repo) / "tests", where / "tests", ignore=_ignore)
            shutil.copy2(Path(repo) / "pytest.ini", where / "pytest.ini")
        report, _ = run_pytest(where, _marker_expr(tasks, ids))
    rows = []
    for t in ids:
        recs = [r for r in report["tests"].values() if t in r["tasks"]]
        own = [r for r in recs if len(r["tasks"]) == 1 and r["outcome"] != "skipped"]
        joint = [r for r in recs if len(r["tasks"]) > 1 and r["outcome"] != "skipped"]
        basis = own or joint
        ok = bool(basis) and all(r["outcome"] == "passed" for r in basis) and not report["collect_errors"]
        rows.append({"task": t, "title": tasks[t].title, "marker": tasks[t].marker,
                     "own_passed": sum(r["outcome"] == "passed" for r in own), "own_total": len(own),
                     "joint_passed": sum(r["outcome"] == "passed" for r in joint), "joint_total": len(joint),
                     "not_implemented": any(r["nie"] or t in r["entered"] for r in recs if r["outcome"] == "failed"),
                     "verdict": "PASS" if ok else ("n/a" if not basis and not report["collect_errors"] else "FAIL")})
    errors = ([report["import_error"]] if report.get("import_error") else []) + report["collect_errors"]
    return {"tasks": rows, "errors": errors}


def cmd_grade(args):
    result = grade(args.student_dir, args.tasks, student_tests=args.student_tests)
    rows = result["tasks"]
    lasts = [e.strip().splitlines()[-1].lstrip("E ") for e in result["errors"] if e.strip()]
    for e in dict.fromkeys(lasts):
        print(f"ERROR ({lasts.count(e)}x, tests could not be collected or the package does not import): {e}")
    width = max(len(r["title"]) for r in rows)
    print(f"{'task':5} {'title':{width}} {'own':>7} {'joint':>7}  verdict")
    for r in rows:
        note = "  (not implemented)" if r["not_implemented"] and r["verdict"] == "FAIL" else ""
        print(f"{r['task']:5} {r['title']:{width}} {r['own_passed']:>3}/{r['own_total']:<3} "
              f"{r['joint_passed']:>3}/{r['joint_total']:<3}  {r['verdict']}{note}")
    print(f"tasks passed: {sum(r['verdict'] == 'PASS' for r in rows)}/{len(rows)}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


def cmd_check(args):
    tmp = None
    if args.keep:
        out = Path(args.keep)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="student-")
        out = Path(tmp.name) / "student"
    try:
        stubbed = make_student_copy(out, overwrite=bool(args.keep))
        report, _ = run_pytest(out, args.marker_expr)
        result = analyse(report, stubbed)
    finally:
        if tmp is not None:
            tmp.cleanup()
    print(f"tinymtcnn imported from {report['tinymtcnn_file']}")
    print(f"student copy: {result['counts']}; {len(result['task_tests'])} task tests, "
          f"{len(result['failed'])} failed")
    found = problems(result)
    for k, v in found.items():
        print(f"{k}:", *v, sep="\n  ")
    print("OK" if not found else "PROBLEMS")
    return 1 if found else 0


def _write_if_changed(path, text):
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def cmd_deps(args):
    """Stub one task at a time in one reused copy (unchanged files keep their Numba cache)."""
    with tempfile.TemporaryDirectory(prefix="student-deps-") as tmp:
        out = Path(tmp) / "student"
        copy_repository(out)
        tasks = find_tasks(out)  # the snapshot just copied (the tree may change while this runs)
        ids = _check_selection(tasks, args.tasks)
        files = sorted({r.path for t in tasks.values() for r in t.regions})
        texts = {rel: (out / rel).read_text(encoding="utf-8") for rel in files}
        bad = 0
        for t in ids:
            for rel in files:
                _write_if_changed(out / rel, stub_source(texts[rel], tasks, {t}))
            report, _ = run_pytest(out, args.marker_expr)
            result = analyse(report, [t])
            found = problems(result)
            bad += bool(found)
            print(f"task {t}: {len(result['task_tests'])} marked, {len(result['failed'])} failed, "
                  f"{'OK' if not found else 'MISMATCH'}", flush=True)
            for k, v in found.items():
                print(f"  {k}:", *v, sep="\n    ")
    return 1 if bad else 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="make_assignment.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("list", help="the tasks and their functions")
    s.add_argument("--tests", action="store_true", help="also list the tests of each task (collect-only run)")
    s.set_defaults(func=cmd_list)
    s = sub.add_parser("student", help="write the student copy")
    s.add_argument("out", help="output folder (must be empty or absent)")
    s.add_argument("--tasks", nargs="+", metavar="N.M", help="stub only these tasks (default: all)")
    s.add_argument("--force", action="store_true", help="replace a non-empty output folder")
    s.set_defaults(func=cmd_student)
    s = sub.add_parser("grade", help="grade a student copy task by task")
    s.add_argument("student_dir")
    s.add_argument("--tasks", nargs="+", metavar="N.M", help="grade only these tasks (default: all)")
    s.add_argument("--json", metavar="FILE", help="also write the table as JSON")
    s.add_argument("--student-tests", action="store_true",
                   help="run the tests in the student's folder (default: the teacher's tests on the student's package)")
    s.set_defaults(func=cmd_grade)
    for name, func, text in (("check", cmd_check, "student copy with every task stubbed fails exactly the task tests"),
                             ("deps", cmd_deps, "each task alone fails exactly the tests marked with it")):
        s = sub.add_parser(name, help=text)
        s.add_argument("--marker-expr", default="not shared", help="pytest -m expression (default: %(default)r)")
        if name == "check":
            s.add_argument("--keep", metavar="DIR", help="write the copy here and keep it")
        else:
            s.add_argument("--tasks", nargs="+", metavar="N.M")
        s.set_defaults(func=func)
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:
        print(f"make_assignment.py: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
