"""What the student reads in the copy: README.md, one handout per task, the test guard.

Used by ``assignment_source.make_student_copy``. Every test count in these files comes from
collecting the copy's own tests (:func:`collect`), never from a typed number. The texts are
templates in ``tools/assignment_templates/`` (``{name}`` fields filled here):

* ``README.md``: setup and test commands, the table of tasks;
* ``handout.md``: one task (what, where, shapes and formulas from the module docstring, hints, the
  command that checks it alone, its tests);
* ``hints.md``: the hints of every task, one ``## N.M`` section each;
* ``conftest_guard.py``: appended to the copy's tests/conftest.py; the run stops with an error
  naming the path when ``tinymtcnn`` is imported from anywhere but the copy.
"""
import ast
import re
from pathlib import Path

from assignment_pytest import run_pytest

TEMPLATES = Path(__file__).resolve().parent / "assignment_templates"
GITIGNORE = "__pycache__/\n*.egg-info/\n.pytest_cache/\n*.nbi\n*.nbc\nnotebooks/runs/\n"


def collect(folder, python=None):
    """``{node id: {"tasks": [...], "pipeline": bool}}`` of the tests in ``folder`` (collect-only run)."""
    report, proc = run_pytest(folder, extra=["--collect-only"], python=python)
    if report["collect_errors"] or report.get("import_error"):
        raise RuntimeError(f"the tests in {folder} do not collect:\n" + "\n".join(
            report["collect_errors"] + [report.get("import_error") or ""]) + proc.stdout[-2000:])
    return {n: {"tasks": r["tasks"], "pipeline": r.get("pipeline", False)} for n, r in report["tests"].items()}


def tests_of(task_id, markers):
    """Node ids of the tests that grade ``task_id`` (they carry its marker)."""
    return [n for n, r in markers.items() if task_id in r["tasks"]]


def _hints():
    text = (TEMPLATES / "hints.md").read_text(encoding="utf-8")
    parts = re.split(r"^## (\d+\.\d+)\s*$", text, flags=re.M)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts), 2)}


def _function_text(path, name):
    """The function ``name`` as it is in the copy (stub, kept checks and return line), and the module docstring."""
    source = Path(path).read_text(encoding="utf-8")
    tree = ast.parse(source)
    func = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    first = min([func.lineno] + [d.lineno for d in func.decorator_list])
    text = "".join(source.splitlines(keepends=True)[first - 1:func.end_lineno])
    return text.rstrip("\n"), ast.get_docstring(tree) or ""


def handout_text(out, task, markers):
    """The handout of one task in the copy ``out``."""
    where, modules = [], {}
    for r in task.regions:
        code, module_doc = _function_text(Path(out) / r.path, r.function)
        where.append(f"```python\n# {r.path}\n{code}\n```")
        modules.setdefault(r.path, module_doc)
    fast = sorted({f"`{region.path}::{region.function}`" for region, _ in task.fast})
    fast_text = (f"In this copy {', '.join(fast)} (the package's fast version{'s' if len(fast) > 1 else ''}) "
                 f"call{'s' if len(fast) == 1 else ''} your code, so the detector, the trainer and the "
                 f"notebooks run on it (more slowly). Calling {'them' if len(fast) > 1 else 'it'} from your "
                 f"function only recurses." if fast else "")
    tests = tests_of(task.id, markers)
    return (TEMPLATES / "handout.md").read_text(encoding="utf-8").format(
        id=task.id, title=task.title, marker=task.marker, n_tests=len(tests),
        functions=", ".join(f"`{f}`" for f in task.functions),
        where="\n\n".join(where),
        formulas="\n\n".join(f"From `{path}`:\n\n```text\n{doc}\n```" for path, doc in modules.items()),
        hints=_hints().get(task.id, "(none)"), fast=fast_text,
        tests="\n".join(f"* `{n}`" for n in tests))


def task_table(tasks, markers, handouts=True):
    """Markdown table: task, where, the command that checks it alone, how many tests."""
    rows = ["| task | what | where | check it alone | tests |", "|---|---|---|---|---|"]
    for t in tasks.values():
        name = f"[{t.id}](handouts/{t.marker}.md)" if handouts else t.id
        rows.append(f"| {name} | {t.title} | {'<br>'.join(f'`{f}`' for f in t.functions)} | "
                    f"`python -m pytest -m {t.marker}` | {len(tests_of(t.id, markers))} |")
    return "\n".join(rows)


def readme_text(stubbed, markers):
    counted = [r for r in markers.values()]
    return (TEMPLATES / "README.md").read_text(encoding="utf-8").format(
        table=task_table(stubbed, markers), n_tasks=len(stubbed), n_tests=len(counted),
        n_pipeline=sum(r["pipeline"] for r in counted),
        n_task_tests=sum(bool(set(r["tasks"]) & set(stubbed)) for r in counted))


def _set_pythonpath(ini):
    """The copy's pytest.ini puts the copy first on ``sys.path``: bare ``pytest`` = ``python -m pytest``."""
    text = ini.read_text(encoding="utf-8")
    if not re.search(r"^pythonpath\s*=", text, flags=re.M):
        text = re.sub(r"^\[pytest\]\s*$", "[pytest]\npythonpath = .", text, count=1, flags=re.M)
    ini.write_text(text, encoding="utf-8")


def write_student_files(out, stubbed, tasks, with_docs=True):
    """The copy's pytest.ini setting, test guard, .gitignore and (``with_docs``) README and handouts."""
    out = Path(out)
    _set_pythonpath(out / "pytest.ini")
    conftest = out / "tests" / "conftest.py"
    conftest.write_text(conftest.read_text(encoding="utf-8").rstrip("\n") + "\n\n\n"
                        + (TEMPLATES / "conftest_guard.py").read_text(encoding="utf-8"), encoding="utf-8")
    (out / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
    if not with_docs:
        (out / "README.md").write_text("# tinymtcnn assignment\n", encoding="utf-8")  # setup.py reads it
        return
    (out / "README.md").write_text("# tinymtcnn assignment\n", encoding="utf-8")
    markers = collect(out)
    (out / "README.md").write_text(readme_text(stubbed, markers), encoding="utf-8")
    (out / "handouts").mkdir(exist_ok=True)
    for t in stubbed.values():
        (out / "handouts" / f"{t.marker}.md").write_text(handout_text(out, t, markers), encoding="utf-8")


def markdown_table(tasks, markers):
    """The teacher's table (``make_assignment.py list --markdown``, included in docs/teachers_guide.md)."""
    rows = ["| task | marker | the student writes | tests | in the copy, these call it |", "|---|---|---|---|---|"]
    for t in tasks.values():
        fast = sorted({f"`{r.path.split('/', 1)[1]}::{r.function}`" for r, _ in t.fast})
        written = ", ".join(f"`{f.split('/', 1)[1]}`" for f in t.functions)
        rows.append(f"| {t.id} {t.title} | `{t.marker}` | {written}"
                    f" | {len(tests_of(t.id, markers))} | {', '.join(fast) or '–'} |")
    return "\n".join(rows)
