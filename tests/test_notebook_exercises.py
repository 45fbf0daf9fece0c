"""The "Your turn" exercises of the notebooks, their check helpers and the student version.

Fast: the notebooks are parsed (the jupytext ``.py`` sources), never executed; CI executes the
teacher's ``.ipynb`` with ``--nbmake``, where ``exercises.expect_answers()`` makes every check that
is not "right" fail. In the student copy (notebooks without answers, no tools/) the notebook tests
skip; the tests of ``tinymtcnn.exercises`` run everywhere.
"""
import ast
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest

from tinymtcnn import exercises

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.py"))
TOOL = REPO / "tools" / "notebook_versions.py"
TEACHER = TOOL.is_file() and any("# >>> SOLUTION" in p.read_text(encoding="utf-8") for p in NOTEBOOKS)
teacher_only = pytest.mark.skipif(not TEACHER, reason="needs the teacher's notebooks and tools/notebook_versions.py")
HEADING = re.compile(r"^# ### Your turn (\d+): \S", re.M)
CHECK = re.compile(r"exercises\.check_(prediction|function|parameter)\(\s*\"(\d+)\"")


def _tool():
    spec = importlib.util.spec_from_file_location("notebook_versions", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _lenient():
    exercises.expect_answers(False)
    yield
    exercises.expect_answers(False)


# --------------------------------------------------------------------------- the check helpers
def test_prediction_blank_right_wrong_and_unavailable():
    for blank in (None, ...):
        assert exercises.check_prediction("1", blank, 8).status == exercises.BLANK
    right = exercises.check_prediction("1", 8, lambda: 8, "because")
    assert right and right.status == exercises.RIGHT and "because" in repr(right)
    wrong = exercises.check_prediction("1", 7, lambda: 8, "because")
    assert not wrong and "You predicted 7; running it gives 8" in repr(wrong) and "because" in repr(wrong)
    assert exercises.check_prediction("1", (2, 4, 7, 6), (2, 4, 7, 6))
    shown = repr(exercises.check_prediction("1", (179, 59), (np.float64(179.0), np.int64(60))))
    assert "You predicted (179, 59); running it gives (179, 60)." in shown
    assert not exercises.check_prediction("1", (2, 4, 6, 7), (2, 4, 7, 6))
    assert exercises.check_prediction("1", 0.74, 0.75, tolerance=0.02)
    assert exercises.check_prediction("1", " Unused", "unused")
    assert not exercises.check_prediction("1", 1, True)  # a bool answer must be a bool
    invalid = exercises.check_prediction("1", "maybe", "part", choices=["part", "unused"])
    assert invalid.status == exercises.WRONG and "not one of the answers" in repr(invalid)

    def stub():
        raise NotImplementedError("Task 4.1: greedy NMS")

    missing = exercises.check_prediction("2", 3, stub)
    assert missing.status == exercises.UNAVAILABLE and "Task 4.1" in repr(missing)
    broken = exercises.check_prediction("2", 3, lambda: [][1])
    assert broken.status == exercises.UNAVAILABLE and "IndexError" in repr(broken)
    assert exercises.check_function("2", max, lambda *a: stub(), [("x", (1, 2))]).status == exercises.UNAVAILABLE


def _reference(dout, x, w):
    return dout @ w, dout.T @ x, dout.sum(axis=0)


def _inputs(rng):
    return rng.standard_normal((3, 2)), rng.standard_normal((3, 4)), rng.standard_normal((2, 4))


def test_function_check_names_the_wrong_output_the_index_and_the_inputs():
    cases = exercises.seeded(_inputs)
    assert exercises.check_function("3", _reference, _reference, cases)

    def wrong_dw(dout, x, w):
        dx, dw, db = _reference(dout, x, w)
        dw = dw.copy()
        dw[1, 2] += 1.0
        return dx, dw, db

    assert "your output[1]:" in repr(exercises.check_function("3", wrong_dw, _reference, cases))
    verdict = exercises.check_function("3", wrong_dw, _reference, cases, names=("dx", "dw", "db"))
    text = repr(verdict)
    assert verdict.status == exercises.WRONG
    assert "your dw:" in text and "(1, 2)" in text and "_inputs(np.random.default_rng(0))" in text
    expected = _reference(*cases[0][1])[1][1, 2]
    assert f"expected {expected:.6g}" in text

    def transposed(dout, x, w):
        return dout @ w, x.T @ dout, dout.sum(axis=0)

    shapes = repr(exercises.check_function("3", transposed, _reference, cases))
    assert "expected shape (2, 4), got shape (4, 2)" in shapes


def test_function_check_never_raises_on_the_readers_code():
    cases = exercises.seeded(_inputs)

    def empty(dout, x, w):
        """Only a docstring: returns None."""

    def not_yet(dout, x, w):
        raise NotImplementedError

    def crashes(dout, x, w):
        return dout @ x  # shapes do not fit

    assert exercises.check_function("3", None, _reference, cases).status == exercises.BLANK
    assert exercises.check_function("3", empty, _reference, cases).status == exercises.BLANK
    assert exercises.check_function("3", not_yet, _reference, cases).status == exercises.BLANK
    crashed = exercises.check_function("3", crashes, _reference, cases)
    assert crashed.status == exercises.WRONG and "ValueError" in repr(crashed)


def test_function_check_gives_each_side_its_own_copy_of_the_inputs():
    def scribbles(dout, x, w):
        result = _reference(dout, x, w)
        dout[...] = 0.0
        return result

    assert exercises.check_function("3", scribbles, _reference, exercises.seeded(_inputs))


def test_parameter_check():
    def condition(value):
        return value < 0.5, f"{value} is {'small' if value < 0.5 else 'large'}"

    assert exercises.check_parameter("1", None, condition).status == exercises.BLANK
    assert exercises.check_parameter("1", 0.2, condition)
    wrong = exercises.check_parameter("1", 0.7, condition, "why")
    assert not wrong and "0.7 is large" in repr(wrong) and "why" in repr(wrong)
    raised = exercises.check_parameter("1", "x", condition)
    assert raised.status == exercises.WRONG and "TypeError" in repr(raised)


def test_teacher_mode_raises_on_anything_but_right():
    exercises.expect_answers()
    assert exercises.check_prediction("1", 8, 8)
    with pytest.raises(AssertionError, match="Your turn 1: not answered yet"):
        exercises.check_prediction("1", None, 8)
    with pytest.raises(AssertionError, match="Your turn 1: wrong"):
        exercises.check_prediction("1", 7, 8)


# --------------------------------------------------------------------------- the notebooks
@teacher_only
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_two_exercises_each_with_an_answer_and_one_check(path):
    text = path.read_text(encoding="utf-8")
    headings = [int(n) for n in HEADING.findall(text)]
    assert len(headings) >= 2, f"{path.name}: fewer than two 'Your turn' exercises"
    assert headings == list(range(1, len(headings) + 1)), f"{path.name}: exercises numbered {headings}"
    checks = [int(n) for _, n in CHECK.findall(text)]
    assert checks == headings, f"{path.name}: check cells {checks} for exercises {headings}"
    starts = [m.start() for m in HEADING.finditer(text)] + [len(text)]
    for number, begin, end in zip(headings, starts, starts[1:]):
        section = text[begin:end]
        answer, check = section.find("# >>> SOLUTION"), CHECK.search(section)
        assert 0 < answer < check.start(), f"{path.name}: exercise {number} has no answer before its check"
    assert text.count("exercises.expect_answers()") == 1


def _bound_before(tree, name, line):
    """The last module-level statement before ``line`` that binds ``name``."""
    last = None
    for node in tree.body:
        if node.lineno >= line:
            break
        targets = [node.name] if isinstance(node, ast.FunctionDef) else \
            [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
        if name in targets:
            last = node
    return last


def _is_placeholder(node):
    if isinstance(node, ast.Assign):
        return isinstance(node.value, ast.Constant) and node.value.value in (None, Ellipsis)
    if isinstance(node, ast.FunctionDef):  # only a docstring left: the function returns None
        return all(isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) for s in node.body)
    return False


@teacher_only
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_student_version_starts_every_check_from_a_placeholder(path):
    teacher = path.read_text(encoding="utf-8")
    student = _tool().strip_solutions(teacher)
    assert "SOLUTION" not in student and "expect_answers" not in student
    tree = ast.parse(student)  # the whole notebook still compiles
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Attribute) and node.func.attr.startswith("check_")
             and isinstance(node.func.value, ast.Name) and node.func.value.id == "exercises"]
    assert len(calls) == len(HEADING.findall(teacher))
    for call in calls:
        answer = call.args[1]
        assert isinstance(answer, ast.Name), f"{path.name}:{call.lineno}: the reader's answer must be a variable"
        bound = _bound_before(tree, answer.id, call.lineno)
        assert bound is not None and _is_placeholder(bound), \
            f"{path.name}:{call.lineno}: {answer.id} is not a placeholder (None, ... or an empty function) " \
            "in the student version"


@teacher_only
def test_student_version_writes_every_notebook_without_answers_or_outputs(tmp_path):
    tool = _tool()
    written = tool.write_version(tmp_path / "student", "student")
    names = {p.name for p in written}
    assert {p.name for p in NOTEBOOKS} <= names and {p.with_suffix(".ipynb").name for p in NOTEBOOKS} <= names
    for path in NOTEBOOKS:
        regions = ["\n".join(path.read_text(encoding="utf-8").splitlines()[a + 1:b])
                   for a, b in tool.solution_regions(path.read_text(encoding="utf-8").splitlines())]
        for suffix in (".py", ".ipynb"):
            out = tmp_path / "student" / path.with_suffix(suffix).name
            text = out.read_text(encoding="utf-8")
            if suffix == ".ipynb":
                notebook = json.loads(text)
                code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
                assert all(not c["outputs"] and c["execution_count"] is None for c in code), out.name
                checks = [c for c in code if "exercises.check_" in "".join(c["source"])]
                assert len(checks) == len(HEADING.findall(path.read_text(encoding="utf-8")))
                assert all(c["metadata"]["jupyter"]["source_hidden"] for c in checks), out.name
                text = "\n".join("".join(c["source"]) for c in code)
            assert "SOLUTION" not in text and "expect_answers" not in text, out.name
            for region in regions:
                assert region not in text, f"{out.name} still holds an answer:\n{region}"
    teacher = tool.write_version(tmp_path / "teacher", "teacher")
    assert all(p.read_bytes() == (REPO / "notebooks" / p.name).read_bytes() for p in teacher)
    with pytest.raises(ValueError, match="overwrite"):
        tool.write_version(REPO / "notebooks" / "student", "student")


def test_unbalanced_solution_markers_are_refused():
    if not TOOL.is_file():
        pytest.skip("tools/notebook_versions.py is not part of the student copy")
    tool = _tool()
    with pytest.raises(ValueError, match="never closed"):
        tool.strip_solutions("x = None\n# >>> SOLUTION\nx = 1\n")
    with pytest.raises(ValueError, match="without"):
        tool.strip_solutions("x = 1\n# <<< SOLUTION\n")
    assert tool.strip_solutions("x = None\n# >>> SOLUTION\nx = 1\n# <<< SOLUTION\ny = 2\n") == "x = None\ny = 2\n"


@teacher_only
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_paired_and_its_checks_said_right(path):
    jupytext = pytest.importorskip("jupytext")
    notebook = json.loads(path.with_suffix(".ipynb").read_text(encoding="utf-8"))
    code = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    paired = [c.source for c in jupytext.read(path).cells if c.cell_type == "code"]
    assert code == paired, f"{path.name} and its .ipynb differ: run `jupytext --sync {path}`"
    shown = json.dumps([c.get("outputs", []) for c in notebook["cells"] if c["cell_type"] == "code"])
    for number in HEADING.findall(path.read_text(encoding="utf-8")):
        assert f"Your turn {number}: right." in shown, f"{path.name}: the stored output of check {number} is not right"


@teacher_only
def test_notebooks_name_every_assignment_task():
    tasks = set()
    for source in (REPO / "tinymtcnn").rglob("*.py"):
        tasks |= set(re.findall(r"# >>> TASK (\d+\.\d+):", source.read_text(encoding="utf-8")))
    named = set()
    for path in NOTEBOOKS:
        text = path.read_text(encoding="utf-8")
        for task in re.findall(r"Assignment task (\d+\.\d+)", text):
            named.add(task)
            assert f"-m task_{task.replace('.', '_')}" in text, f"{path.name}: task {task} without its pytest marker"
    assert tasks and named == tasks, f"named in the notebooks {sorted(named)}, in the package {sorted(tasks)}"
