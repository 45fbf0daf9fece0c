"""The gradable assignments (docs/teachers_guide.md, tools/make_assignment.py).

The solution side is the rest of the suite: every task test passes on the package as it is.
The student side is ``test_student_copy_fails_exactly_the_task_tests``: in a generated copy with
every task stubbed, the failing tests are exactly the task-marked ones (and ``pipeline`` ones),
each because of a stub. Further: the copy stands alone and guards against another installed
tinymtcnn, a one-line "solution" that calls the fast twin fails, the committed task fixtures are
what tools/make_task_fixtures.py computes today, and the guide's table is generated.
"""
import ast
import configparser
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("make_assignment", REPO / "tools" / "make_assignment.py")
ma = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ma)
ap = sys.modules["assignment_pytest"]  # imported by make_assignment from tools/
import assignment_handouts as ah  # noqa: E402 (tools/ is on the path now)
import assignment_solve as solve  # noqa: E402
import assignment_source as asrc  # noqa: E402


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


def test_fast_twins_call_the_students_function_in_the_copy():
    tasks = ma.find_tasks()
    assert {t for t in tasks if tasks[t].fast} >= {"2.1", "2.2", "2.3", "2.4", "4.1"}
    for task in tasks.values():
        for region, statement in task.fast:
            stubbed = ma.stub_source((REPO / region.path).read_text(), tasks, set(tasks))
            assert "# >>> STUDENT-FAST" not in stubbed and "# <<< STUDENT-FAST" not in stubbed
            func = next(n for n in ast.parse(stubbed).body
                        if isinstance(n, ast.FunctionDef) and n.name == region.function)
            body = [n for n in func.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
            assert ast.unparse(body[-1]) == ast.unparse(ast.parse(statement).body[0]), (region.path, region.function)


def test_task_fixtures_are_up_to_date():
    spec = importlib.util.spec_from_file_location("make_task_fixtures", REPO / "tools" / "make_task_fixtures.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    committed = np.load(REPO / "tests" / "fixtures" / "task_cases.npz")
    fresh = tool.task_cases()
    assert sorted(committed.files) == sorted(fresh), "run tools/make_task_fixtures.py"
    for key, value in fresh.items():
        np.testing.assert_allclose(committed[key], value, rtol=1e-12, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("body, message", [
    ("def f(x):\n    # >>> TASK 1.1: t\n    y = x\n", "never closed"),
    ("def f(x):\n    # >>> TASK 1.1: t\n    # >>> TASK 1.2: u\n    y = x\n    # <<< TASK 1.2\n", "inside"),
    ("def f(x):\n    # >>> TASK 1.1: t\n    y = x\n    # <<< TASK 1.2\n", "does not close"),
    ("# >>> TASK 1.1: t\nx = 1\n# <<< TASK 1.1\n", "inside a function"),
    ("@jit\ndef f(x):\n    # >>> TASK 1.1: t\n    return x\n    # <<< TASK 1.1\n", "Numba"),
    ('def f(x):\n    # >>> TASK 1.1: t\n    """doc"""\n    return x\n    # <<< TASK 1.1\n', "docstring"),
    ("def f(x):\n    # >>> TASK 1.1: t\n    # <<< TASK 1.1\n    return x\n", "without code"),
    ("def f(x):\n    # >>> TASK 1.1 no colon\n    return x\n", "malformed"),
    ("def f(x):\n    # >>> STUDENT-FAST 1.1: return g(x\n    return x\n    # <<< STUDENT-FAST 1.1\n", "compile"),
    ("def f(x):\n    # >>> STUDENT-FAST 1.1: return g(x)\n    return x\n", "never closed"),
    ("# >>> STUDENT-FAST 1.1: y = g(x)\nx = 1\n# <<< STUDENT-FAST 1.1\n", "inside a function"),
    ('def f(x):\n    # >>> TASK 1.1: say "hi"\n    return x\n    # <<< TASK 1.1\n', "quotes"),
], ids=["unclosed", "nested", "wrong-end", "module-level", "jitted", "before-docstring", "empty", "no-title",
        "quoted-title", "fast-syntax", "fast-unclosed", "fast-module-level"])
def test_malformed_regions_are_errors(tmp_path, body, message):
    path = tmp_path / "mod.py"
    path.write_text(body)
    with pytest.raises(ValueError, match=message):
        ma.find_tasks_in_file(path, "mod.py")
        asrc.find_fast_regions(path, "mod.py")  # (the TASK cases raise on the line above)


def test_student_copy_stands_alone(tmp_path):
    out = tmp_path / "student"
    ma.make_student_copy(out, handouts=False)
    files = [p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()]
    # tests that reach into tools/ stay behind (tools/ is not copied); the helpers they all use come along
    assert not [f for f in files if f.startswith("tools/")]
    assert "tests/test_assignments.py" not in files and "tests/test_tools_split.py" not in files
    assert "tests/_grading_asserts.py" in files and "tests/fixtures/task_cases.npz" in files
    assert not [f for f in files if re.search("solution|answer|teacher", f, re.IGNORECASE)]  # e.g. tests/grading_solutions/
    for f in files:
        if f.startswith("tests/") and f.endswith(".py"):
            assert not re.search(r"""["'](tools|docs)["']""", (out / f).read_text()), f
    marker = re.compile(r"# (>>>|<<<) (TASK|STUDENT-FAST)")
    assert not [f for f in files if f.endswith(".py") and marker.search((out / f).read_text())]
    # bare `pytest` puts the copy first on sys.path, as `python -m pytest` does; the conftest guards it
    assert re.search(r"^pythonpath = \.$", (out / "pytest.ini").read_text(), flags=re.M)
    assert "def pytest_configure" in (out / "tests" / "conftest.py").read_text()
    notebooks = [f for f in files if f.startswith("notebooks/") and f.endswith(".ipynb")]
    assert notebooks and not [f for f in files if "SOLUTION" in (out / f).read_text(errors="replace")
                              and f.startswith("notebooks/") and f[10:11].isdigit()]


@pytest.mark.slow
def test_copy_refuses_another_tinymtcnn_and_its_docs_count_collected_tests(tmp_path):
    out = tmp_path / "student"
    stubbed = ma.make_student_copy(out, selected=["4.1", "4.3"])
    # python -I leaves out the current folder: the teacher's (installed) tinymtcnn comes first
    if subprocess.run([sys.executable, "-I", "-c", "import tinymtcnn"], cwd=tmp_path).returncode:
        pytest.skip("needs the teacher's tinymtcnn installed (pip install -e .)")
    run = subprocess.run([sys.executable, "-I", "-c", "import sys, pytest, tinymtcnn; "
                          "sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '-m', 'task_4_1']))"],
                         cwd=out, capture_output=True, text=True, timeout=300)
    found = run.stdout + run.stderr
    assert run.returncode == 4 and "Python imported" in found and str(REPO / "tinymtcnn") in found, found[-2000:]
    # README and handouts: every count is the collected one
    markers = ah.collect(out)
    readme = (out / "README.md").read_text()
    assert f"runs {len(markers)} tests" in readme
    for task in stubbed.values():
        n = len(ah.tests_of(task.id, markers))
        assert f"`python -m pytest -m {task.marker}` | {n} |" in readme
        handout = (out / "handouts" / f"{task.marker}.md").read_text()
        assert f"\n{n} tests;" in handout and handout.count("\n* `tests/") == n


@pytest.mark.slow
def test_one_line_solutions_that_call_the_fast_twin_fail(tmp_path):
    out, cheats = tmp_path / "student", tmp_path / "cheats"
    ma.make_student_copy(out, selected=["2.2", "2.4", "4.1"], handouts=False)
    cheats.mkdir()
    (cheats / "task_4_1.py").write_text("def nms_naive(boxes, scores, threshold, mode):\n"
                                        "    return nms(boxes, scores, threshold, mode)\n")
    (cheats / "task_2_2.py").write_text("def conv2d_backward_naive(dout, cache):\n"
                                        "    return conv2d_backward(dout, cache)\n")
    (cheats / "task_2_4.py").write_text(
        "def maxpool_forward_naive(x, kernel, stride, ceil_mode):\n"
        "    return maxpool_forward(x, kernel, stride, ceil_mode)\n"
        "def maxpool_backward_naive(dout, argmax, x_shape):\n"
        "    return maxpool_backward(dout, argmax, x_shape, 3, 2)\n")
    solve.apply_solutions(out, ["2.2", "2.4", "4.1"], cheats)
    report, proc = ap.run_pytest(out, "task_2_2 or task_2_4 or task_4_1", timeout=600)
    tests = report["tests"]
    assert tests and all(t["outcome"] == "failed" for t in tests.values()), proc.stdout[-3000:]
    assert "RecursionError" in proc.stdout


@pytest.mark.slow
def test_honest_solutions_pass_with_every_other_task_stubbed(tmp_path):
    out = tmp_path / "student"
    tasks = ma.make_student_copy(out, handouts=False)
    solved = sorted(p.stem[5:].replace("_", ".") for p in solve.SOLUTIONS.glob("task_*.py"))
    assert len(solved) >= 3
    solve.apply_solutions(out, solved)
    report, proc = ap.run_pytest(out, " or ".join(tasks[t].marker for t in solved), timeout=600)
    assert report["tests"] and all(t["outcome"] == "passed" for t in report["tests"].values()), proc.stdout[-3000:]


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
    assert "tests/test_assignments.py" not in files and "README.md" in files
    assert {f"handouts/{t.marker}.md" for t in tasks.values()} <= set(files)
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
    assert sorted(set(result["failed"]) - set(result["pipeline_failed"])) == result["task_tests"]
    assert result["counts"]["passed"] > 0
    for task in tasks:  # every task has tests, and they all fail through its stub or another one
        own = [n for n, t in report["tests"].items() if task in t["tasks"]]
        assert own, f"task {task} has no test in the student copy"
        assert any(task in report["tests"][n]["entered"] for n in own), f"no test of task {task} calls its stub"


def test_teachers_guide_table_is_generated():
    guide = (REPO / "docs" / "teachers_guide.md").read_text()
    begin = "<!-- begin: make_assignment.py list --markdown -->\n"
    end = "\n<!-- end: make_assignment.py list --markdown -->"
    table = guide[guide.index(begin) + len(begin):guide.index(end)]
    assert table == ah.markdown_table(ma.find_tasks(), ah.collect(REPO)), \
        "paste `python tools/make_assignment.py list --markdown` into docs/teachers_guide.md"
