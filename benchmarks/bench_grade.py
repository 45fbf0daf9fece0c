"""Grading time per student: ``make_assignment.py grade`` on a class of fake submissions.

Half the class hands in the teacher's package (every task solved: every case runs to the end), half
the student copy (every task stubbed: each case stops at the stub). Each submission is graded as
the teacher grades it: all tasks, one child process per task, ``--jobs`` at once. Prints the wall
time per student and the median child time per task, with the load average (timings depend on it).

    python benchmarks/bench_grade.py                 # 4 students, 2 jobs
    python benchmarks/bench_grade.py --students 10 --jobs 2
"""
import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load, print_table  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--students", type=int, default=4)
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args(argv)
    import assignment_grade
    from assignment_source import make_student_copy

    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        stub = Path(tmp) / "stub"
        make_student_copy(stub, handouts=False)
        for k in range(args.students):
            dst = Path(tmp) / "class" / f"student{k:02d}" / "tinymtcnn"
            shutil.copytree((stub if k % 2 else REPO) / "tinymtcnn", dst,
                            ignore=shutil.ignore_patterns("__pycache__", "*.npz", "*.png"))
        print(f"load before: {load()}")
        start = time.perf_counter()
        result = assignment_grade.grade_class([str(Path(tmp) / "class")], jobs=args.jobs, seed=1)
        wall = time.perf_counter() - start
    per_task = {}
    for s in result["students"]:
        for t in s["tasks"]:
            per_task.setdefault(t["task"], []).append(t["seconds"])
    print_table(["task", "median child s"], [[t, f"{statistics.median(v):.2f}"] for t, v in per_task.items()])
    scores = [s["score"] for s in result["students"]]
    print(f"{len(scores)} students (scores {scores}), {args.jobs} jobs: {wall:.1f} s, "
          f"{wall / len(scores):.1f} s per student; load after: {load()}")


if __name__ == "__main__":
    main()
