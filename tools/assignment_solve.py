"""Replay written solutions into a student copy (``make_assignment.py solve``, the CI step).

A solution file ``task_N_M.py`` (default folder: tools/assignment_solutions/) defines functions with
the names of task N.M's functions; the body of each (after its docstring) replaces the two stub
lines of that function in the copy, at the stub's indentation. Nothing else in the copy changes,
so the copy's tests then grade exactly what a student with that code would hand in.
"""
import ast
import textwrap
from pathlib import Path

from assignment_source import REPO, find_tasks

SOLUTIONS = Path(__file__).resolve().parent / "assignment_solutions"


def _bodies(path):
    """``{function name: body source (dedented, docstring left out)}`` of a solution file."""
    source = Path(path).read_text(encoding="utf-8")
    lines = source.splitlines(keepends=True)
    bodies = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            bodies[node.name] = textwrap.dedent("".join(lines[body[0].lineno - 1:node.end_lineno]))
    return bodies


def _replace_stub(text, function, task, body):
    """``text`` with the stub of ``task`` inside ``function`` replaced by ``body``."""
    lines = text.splitlines(keepends=True)
    func = next(n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef) and n.name == function)
    stub = f"raise NotImplementedError(\"Task {task.id}: {task.title}\")"
    at = next((i for i in range(func.lineno - 1, func.end_lineno) if lines[i].strip() == stub), None)
    if at is None:
        raise ValueError(f"{function} has no stub of task {task.id} (is the task stubbed in this copy?)")
    indent = lines[at][:len(lines[at]) - len(lines[at].lstrip())]
    start = at - 1 if lines[at - 1].strip().startswith(f"# Task {task.id}:") else at
    return "".join(lines[:start] + [textwrap.indent(body, indent)] + lines[at + 1:])


def apply_solutions(copy_dir, task_ids, solutions=None):
    """Put the solutions of ``task_ids`` into the student copy ``copy_dir``; returns the files changed."""
    copy_dir, solutions = Path(copy_dir), Path(solutions or SOLUTIONS)
    tasks = find_tasks(REPO)  # the copy has no markers left: the teacher's source names the functions
    changed = []
    for task_id in task_ids:
        if task_id not in tasks:
            raise ValueError(f"unknown task {task_id}; known: {list(tasks)}")
        task = tasks[task_id]
        path = solutions / f"{task.marker}.py"
        if not path.is_file():
            raise ValueError(f"no solution of task {task_id} ({path} is missing)")
        bodies = _bodies(path)
        wanted = {r.function: r.path for r in task.regions}
        extra = set(bodies) - set(wanted)
        if extra or set(wanted) - set(bodies):
            raise ValueError(f"{path.name} must define exactly {sorted(wanted)}, has {sorted(bodies)}")
        for name, rel in wanted.items():
            target = copy_dir / rel
            text = _replace_stub(target.read_text(encoding="utf-8"), name, task, bodies[name])
            compile(text, str(target), "exec")
            target.write_text(text, encoding="utf-8")
            changed.append(rel)
    return changed
