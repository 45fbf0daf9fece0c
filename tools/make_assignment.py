"""Gradable assignments: write a student copy of tinymtcnn, grade one, check the markers.

Solution regions in the package source are comment-marked inside a function body::

    def square_boxes(boxes):
        \"\"\"... docstring (kept) ...\"\"\"
        boxes = _boxes(boxes)                       # kept: input checks stay in the student copy
        # >>> TASK 3.4: square boxes
        w = boxes[:, 2] - boxes[:, 0]
        ...
        # <<< TASK 3.4

``student OUT`` copies what stands alone (the package, the tests that do not need tools/, the
student's version of the notebooks, setup.py, pytest.ini) to ``OUT`` and replaces every region
(markers included) by ``raise NotImplementedError("Task 3.4: square boxes")`` at the region's
indentation, and every ``STUDENT-FAST`` region of a stubbed task by a call of the student's function
(assignment_source.py). One task may have several regions (e.g. a forward and a backward function).
The copy gets its own README.md and handouts/ (assignment_handouts.py). Tests of one task carry
``@pytest.mark.task_3_4`` and need no other task; tests that run several tasks' code (the detector,
the trainer) carry ``@pytest.mark.pipeline`` instead.

Commands (``python tools/make_assignment.py -h``)::

    list [--tests|--markdown] tasks, their functions and how many tests grade each
    student OUT [--tasks ..]  write the student copy (only the named tasks stubbed, default all)
    solve COPY --tasks ..     put the honest solutions of tools/assignment_solutions/ into a copy
    grade SUBMISSION.. [--csv F] [--gradescope D] [--points F] [--timeout S] [--jobs N]
                              points per task for one student or a class (assignment_grade.py)
    check [--keep DIR] [--python PY] [--solved N.M ..]
                              student copy with every task stubbed (or all but --solved, whose
                              solutions are replayed): exactly the stubbed tasks' tests fail
    deps [--tasks ..] [--alone]
                              stub one task at a time: the failing tests must be exactly its marked tests
                              (--alone: stub all but one: its tests must pass)

Runs go through ``assignment_pytest.py`` (beside this file), a pytest plugin that records each test's
task markers, its outcome and whether it failed because of a stub. This is a teacher's tool: it is not
installed with the package.
"""
import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from assignment_pytest import analyse, problems, run_pytest  # noqa: E402
from grading.command import add_grade_parser, run_grade  # noqa: E402
from assignment_source import (PACKAGE, REPO, Task, _check_selection, _ignore, _sort_key,  # noqa: E402,F401
                               copy_repository, find_tasks, find_tasks_in_file, make_student_copy, stub_source,
                               task_files)


# --------------------------------------------------------------------------- commands
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
    if args.markdown:
        from assignment_handouts import collect, markdown_table

        print(markdown_table(tasks, collect(REPO)))
        return 0
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
    print(f"student copy in {args.out}: {len(stubbed)} task(s) stubbed ({', '.join(stubbed)}); "
          f"see its README.md and handouts/")
    return 0


def cmd_solve(args):
    from assignment_solve import apply_solutions

    changed = apply_solutions(args.copy, args.tasks, args.solutions)
    print(f"solutions of {', '.join(args.tasks)} written into {args.copy}: {', '.join(sorted(set(changed)))}")
    return 0


def cmd_grade(args):
    """Grade submissions in child processes, never importing student code (assignment_grade.py)."""
    return run_grade(args)


def cmd_check(args):
    """Student copy with every task stubbed but ``--solved`` (their solutions replayed): the failing
    tests must be exactly the stubbed tasks' tests (and ``pipeline`` tests, through a stub only), and
    the solved tasks' tests must all pass. ``--python``: run in that interpreter (the student's venv)."""
    from assignment_solve import apply_solutions

    tmp = None
    if args.keep:
        out = Path(args.keep)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="student-")
        out = Path(tmp.name) / "student"
    solved = [str(t) for t in args.solved or []]
    try:
        if not args.reuse:
            make_student_copy(out, overwrite=bool(args.keep), handouts=False)
            if solved:
                apply_solutions(out, solved)
        stubbed = [t for t in find_tasks() if t not in solved]
        report, proc = run_pytest(out, args.marker_expr, python=args.python)
        result = analyse(report, stubbed)
        solved_tests = sorted(n for n, r in report["tests"].items() if set(r["tasks"]) & set(solved))
        result["solved_tests_not_passing"] = [n for n in solved_tests if report["tests"][n]["outcome"] != "passed"]
    finally:
        if tmp is not None:
            tmp.cleanup()
    print(f"tinymtcnn imported from {report['tinymtcnn_file']}")
    print(f"student copy: {result['counts']}; {len(result['task_tests'])} tests of the stubbed tasks, "
          f"{len(result['failed'])} failed ({len(result['pipeline_failed'])} of them pipeline tests)"
          + (f"; {len(solved_tests)} tests of the solved tasks {', '.join(solved)}, "
             f"{len(solved_tests) - len(result['solved_tests_not_passing'])} passed" if solved else ""))
    found = problems(result)
    if result["solved_tests_not_passing"]:
        found["solved_tests_not_passing"] = result["solved_tests_not_passing"]
    for k, v in found.items():
        print(f"{k}:", *v, sep="\n  ")
    if found:
        print(proc.stdout[-3000:])
    print("OK" if not found else "PROBLEMS")
    return 1 if found else 0


def _write_if_changed(path, text):
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def cmd_deps(args):
    """Stub one task at a time in one reused copy (unchanged files keep their Numba cache); with
    ``--alone`` the converse: every task but one stubbed, and that task's tests must all pass."""
    with tempfile.TemporaryDirectory(prefix="student-deps-") as tmp:
        out = Path(tmp) / "student"
        copy_repository(out)
        tasks = find_tasks(out)  # the snapshot just copied (the tree may change while this runs)
        ids = _check_selection(tasks, args.tasks)
        files = task_files(tasks)
        texts = {rel: (out / rel).read_text(encoding="utf-8") for rel in files}
        bad = 0
        for t in ids:
            stubbed = set(tasks) - {t} if args.alone else {t}
            for rel in files:
                _write_if_changed(out / rel, stub_source(texts[rel], tasks, stubbed))
            if args.alone:  # only this task's tests, every other task stubbed: they must all pass
                report, _ = run_pytest(out, f"({args.marker_expr}) and {tasks[t].marker}")
                result = {"task_tests": list(report["tests"]),
                          "failed": [n for n, r in report["tests"].items() if r["outcome"] != "passed"]}
                found = {"not_passing_alone": result["failed"]} if result["failed"] else {}
                print(f"task {t} alone: {len(result['task_tests'])} tests, {len(result['failed'])} not passing, "
                      f"{'OK' if not found else 'MISMATCH'}", flush=True)
                for k, v in found.items():
                    print(f"  {k}:", *v, sep="\n    ")
                bad += bool(found)
                continue
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
    s.add_argument("--markdown", action="store_true",
                   help="the table of docs/teachers_guide.md, test counts from collection")
    s.set_defaults(func=cmd_list)
    s = sub.add_parser("student", help="write the student copy")
    s.add_argument("out", help="output folder (must be empty or absent)")
    s.add_argument("--tasks", nargs="+", metavar="N.M", help="stub only these tasks (default: all)")
    s.add_argument("--force", action="store_true", help="replace a non-empty output folder")
    s.set_defaults(func=cmd_student)
    s = sub.add_parser("solve", help="replay honest solutions into a student copy (CI)")
    s.add_argument("copy", help="a student copy with these tasks stubbed")
    s.add_argument("--tasks", nargs="+", metavar="N.M", required=True)
    s.add_argument("--solutions", default=None, metavar="DIR",
                   help="folder of task_N_M.py files (default: tools/assignment_solutions/)")
    s.set_defaults(func=cmd_solve)
    add_grade_parser(sub, cmd_grade)
    for name, func, text in (("check", cmd_check, "student copy with every task stubbed fails exactly the task tests"),
                             ("deps", cmd_deps, "each task alone fails exactly the tests marked with it")):
        s = sub.add_parser(name, help=text)
        s.add_argument("--marker-expr", default="not shared", help="pytest -m expression (default: %(default)r)")
        if name == "check":
            s.add_argument("--keep", metavar="DIR", help="write the copy here and keep it (replaced if it exists)")
            s.add_argument("--reuse", action="store_true", help="test the copy in --keep DIR as it is")
            s.add_argument("--python", metavar="PY", help="interpreter to run the copy's tests (e.g. a student venv)")
            s.add_argument("--solved", nargs="+", metavar="N.M",
                           help="replay these tasks' solutions (tools/assignment_solutions/): their tests must pass")
        else:
            s.add_argument("--tasks", nargs="+", metavar="N.M")
            s.add_argument("--alone", action="store_true",
                           help="every task but one stubbed: that task's tests must all pass")
        s.set_defaults(func=func)
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except ValueError as exc:
        print(f"make_assignment.py: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
