"""Task regions in the package source, stubbing them, and writing the student copy.

Used by ``make_assignment.py`` (see its docstring for the marker syntax and the commands).

Besides the ``TASK`` regions (the solution, replaced by a stub) the source has ``STUDENT-FAST``
regions around the fast twin of a task function::

    def nms(boxes, scores, threshold, mode="union"):
        \"\"\"...\"\"\"
        # >>> STUDENT-FAST 4.1: return nms_naive(boxes, scores, threshold, mode)
        ...the Numba path...
        # <<< STUDENT-FAST 4.1

In a copy where task 4.1 is stubbed the region becomes the one statement after the colon, so the
package's fast path runs the student's readable function (slower; never a hidden solution), and a
"solution" that calls the fast twin recurses instead of passing. Where task 4.1 is not stubbed the
fast code stays.
"""
import ast
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "tinymtcnn"
COPIED_FILES = ("setup.py", "pytest.ini", "LICENSE")
COPIED_DIRS = (PACKAGE, "tests", "notebooks")
SKIPPED_NAMES = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints", "runs"}
SKIPPED_SUFFIXES = (".pyc", ".pyo", ".nbi", ".nbc")
# the teacher's versions of notebooks and handouts (answers) never reach the copy
TEACHER_ONLY = re.compile(r"(answer|solution|teacher)", re.IGNORECASE)
START = re.compile(r"^(?P<indent>[ \t]*)# >>> TASK (?P<id>\d+\.\d+): (?P<title>\S.*?)\s*$")
END = re.compile(r"^(?P<indent>[ \t]*)# <<< TASK (?P<id>\d+\.\d+)\s*$")
FAST_START = re.compile(r"^(?P<indent>[ \t]*)# >>> STUDENT-FAST (?P<id>\d+\.\d+): (?P<code>\S.*?)\s*$")
FAST_END = re.compile(r"^(?P<indent>[ \t]*)# <<< STUDENT-FAST (?P<id>\d+\.\d+)\s*$")


# --------------------------------------------------------------------------- tasks in the source
@dataclass
class Region:
    path: str  # relative to the repository, POSIX
    function: str
    start: int  # 1-based line of the ">>>" marker
    end: int  # 1-based line of the "<<<" marker
    indent: str


@dataclass
class Task:
    id: str
    title: str
    regions: list = field(default_factory=list)
    fast: list = field(default_factory=list)  # STUDENT-FAST regions: [(Region, statement of the copy)]

    @property
    def marker(self):
        return "task_" + self.id.replace(".", "_")

    @property
    def stub(self):
        return f'raise NotImplementedError("Task {self.id}: {self.title}")'

    @property
    def functions(self):
        return [f"{r.path}::{r.function}" for r in self.regions]


def _sort_key(task_id):
    return tuple(int(p) for p in task_id.split("."))


def _enclosing_function(tree, start, end):
    """Innermost def containing lines start..end, or None."""
    best = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.lineno < start \
                and node.end_lineno >= end and (best is None or node.lineno > best.lineno):
            best = node
    return best


def _check_region(tree, lines, rel, region):
    code = [n for n in range(region.start + 1, region.end)
            if lines[n - 1].strip() and not lines[n - 1].lstrip().startswith("#")]
    where = f"{rel}:{region.start}"
    if not code:
        raise ValueError(f"{where}: TASK region without code")
    func = _enclosing_function(tree, region.start, code[-1])
    if func is None or len(region.indent) <= func.col_offset:
        raise ValueError(f"{where}: a task region must lie inside a function body")
    if any("jit" in ast.unparse(d) for d in func.decorator_list):
        raise ValueError(f"{where}: {func.name} is Numba-compiled; mark its readable twin instead")
    first = func.body[0]
    if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant) \
            and isinstance(first.value.value, str) and region.start <= first.end_lineno:
        raise ValueError(f"{where}: the region must start after the docstring of {func.name}")
    region.function = func.name


def find_tasks_in_file(path, rel):
    """``[(task_id, title, Region)]`` of one source file; raises ValueError on malformed markers."""
    text = Path(path).read_text(encoding="utf-8")
    if "# >>> TASK" not in text and "# <<< TASK" not in text:
        return []
    found, open_ = [], None
    for n, line in enumerate(text.splitlines(), 1):
        s, e = START.match(line), END.match(line)
        if s:
            if open_ is not None:
                raise ValueError(f"{rel}:{n}: TASK {s['id']} starts inside TASK {open_[0]} (line {open_[2]})")
            if '"' in s["title"] or "\\" in s["title"]:
                raise ValueError(f"{rel}:{n}: a task title may not contain quotes or backslashes")
            open_ = (s["id"], s["title"], n, s["indent"])
        elif e:
            if open_ is None or open_[0] != e["id"] or open_[3] != e["indent"]:
                raise ValueError(f"{rel}:{n}: '<<< TASK {e['id']}' does not close an open region at its indent")
            found.append((open_[0], open_[1], Region(rel, "", open_[2], n, open_[3])))
            open_ = None
        elif "# >>> TASK" in line or "# <<< TASK" in line:
            raise ValueError(f"{rel}:{n}: malformed task marker {line.strip()!r}")
    if open_ is not None:
        raise ValueError(f"{rel}:{open_[2]}: TASK {open_[0]} is never closed")
    tree = ast.parse(text, filename=str(path))
    for _, _, region in found:
        _check_region(tree, text.splitlines(), rel, region)
    return found


def find_fast_regions(path, rel):
    """``[(task_id, statement, Region)]``: the STUDENT-FAST regions of one file; ValueError when malformed."""
    text = Path(path).read_text(encoding="utf-8")
    if "STUDENT-FAST" not in text:
        return []
    found, open_ = [], None
    for n, line in enumerate(text.splitlines(), 1):
        s, e = FAST_START.match(line), FAST_END.match(line)
        if s:
            if open_ is not None:
                raise ValueError(f"{rel}:{n}: STUDENT-FAST {s['id']} starts inside another one (line {open_[2]})")
            try:
                compile("def _student_fast():\n    " + s["code"], rel, "exec")
            except SyntaxError as exc:
                raise ValueError(f"{rel}:{n}: the STUDENT-FAST statement does not compile: {exc.msg}") from None
            open_ = (s["id"], s["code"], n, s["indent"])
        elif e:
            if open_ is None or open_[0] != e["id"] or open_[3] != e["indent"]:
                raise ValueError(f"{rel}:{n}: '<<< STUDENT-FAST {e['id']}' does not close an open region at its indent")
            found.append((open_[0], open_[1], Region(rel, "", open_[2], n, open_[3])))
            open_ = None
        elif line.lstrip().startswith(("# >>> STUDENT-FAST", "# <<< STUDENT-FAST")):
            raise ValueError(f"{rel}:{n}: malformed STUDENT-FAST marker {line.strip()!r}")
    if open_ is not None:
        raise ValueError(f"{rel}:{open_[2]}: STUDENT-FAST {open_[0]} is never closed")
    tree = ast.parse(text, filename=str(path))
    for _, _, region in found:
        _check_region(tree, text.splitlines(), rel, region)
    return found


def find_tasks(repo=REPO):
    """All tasks of the package under ``repo``, sorted by id: ``{id: Task}``."""
    repo = Path(repo)
    tasks = {}
    for path in sorted((repo / PACKAGE).rglob("*.py")):
        rel = path.relative_to(repo).as_posix()
        for task_id, title, region in find_tasks_in_file(path, rel):
            task = tasks.setdefault(task_id, Task(task_id, title))
            if task.title != title:
                raise ValueError(f"TASK {task_id} has two titles: {task.title!r} and {title!r}")
            task.regions.append(region)
    for path in sorted((repo / PACKAGE).rglob("*.py")):
        rel = path.relative_to(repo).as_posix()
        for task_id, code, region in find_fast_regions(path, rel):
            if task_id not in tasks:
                raise ValueError(f"{rel}:{region.start}: STUDENT-FAST {task_id} names a task that does not exist")
            tasks[task_id].fast.append((region, code))
    return {k: tasks[k] for k in sorted(tasks, key=_sort_key)}


def stub_source(text, tasks, selected):
    """Source with the regions of ``selected`` task ids replaced by their stubs and their STUDENT-FAST
    regions by the copy's statement (a call of the student's function); other markers removed."""
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        s, e = START.match(line), END.match(line)
        fs, fe = FAST_START.match(line), FAST_END.match(line)
        if s:
            task = tasks[s["id"]]
            if s["id"] in selected:
                skipping = True
                out.append(f"{s['indent']}# Task {task.id}: {task.title}. Your code here; "
                           f"`python -m pytest -m {task.marker}` checks it.\n")
                out.append(f"{s['indent']}{task.stub}\n")
        elif fs:
            if fs["id"] in selected:
                skipping = True
                out.append(f"{fs['indent']}# In this copy the fast path runs your task {fs['id']} code:\n")
                out.append(f"{fs['indent']}{fs['code']}\n")
        elif e or fe:
            skipping = False
        elif not skipping:
            out.append(line)
    return "".join(out)


# --------------------------------------------------------------------------- the student copy
def _ignore(directory, names):
    return [n for n in names if n in SKIPPED_NAMES or n.endswith(SKIPPED_SUFFIXES) or n.endswith(".egg-info")
            or TEACHER_ONLY.search(n)]


def teacher_only_tests(tests_dir):
    """Test files that do not stand alone in the copy: they reach into tools/, docs/ or benchmarks/
    (``"tools"``, ``"docs"`` or ``"benchmarks"`` as a path part, as tests/test_tools_split.py,
    tests/test_docs_offline.py and tests/test_bench_flops.py do)."""
    return sorted(p.name for p in Path(tests_dir).glob("*.py")
                  if re.search(r"""["'](tools|docs|benchmarks)["']""", p.read_text(encoding="utf-8")))


def copy_repository(out, repo=REPO, overwrite=False):
    """Copy what stands alone to ``out`` (markers still in): the package, the tests that do not need
    tools/, the notebooks (not the teacher's versions), setup.py, pytest.ini and the licence."""
    repo, out = Path(repo), Path(out)
    sources = [repo.resolve() / d for d in COPIED_DIRS]
    if out.resolve() in [repo.resolve(), *repo.resolve().parents] or \
            any(out.resolve() == s or s in out.resolve().parents for s in sources):
        raise ValueError(f"{out} would overwrite the repository itself")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise ValueError(f"{out} exists and is not empty (use --force to replace it)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    skipped_tests = set(teacher_only_tests(repo / "tests"))
    for d in COPIED_DIRS:
        if not (repo / d).is_dir():
            continue
        top = (repo / d).resolve()
        leave = {"tests": lambda n: n in skipped_tests, "notebooks": lambda n: re.match(r"\d.*\.(py|ipynb)$", n)}
        skip = leave.get(d, lambda n: False)
        shutil.copytree(repo / d, out / d, ignore=lambda folder, names, top=top, skip=skip: _ignore(folder, names) + [
            n for n in names if Path(folder).resolve() == top and skip(n)])
    if (repo / "notebooks").is_dir():  # the student's version: no answers, no outputs (notebook_versions.py)
        from notebook_versions import write_version  # noqa: E402 (beside this file)

        write_version(out / "notebooks", "student", source=repo / "notebooks")
    for f in COPIED_FILES:
        if (repo / f).is_file():
            shutil.copy2(repo / f, out / f)


def _check_selection(tasks, selected):
    selected = list(tasks) if selected is None else [str(t) for t in selected]
    unknown = [t for t in selected if t not in tasks]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; known: {list(tasks)}")
    return selected


def task_files(tasks):
    """Package files (relative POSIX paths) holding TASK or STUDENT-FAST regions."""
    return sorted({r.path for t in tasks.values() for r in t.regions + [f[0] for f in t.fast]})


def make_student_copy(out, repo=REPO, selected=None, overwrite=False, handouts=True):
    """Write the student copy to ``out``; returns the ``{id: Task}`` that were stubbed.

    The files are copied first and stubbed in the copy, so the copy is one consistent snapshot even
    while the repository is being edited. Then the copy gets its own README.md, one handout per
    stubbed task (handouts/) and the guard in tests/conftest.py (assignment_handouts.py); test
    counts in them come from collecting the copy's tests (``handouts=False``: no README/handouts).
    """
    _check_selection(find_tasks(repo), selected)
    copy_repository(out, repo, overwrite)
    out = Path(out)
    tasks = find_tasks(out)
    selected = set(_check_selection(tasks, selected))
    for rel in task_files(tasks):
        text = stub_source((out / rel).read_text(encoding="utf-8"), tasks, selected)
        compile(text, rel, "exec")  # a broken stub must never reach students
        (out / rel).write_text(text, encoding="utf-8")
    stubbed = {t: tasks[t] for t in tasks if t in selected}
    from assignment_handouts import write_student_files  # noqa: E402 (it imports this module)

    write_student_files(out, stubbed, tasks, with_docs=handouts)
    return stubbed
