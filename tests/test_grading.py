"""The grader (tools/assignment_grade.py): honest solutions score full marks, cheats score 0.

Submissions are copies of the package's modules with task regions replaced by the snippets of
tests/grading_solutions/ (README there). The grader never imports them in this process: each task
runs in a child process and only the numbers it returns are compared here.
"""
import csv
import json
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import assignment_grade as grader  # noqa: E402
from assignment_solve import _bodies  # noqa: E402
from assignment_source import PACKAGE, find_tasks, make_student_copy  # noqa: E402
from grading import checkers  # noqa: E402
from grading.report import write_csv, write_gradescope  # noqa: E402

SNIPPETS = Path(__file__).resolve().parent / "grading_solutions"
HONEST = {"2.2": "task_2_2", "3.1": "task_3_1", "4.2": "task_4_2", "6.2": "task_6_2"}
ALL_PACKAGE = find_tasks(REPO)


def submission(root, student, snippets=(), extra=None):
    """``root/student/tinymtcnn``: the package's modules with each ``(task, snippet file)`` spliced into
    the task's regions; ``extra`` maps a file (relative to the submission) to text appended to it."""
    folder = Path(root) / student
    shutil.copytree(REPO / PACKAGE, folder / PACKAGE, ignore=lambda d, names: [
        n for n in names if n == "__pycache__" or not (n.endswith(".py") or (Path(d) / n).is_dir())])
    for task_id, snippet in snippets:
        bodies = _bodies(snippet)
        for region in sorted(ALL_PACKAGE[task_id].regions, key=lambda r: -r.start):
            path = folder / region.path
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            body = textwrap.indent(bodies[region.function], region.indent)
            path.write_text("".join(lines[:region.start - 1] + [body] + lines[region.end:]), encoding="utf-8")
    for rel, text in (extra or {}).items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(textwrap.dedent(text))
    return folder


def by_task(student):
    return {t["task"]: t for t in student["tasks"]}


def grade(paths, tasks, **kw):
    result = grader.grade_class([str(p) for p in paths], tasks, jobs=2, seed=kw.pop("seed", 7), **kw)
    return {s["student"]: s for s in result["students"]}, result


@pytest.fixture(scope="module")
def honest_and_stub(tmp_path_factory):
    """An honest student (snippets for four tasks) and the real student copy (every task stubbed)."""
    root = tmp_path_factory.mktemp("class")
    submission(root, "honest", [(t, SNIPPETS / "honest" / f"{f}.py") for t, f in HONEST.items()])
    make_student_copy(root / "stub", handouts=False)
    return grade([root / "honest", root / "stub"], list(HONEST))


def test_honest_solution_scores_full_marks_and_stubs_score_zero(honest_and_stub):
    students, _ = honest_and_stub
    for task_id, t in by_task(students["honest"]).items():
        assert t["score"] == t["max_score"] == 10, (task_id, t["reason"], [c["message"] for c in t["cases"]])
    assert students["honest"]["score"] == 40 and not students["honest"]["error"]
    for t in students["stub"]["tasks"]:
        assert t["score"] == 0 and all("NotImplementedError" in c["message"] for c in t["cases"])


def test_class_csv_and_gradescope_json(honest_and_stub, tmp_path):
    _, result = honest_and_stub
    write_csv(result, tmp_path / "class.csv")
    rows = list(csv.DictReader(open(tmp_path / "class.csv", encoding="utf-8")))
    assert [r["student"] for r in rows] == ["honest", "stub"]
    assert [r["score"] for r in rows] == ["40", "0"] and rows[0]["task 2.2"] == "10" and rows[1]["status"] == "ok"
    assert {r["seed"] for r in rows} == {"7"}
    write_gradescope(result, tmp_path / "gs")
    for student, total in (("honest", 40), ("stub", 0)):
        data = json.loads((tmp_path / "gs" / student / "results.json").read_text(encoding="utf-8"))
        assert data["score"] == total
        assert [t["name"].split()[0] for t in data["tests"]] == list(HONEST)
        assert all(set(t) >= {"name", "score", "max_score", "output"} and t["max_score"] == 10 for t in data["tests"])
    stub = json.loads((tmp_path / "gs" / "stub" / "results.json").read_text(encoding="utf-8"))
    assert "seed 7" in stub["tests"][0]["output"] and "NotImplementedError" in stub["tests"][0]["output"]


def test_failure_message_names_the_wrong_output(tmp_path):
    """db doubled: the message names db (not dx or dw), the largest error, where, expected and got."""
    wrong = tmp_path / "task_2_2.py"
    wrong.write_text((SNIPPETS / "honest" / "task_2_2.py").read_text(encoding="utf-8").replace(
        "return grad_padded[:, pad:pad + height, pad:pad + width], grad_w, grad_b",
        "return grad_padded[:, pad:pad + height, pad:pad + width], grad_w, 2 * grad_b"), encoding="utf-8")
    students, _ = grade([submission(tmp_path, "alice", [("2.2", wrong)])], ["2.2"])
    t = by_task(students["alice"])["2.2"]
    assert t["score"] == 0 and not t["reason"]
    message = t["cases"][0]["message"]
    assert "db:" in message and "dx:" not in message and "dw:" not in message
    assert "largest error" in message and "at index" in message and "expected" in message and "got" in message
    assert "stride" in message and t["seed"] == 7


CHEATS = {  # student -> (task, snippet, files appended to) ; every one must score 0 on its task
    "fast_twin": ("4.1", "nms_calls_fast_twin", {}),
    "hidden_fast_twin": ("4.1", "nms_hidden_fast_twin", {}),
    "prints_pass": ("4.1", "nms_prints_pass", {}),
    "conv_calls_fast": ("2.2", "conv_backward_calls_fast", {}),
    "conv_hidden_fast": ("2.2", "conv_backward_hidden_fast", {}),
    "atexit_and_patches": ("4.1", "nms_prints_pass", {
        "tinymtcnn/__init__.py": """
            import atexit as _atexit, glob as _glob, json as _json, os as _os
            import numpy as _np
            _np.allclose = _np.array_equal = lambda *a, **k: True  # patched numpy in the child
            def _rewrite_reports():
                for name in _glob.glob("case_*.json") + ["report.json", "results.json"]:
                    with open(name, "w") as f:
                        _json.dump({"passed": True, "score": 10, "result": {"kind": "none"}}, f)
                _os._exit(0)
            _atexit.register(_rewrite_reports)
            """,
        "conftest.py": "import pytest\n@pytest.hookimpl(tryfirst=True)\ndef pytest_runtest_call(item):\n    return True\n",
        "pytest.py": "def main(*a, **k):\n    print('8 passed')\n    return 0\n",
        "numpy/__init__.py": "raise SystemExit(0)\n"}),
    "reads_teachers_file": ("4.1", "nms_reads_teacher_file", {}),
    "reloads_module": ("4.1", "nms_reloads_module", {}),
    "loads_module_copy": ("4.1", "nms_loads_module_copy", {}),
    "exits_at_import": ("4.1", "nms_prints_pass", {"tinymtcnn/kernels/nms.py": "import os as _os\n_os._exit(0)\n"}),
}


def test_cheats_score_zero(tmp_path):
    teachers = tmp_path / "teachers_file.py"
    teachers.write_text((SNIPPETS / "cheats" / "nms_reads_teacher_file.py").read_text(encoding="utf-8").replace(
        "TEACHER_NMS_FILE", str(REPO / PACKAGE / "kernels" / "nms.py")), encoding="utf-8")
    linked = submission(tmp_path, "links_teachers_file")  # its nms.py is a link to the teacher's solution
    (linked / PACKAGE / "kernels" / "nms.py").unlink()
    (linked / PACKAGE / "kernels" / "nms.py").symlink_to(REPO / PACKAGE / "kernels" / "nms.py")
    students = {}
    for task_id in ("2.2", "4.1"):
        paths = [submission(tmp_path, student, [(task_id, teachers if student == "reads_teachers_file" else
                                                  SNIPPETS / "cheats" / f"{snippet}.py")], extra)
                 for student, (t, snippet, extra) in CHEATS.items() if t == task_id]
        students.update(grade(paths + ([linked] if task_id == "4.1" else []), [task_id])[0])
    for student, (task_id, _, _) in CHEATS.items():
        t = by_task(students[student])[task_id]
        assert not students[student]["error"] and t["score"] == 0, (student, t)
    reason = {st: by_task(students[st])[CHEATS[st][0]]["reason"] for st in CHEATS}
    assert "refers to nms" in reason["fast_twin"] and "refers to conv2d_backward" in reason["conv_calls_fast"]
    assert "called tinymtcnn.kernels.nms.nms" in reason["hidden_fast_twin"]
    assert "called tinymtcnn.kernels.nms.nms" in reason["reloads_module"]  # the reload re-installs the trap
    copied = by_task(students["loads_module_copy"])["4.1"]
    assert any("outside its import" in n and "kernels/nms.py" in n for n in copied["notes"])
    assert "called tinymtcnn.layers.conv.conv2d_backward" in reason["conv_hidden_fast"]
    assert "no result" in by_task(students["exits_at_import"])["4.1"]["cases"][0]["message"]
    assert by_task(students["links_teachers_file"])["4.1"]["score"] == 0  # links are not copied for the child
    read = by_task(students["reads_teachers_file"])["4.1"]
    assert "PermissionError" in read["cases"][0]["message"]
    assert any("reading a file" in n and "kernels/nms.py" in n for n in read["notes"])


def test_hidden_fast_twins_would_pass_without_the_traps(tmp_path, monkeypatch):
    """The traps are what stop the hidden cheats: with nothing trapped their numbers are right."""
    table = checkers(REPO / PACKAGE)
    for task_id in ("2.2", "4.1"):
        table[task_id] = type(table[task_id])(task_id, table[task_id].module, table[task_id].make, ())
    monkeypatch.setattr("grading.checkers", lambda package_dir: table)
    paths = [submission(tmp_path, "nms", [("4.1", SNIPPETS / "cheats" / "nms_hidden_fast_twin.py")]),
             submission(tmp_path, "conv", [("2.2", SNIPPETS / "cheats" / "conv_backward_hidden_fast.py")]),
             submission(tmp_path, "reload", [("4.1", SNIPPETS / "cheats" / "nms_reloads_module.py")])]
    students, _ = grade(paths, ["2.2", "4.1"])
    assert [students[s]["score"] for s in ("nms", "conv", "reload")] == [20] * 3


def test_loop_and_crash_score_zero_while_other_tasks_and_students_are_graded(tmp_path):
    loop = submission(tmp_path, "loops", [("4.3", SNIPPETS / "cheats" / "square_loops_forever.py")])
    crash = submission(tmp_path, "crashes", [("4.3", SNIPPETS / "cheats" / "square_crashes.py")])
    broken = submission(tmp_path, "broken", extra={"tinymtcnn/__init__.py": "raise ImportError('broken on purpose')\n"})
    fine = submission(tmp_path, "fine")
    students, _ = grade([loop, crash, broken, fine], ["4.2", "4.3"], timeout=8)
    assert by_task(students["loops"])["4.3"]["reason"].startswith("timed out after 8 s")
    assert by_task(students["loops"])["4.2"]["score"] == 10
    crashed = by_task(students["crashes"])["4.3"]
    assert crashed["score"] == 0 and "RuntimeError: crash in the student's code" in crashed["cases"][0]["message"]
    assert all(t["score"] == 0 and "broken on purpose" in t["reason"] for t in students["broken"]["tasks"])
    assert students["fine"]["score"] == 20
    assert not any(s["error"] for s in students.values())


def test_command_exit_status_and_outputs(tmp_path, capsys):
    """Exit 0 when every submission is graded (low scores included), 1 when one cannot be graded."""
    import make_assignment

    honest = submission(tmp_path / "class", "bob", [("4.2", SNIPPETS / "honest" / "task_4_2.py")])
    code = make_assignment.main(["grade", str(honest), "--tasks", "4.2", "--seed", "3", "--csv",
                                 str(tmp_path / "c.csv"), "--gradescope", str(tmp_path / "gs"), "--jobs", "1"])
    out = capsys.readouterr().out
    assert code == 0 and "bob: 10/10" in out and "seed 3" in out
    assert json.loads((tmp_path / "gs" / "results.json").read_text(encoding="utf-8"))["score"] == 10
    (tmp_path / "class" / "carol").mkdir()  # a student folder without the package: not gradable
    code = make_assignment.main(["grade", str(tmp_path / "class"), "--tasks", "4.2", "--jobs", "1"])
    captured = capsys.readouterr()
    assert code == 1 and "NOT GRADED: carol" in captured.err and "bob: 10/10" in captured.out


def test_teachers_own_package_scores_full_marks(tmp_path):
    """No checker or trap fires on the reference code itself (every task, every case)."""
    students, result = grade([submission(tmp_path, "teacher")], None)
    assert students["teacher"]["score"] == students["teacher"]["max_score"] == 10 * len(result["tasks"]), \
        [(t["task"], t["reason"], [c["message"] for c in t["cases"] if not c["passed"]]) for t in
         students["teacher"]["tasks"] if t["score"] < t["max_score"]]


def test_unwritable_output_is_refused_before_grading(tmp_path, capsys):
    import make_assignment

    (tmp_path / "a_file").write_text("", encoding="utf-8")
    code = make_assignment.main(["grade", str(tmp_path), "--csv", str(tmp_path / "a_file" / "grades.csv")])
    assert code == 2 and "cannot write" in capsys.readouterr().err


def test_static_scan_and_points(tmp_path):
    seed, prepared = grader.prepare(None, seed=1)
    assert all(grader.static_findings(REPO / PACKAGE, p) == [] for p in prepared)
    seed, prepared = grader.prepare(["4.1"], seed=1)
    path = submission(tmp_path, "s", [("4.1", SNIPPETS / "cheats" / "nms_calls_fast_twin.py")])
    found = grader.static_findings(path / PACKAGE, prepared[0])
    assert len(found) == 1 and "kernels/nms.py" in found[0] and "refers to nms" in found[0]
    points = tmp_path / "points.toml"
    points.write_text('default = 5\n[points]\n"4.1" = 20\n', encoding="utf-8")
    assert grader.load_points(points, ["4.1", "4.2"]) == {"4.1": 20.0, "4.2": 5.0}
    points.write_text('[points]\n"9.9" = 1\n', encoding="utf-8")
    with pytest.raises(ValueError, match="unknown task"):
        grader.load_points(points, ["4.1"])


def test_source_is_parsed_only_in_the_graders_own_thread(tmp_path, monkeypatch):
    """CPython 3.11's AST constructor is not safe when two threads parse at once (python/cpython#106905:
    "SystemError: AST constructor recursion depth mismatch", which once cost an honest student a task):
    the grader parses every submission before its pool of child-process threads starts."""
    import ast
    import threading

    parse, threads = ast.parse, set()

    def spy(*args, **kwargs):
        threads.add(threading.current_thread().name)
        return parse(*args, **kwargs)

    monkeypatch.setattr(ast, "parse", spy)
    a = submission(tmp_path, "a", [("4.2", SNIPPETS / "honest" / "task_4_2.py")])
    b = submission(tmp_path, "b")
    students, _ = grade([a, b], ["4.1", "4.2"])
    assert threads == {threading.current_thread().name}
    assert students["a"]["score"] == students["b"]["score"] == 20 and not students["a"]["error"]
