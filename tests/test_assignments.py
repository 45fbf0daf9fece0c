"""The gradable assignments (docs/teachers_guide.md, tools/make_assignment.py).

The solution side is the rest of the suite: every task test passes on the package as it is.
The student side is ``test_student_copy_fails_exactly_the_task_tests``: in a generated copy with
every task stubbed, the failing tests are exactly the task-marked ones, each because of a stub.
"""
import ast
import configparser
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("make_assignment", REPO / "tools" / "make_assignment.py")
ma = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ma)
ap = sys.modules["assignment_pytest"]  # imported by make_assignment from tools/


def _functions(tree):
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_tasks_are_found_with_their_functions():
    tasks = ma.find_tasks()
    assert tasks, "no '# >>> TASK' regions in the package"
    assert list(tasks) == sorted(tasks, key=lambda t: tuple(map(int, t.split("."))))
    for task in tasks.values():
        assert task.regions and task.title
        for r in task.regions:
            tree = ast.parse((REPO / r.path).read_text())
            assert r.function in _functions(tree), f"{task.id}: {r.path}::{r.function} is not a top-level function"


def test_markers_are_registered_and_used():
    ini = configparser.ConfigParser()
    ini.read(REPO / "pytest.ini")
    registered = {line.split(":")[0].strip() for line in ini["pytest"]["markers"].splitlines() if line.strip()}
    used = set()
    for path in (REPO / "tests").glob("test_*.py"):
        used |= set(re.findall(r"pytest\.mark\.(task_\d+_\d+)\b", path.read_text()))
    markers = {t.marker for t in ma.find_tasks().values()}
    assert markers <= registered, f"register in pytest.ini: {sorted(markers - registered)}"
    assert markers <= used, f"tasks without a test: {sorted(markers - used)}"
    assert used <= markers, f"markers of tasks that do not exist: {sorted(used - markers)}"


def test_stubbed_source_keeps_signatures_and_docstrings():
    tasks = ma.find_tasks()
    for rel in sorted({r.path for t in tasks.values() for r in t.regions}):
        source = (REPO / rel).read_text()
        stubbed = ma.stub_source(source, tasks, set(tasks))
        assert "# >>> TASK" not in stubbed and "# <<< TASK" not in stubbed
        before, after = _functions(ast.parse(source)), _functions(ast.parse(stubbed))
        assert before.keys() == after.keys()
        for name, f in before.items():
            g = after[name]
            assert ast.dump(f.args) == ast.dump(g.args) and ast.get_docstring(f) == ast.get_docstring(g)
            assert [ast.dump(d) for d in f.decorator_list] == [ast.dump(d) for d in g.decorator_list]
        for t in tasks.values():
            for r in (r for r in t.regions if r.path == rel):
                raises = [ap._stub_task(n) for n in ast.walk(after[r.function])]
                assert t.id in raises, f"{rel}::{r.function} lacks the stub of task {t.id}"
                assert f'raise NotImplementedError("Task {t.id}: {t.title}")' in stubbed
        # with no task selected only the marker lines go: the code is the solution's
        kept = ma.stub_source(source, tasks, set())
        assert ast.dump(ast.parse(kept)) == ast.dump(ast.parse(source))


@pytest.mark.parametrize("body, message", [
    ("def f(x):\n    # >>> TASK 1.1: t\n    y = x\n", "never closed"),
    ("def f(x):\n    # >>> TASK 1.1: t\n    # >>> TASK 1.2: u\n    y = x\n    # <<< TASK 1.2\n", "inside"),
    ("def f(x):\n    # >>> TASK 1.1: t\n    y = x\n    # <<< TASK 1.2\n", "does not close"),
    ("# >>> TASK 1.1: t\nx = 1\n# <<< TASK 1.1\n", "inside a function"),
    ("@jit\ndef f(x):\n    # >>> TASK 1.1: t\n    return x\n    # <<< TASK 1.1\n", "Numba"),
    ('def f(x):\n    # >>> TASK 1.1: t\n    """doc"""\n    return x\n    # <<< TASK 1.1\n', "docstring"),
    ("def f(x):\n    # >>> TASK 1.1: t\n    # <<< TASK 1.1\n    return x\n", "without code"),
    ("def f(x):\n    # >>> TASK 1.1 no colon\n    return x\n", "malformed"),
    ('def f(x):\n    # >>> TASK 1.1: say "hi"\n    return x\n    # <<< TASK 1.1\n', "quotes"),
], ids=["unclosed", "nested", "wrong-end", "module-level", "jitted", "before-docstring", "empty", "no-title",
        "quoted-title"])
def test_malformed_regions_are_errors(tmp_path, body, message):
    path = tmp_path / "mod.py"
    path.write_text(body)
    with pytest.raises(ValueError, match=message):
        ma.find_tasks_in_file(path, "mod.py")


def test_student_copy_refuses_to_overwrite(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        ma.make_student_copy(tmp_path)
    for inside in (REPO, REPO.parent, REPO / "tinymtcnn", REPO / "tests" / "student"):
        with pytest.raises(ValueError, match="repository"):
            ma.make_student_copy(inside)  # never with overwrite=True here: a broken guard would delete


@pytest.mark.slow
def test_student_copy_fails_exactly_the_task_tests(tmp_path):
    out = tmp_path / "student"
    tasks = ma.make_student_copy(out)
    files = [p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()]
    assert not [f for f in files if f.endswith((".pyc", ".nbi", ".nbc")) or "__pycache__" in f]
    assert "tests/test_assignments.py" not in files and "ASSIGNMENT.md" in files
    assert not [f for f in files if f.endswith(".py") and "# >>> TASK" in (out / f).read_text()]

    # sanity: with this environment Python imports the student's package, not the installed one
    env = ap.student_env(out)
    where = subprocess.run([sys.executable, "-c", "import tinymtcnn; print(tinymtcnn.__file__)"], env=env,
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).resolve() == (out / "tinymtcnn" / "__init__.py").resolve()

    report, proc = ap.run_pytest(out, "not shared", timeout=600)
    assert Path(report["tinymtcnn_file"]).resolve() == Path(where).resolve()  # the run itself, too
    result = ap.analyse(report, tasks)
    assert not ap.problems(result), f"{ap.problems(result)}\n{proc.stdout[-3000:]}"
    assert result["failed"] == result["task_tests"]
    assert result["counts"]["passed"] > 0
    for task in tasks:  # every task has tests, and they all fail through its stub or another one
        own = [n for n, t in report["tests"].items() if task in t["tasks"]]
        assert own, f"task {task} has no test in the student copy"
        assert any(task in report["tests"][n]["entered"] for n in own), f"no test of task {task} calls its stub"
