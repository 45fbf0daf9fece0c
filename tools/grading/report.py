"""What ``make_assignment.py grade`` prints and writes: the per-student text, the class table, the
class CSV and Gradescope's ``results.json`` (https://gradescope-autograders.readthedocs.io/en/latest/specs/).
Every file is written atomically (:mod:`tinymtcnn.atomic`)."""
import csv
import io
import json
from pathlib import Path

from tinymtcnn.atomic import atomic_write_text

SHOWN_FAILURES = 3  # failing cases printed per task (the JSON outputs have all)


def _num(x):
    return f"{x:g}"


def task_output(t):
    """A task's feedback for a student: why 0, or each failing case with its message."""
    lines = [f"seed {t['seed']}"]
    if t["reason"]:
        lines.append(f"0 points: {t['reason']}")
    else:
        lines += [f"FAIL {c['name']}: {c['message']}" for c in t["cases"] if not c["passed"]]
        lines.append(f"{sum(c['passed'] for c in t['cases'])}/{len(t['cases'])} cases passed")
    return "\n".join(lines + t["notes"])


def student_text(s):
    """The per-student block of the text report."""
    if s["error"] and not s["tasks"]:
        return f"{s['student']}: NOT GRADED: {s['error']}"
    out = [f"{s['student']}: {_num(s['score'])}/{_num(s['max_score'])}" + (f"  (grader error: {s['error']})"
                                                                          if s["error"] else "")]
    width = max(len(t["title"]) for t in s["tasks"]) if s["tasks"] else 0
    for t in s["tasks"]:
        passed = sum(c["passed"] for c in t["cases"])
        out.append(f"  {t['task']:5} {t['title']:{width}}  {_num(t['score']):>5}/{_num(t['max_score']):<4} "
                   f"{passed}/{len(t['cases'])} cases")
        out += [f"        note: {n}" for n in t["notes"]]
        if t["reason"]:
            out.append(f"        0 points: {t['reason']}")
            continue
        failing = [c for c in t["cases"] if not c["passed"]]
        groups = {}
        for c in failing:
            groups.setdefault(c["problem"], []).append(c)
        for problem, cases in list(groups.items())[:SHOWN_FAILURES]:
            if len(cases) == 1:
                out.append(f"        FAIL {cases[0]['name']}: {cases[0]['message']}")
            else:
                every = "all " if len(cases) == len(t["cases"]) else ""
                out.append(f"        FAIL {every}{len(cases)} cases (first: {cases[0]['name']}): {problem}")
        if len(groups) > SHOWN_FAILURES:
            rest = sum(len(cases) for cases in list(groups.values())[SHOWN_FAILURES:])
            out.append(f"        ... and {rest} more failing case(s) (all in --json and --gradescope)")
    return "\n".join(out)


def class_table(result):
    """Students by rows, tasks by columns, the total last."""
    ids = [t["task"] for t in result["tasks"]]
    width = max([7] + [len(s["student"]) for s in result["students"]])
    rows = [f"{'student':{width}} " + " ".join(f"{t:>5}" for t in ids) + "   total"]
    for s in result["students"]:
        scores = {t["task"]: t["score"] for t in s["tasks"]}
        cells = " ".join(f"{_num(scores[t]) if t in scores else '-':>5}" for t in ids)
        rows.append(f"{s['student']:{width}} {cells}  {_num(s['score']):>6}/{_num(s['max_score'])}"
                    + ("  NOT GRADED" if s["error"] else ""))
    return "\n".join(rows)


def write_csv(result, path):
    """One row per student: id, total, max, one column per task, status (ok or the grader's error), seed."""
    ids = [t["task"] for t in result["tasks"]]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student", "score", "max_score"] + [f"task {t}" for t in ids] + ["status", "seed"])
    for s in result["students"]:
        scores = {t["task"]: t["score"] for t in s["tasks"]}
        w.writerow([s["student"], _num(s["score"]), _num(s["max_score"])]
                   + [_num(scores[t]) if t in scores else "" for t in ids]
                   + [f"error: {s['error']}" if s["error"] else "ok", result["seed"]])
    atomic_write_text(path, buf.getvalue())


def gradescope(student, seed):
    """Gradescope's results.json for one student: one test per task."""
    tests = [{"name": f"{t['task']} {t['title']}", "number": t["task"], "score": t["score"],
              "max_score": t["max_score"], "status": "passed" if t["score"] == t["max_score"] else "failed",
              "output": task_output(t), "visibility": "visible"} for t in student["tasks"]]
    out = {"score": student["score"], "tests": tests, "visibility": "visible",
           "output": f"Graded with seed {seed}; each task runs on inputs drawn from it."}
    if student["error"]:
        out["output"] += f"\nThe grader could not finish: {student['error']}"
    return out


def write_gradescope(result, folder):
    """``folder/results.json`` for one student, ``folder/<student>/results.json`` for several."""
    folder = Path(folder)
    many = len(result["students"]) > 1
    for s in result["students"]:
        target = folder / s["student"] if many else folder
        target.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target / "results.json", json.dumps(gradescope(s, result["seed"]), indent=1))
