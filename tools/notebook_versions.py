"""Teacher's and student's versions of the notebooks (the "Your turn" exercises).

The committed notebooks are the **teacher's version**: every exercise has its answer filled in,
between two marker lines in a code cell::

    my_levels = None  # your prediction (an int)
    # >>> SOLUTION
    my_levels = 8
    # <<< SOLUTION

The **student's version** is the same notebook with every marked region (markers included)
removed, so that the placeholder above it (``None``, ``...``, or a function with only its
docstring) is what the student starts from; with every output cleared (the outputs of the
teacher's run would show the answers); and with the source of every check cell folded (its
explanation would give the answer away: Jupyter shows the verdict, a click unfolds the code).
The first cell of each notebook calls ``exercises.expect_answers()`` inside such a region: in the
teacher's version a check that is not "right" stops the notebook (CI); in the student's version
the checks only show their verdict.

    python tools/notebook_versions.py student OUT_DIR   # stripped .py + .ipynb (no outputs)
    python tools/notebook_versions.py teacher OUT_DIR   # the notebooks as they are, answers in

Both copy ``notebooks/*.py``, ``notebooks/*.ipynb`` and ``jupytext.toml``; ``--source DIR`` reads
another notebooks folder. For the student copy: ``write_version(copy / "notebooks", "student")``.
"""
import argparse
import json
import re
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
START = re.compile(r"^[ \t]*# >>> SOLUTION[ \t]*$")
END = re.compile(r"^[ \t]*# <<< SOLUTION[ \t]*$")
COPIED = ("jupytext.toml", ".gitignore")
CHECK_CALL = "exercises.check_"


def solution_regions(lines):
    """``[(start, end)]`` 0-based line indexes of the marker lines; ValueError on unbalanced markers."""
    regions, start = [], None
    for n, line in enumerate(lines):
        if START.match(line):
            if start is not None:
                raise ValueError(f"line {n + 1}: SOLUTION starts inside the region of line {start + 1}")
            start = n
        elif END.match(line):
            if start is None:
                raise ValueError(f"line {n + 1}: '<<< SOLUTION' without a '>>> SOLUTION' above it")
            regions.append((start, n))
            start = None
        elif "SOLUTION" in line and re.search(r"# (>>>|<<<)", line):
            raise ValueError(f"line {n + 1}: malformed SOLUTION marker {line.strip()!r}")
    if start is not None:
        raise ValueError(f"line {start + 1}: SOLUTION region is never closed")
    return regions


def strip_solutions(text):
    """``text`` without its SOLUTION regions (marker lines included)."""
    lines = text.splitlines(keepends=True)
    drop = {n for start, end in solution_regions(lines) for n in range(start, end + 1)}
    return "".join(line for n, line in enumerate(lines) if n not in drop)


def student_notebook(notebook):
    """A copy of a notebook (the nbformat JSON as a dict) with answers stripped and outputs cleared."""
    notebook = json.loads(json.dumps(notebook))
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        cell["source"] = strip_solutions(source).splitlines(keepends=True)
        if cell["source"]:
            cell["source"][-1] = cell["source"][-1].rstrip("\n")
        cell["outputs"], cell["execution_count"] = [], None
        if CHECK_CALL in source:  # the explanation in a check's source gives the answer away: fold it
            cell.setdefault("metadata", {}).setdefault("jupyter", {})["source_hidden"] = True
    return notebook


def _check_output_dir(out, source):
    out, source = Path(out).resolve(), Path(source).resolve()
    if out == source or source in out.parents or out in source.parents:
        raise ValueError(f"{out} would overwrite or contain the source notebooks {source}")
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_version(out, version, source=NOTEBOOKS):
    """Write the ``"student"`` or ``"teacher"`` version of every notebook of ``source`` to ``out``."""
    from tinymtcnn.atomic import atomic_write_text

    if version not in ("student", "teacher"):
        raise ValueError(f"version must be 'student' or 'teacher', got {version!r}")
    source = Path(source)
    if not source.is_dir():
        raise ValueError(f"no notebooks folder at {source}")
    out = _check_output_dir(out, source)
    written = []
    for path in sorted(source.glob("[0-9]*.py")) + sorted(source.glob("[0-9]*.ipynb")):
        text = path.read_text(encoding="utf-8")
        if version == "student":
            if path.suffix == ".py":
                text = strip_solutions(text)
                compile(text, str(path), "exec")  # a broken student notebook must never reach students
            else:
                text = json.dumps(student_notebook(json.loads(text)), indent=1, ensure_ascii=False) + "\n"
        atomic_write_text(out / path.name, text)
        written.append(out / path.name)
    for name in COPIED:
        if (source / name).is_file():
            shutil.copy2(source / name, out / name)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("version", choices=("student", "teacher"))
    parser.add_argument("out", type=Path, help="folder to write the notebooks to")
    parser.add_argument("--source", type=Path, default=NOTEBOOKS, help="notebooks folder (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        written = write_version(args.out, args.version, args.source)
    except (ValueError, SyntaxError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{args.version} version: {len(written)} files in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
