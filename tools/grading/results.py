"""Reading a grading child's outputs and scoring a task (used by ``assignment_grade.py``).

The child's files are untrusted: JSON manifests and ``.npz`` arrays checked before they are loaded
(no pickles, no object arrays, headers that agree with their sizes); the score comes only from the
comparisons of :mod:`grading.cases` with the references computed in the grader."""
import json
import zipfile

import numpy as np

from .cases import Unsupported, Wrong

OUTPUT_BYTES = 1 << 30  # most a child's outputs of one case may hold


class GradingError(Exception):
    """Something the grader itself could not do (not a student's failure): exit status 1."""


def _decode(spec, arrays):
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind == "none":
        return None
    if kind in ("bool", "int", "float"):
        value = arrays[spec["array"]]
        return bool(value) if kind == "bool" else int(value) if kind == "int" else float(value)
    if kind == "array":
        return arrays[spec["array"]]
    if kind == "sequence":
        items = [_decode(s, arrays) for s in spec["items"]]
        return tuple(items) if spec.get("type") != "list" else items
    if kind == "dict":
        return {k: _decode(s, arrays) for k, s in spec["items"].items()}
    return Unsupported(str(spec.get("type", "value of unknown type")) if isinstance(spec, dict) else "malformed")


def load_outputs(path, limit=OUTPUT_BYTES):
    """The arrays of an ``.npz`` the child wrote, checked before anything is allocated: plain arrays
    (no pickles, no object dtype) whose headers agree with their stored sizes, ``limit`` bytes in all.
    A submission controls this file; a forged header must not make the grader allocate terabytes."""
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if sum(i.file_size for i in infos) > limit:
            raise ValueError("outputs larger than the limit")
        for info in infos:
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                    np.lib.format.read_array_header_2_0
                shape, _, dtype = read_header(f)
                if dtype.hasobject or int(np.prod(shape, dtype=np.float64)) * dtype.itemsize > info.file_size:
                    raise ValueError(f"malformed output array {info.filename}")
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _read_case(folder, k):
    """``(record, results)`` of case ``k`` written by the child, or ``(None, None)``: plain files only,
    arrays without pickles."""
    js, npz = folder / f"case_{k}.json", folder / f"case_{k}.npz"
    if not js.is_file() or js.is_symlink() or npz.is_symlink() or js.stat().st_size > 1 << 20:
        return None, None
    try:
        record = json.loads(js.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or ("result" not in record and "error" not in record):
            return None, None
        if "result" not in record:
            return record, None
        return record, _decode(record["result"], load_outputs(npz))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, MemoryError, zipfile.BadZipFile) as exc:
        return {"error": f"unreadable output ({type(exc).__name__})"}, None


def _case_problems(case, results):
    try:
        return [p for p in case.check(results) if p]
    except Wrong as exc:
        return [str(exc)]
    except Exception as exc:  # noqa: BLE001 - an output the checker did not foresee is wrong, not a crash
        return [f"output not as expected ({type(exc).__name__}: {exc})"]


def score_task(prepared, points, run, static, folder, seed, timeout):
    """One task's result dict: score, max_score, reason (why 0 before any case), cases (name, passed,
    message), notes (what the grader refused)."""
    task = prepared.task
    result = {"task": task.id, "title": task.title, "max_score": points, "score": 0.0, "reason": "",
              "cases": [], "notes": [], "seed": seed, "seconds": round(run["seconds"], 2)}
    if not any(e.get("ready") for e in run["events"]):
        raise GradingError(f"task {task.id}: the grading child did not start (exit status {run['returncode']}): "
                           f"{run['output'].strip()[-500:]}")
    twins = sorted({str(e["twin"]) for e in run["events"] if "twin" in e})
    denied = [f"{e['denied']}: {e.get('detail', '')}" for e in run["events"] if "denied" in e]
    result["notes"] = [f"the grader refused {d}" for d in dict.fromkeys(denied)][:5]
    imported = [e for e in run["events"] if "import_error" in e]
    if static or twins:
        result["reason"] = "; ".join([f"called {t}, the package's fast implementation of this computation "
                                      "(a task function must compute its result itself)" for t in twins] + static)
    elif imported:
        e = imported[0]
        result["reason"] = f"importing {prepared.checker.module} failed: {e['import_error']}" + \
            (f" at {e['where']}" if e.get("where") else "")
    elif run["timed_out"]:
        done = sum((folder / f"case_{k}.json").is_file() for k in range(len(prepared.cases.cases)))
        running = prepared.cases.cases[min(done, len(prepared.cases.cases) - 1)].name
        result["reason"] = f"timed out after {timeout:g} s (running case {running!r})"
    total = sum(c.points for c in prepared.cases.cases) or 1.0
    earned = 0.0
    for k, case in enumerate(prepared.cases.cases):
        record, results = (None, None) if result["reason"] else _read_case(folder, k)
        if result["reason"]:
            problems = [result["reason"]]
        elif record is None:
            problems = ["no result: the child process ended before writing it, or its output file was altered "
                        f"(exit status {run['returncode']})"]
        elif "error" in record:
            error = str(record["error"])
            hint = " (not implemented yet)" if error.startswith("NotImplementedError") else ""
            problems = [f"raised {error}{hint}" + (f" at {record['where']}" if record.get("where") else "")]
        else:
            problems = _case_problems(case, results)
        passed = not problems
        earned += case.points if passed else 0.0
        result["cases"].append({"name": case.name, "passed": passed, "points": case.points,
                                "problem": "; ".join(problems),
                                "message": "" if passed else f"{case.describe}: " + "; ".join(problems)})
    result["score"] = round(points * earned / total, 2)
    return result
