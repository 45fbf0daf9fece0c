"""``make_assignment.py grade``: its options and what it prints and writes (engine: assignment_grade.py)."""
import json
import sys
import time
from pathlib import Path

from tinymtcnn.atomic import atomic_write_text

from .report import class_table, student_text, write_csv, write_gradescope

USAGE = """grade one submission (a folder with tinymtcnn/) or many (the folder name is the student id; a
folder of such folders also works). Exit status 0 when every submission was graded (whatever the
scores), 1 when something could not be graded, 2 for bad options."""


def add_grade_parser(sub, func):
    s = sub.add_parser("grade", help="grade submissions: points per task, class CSV, Gradescope JSON",
                       description=USAGE)
    s.add_argument("submissions", nargs="+", metavar="SUBMISSION")
    s.add_argument("--tasks", nargs="+", metavar="N.M", help="grade only these tasks (default: all)")
    s.add_argument("--points", metavar="FILE", help="points per task, TOML (default: tools/grading_points.toml)")
    s.add_argument("--timeout", type=float, default=60.0, metavar="S",
                   help="seconds per task and student; a task that runs longer scores 0 (default: %(default)g)")
    s.add_argument("--jobs", type=int, metavar="N", help="tasks graded at once (default: the number of CPUs)")
    s.add_argument("--seed", type=int, help="the seed of the inputs (default: a new one, printed; reuse it to "
                                            "reproduce a grading run)")
    s.add_argument("--csv", metavar="FILE", help="write the class table as CSV")
    s.add_argument("--gradescope", metavar="DIR", help="write Gradescope's results.json (DIR/results.json for "
                                                       "one submission, DIR/<student>/results.json for several)")
    s.add_argument("--json", metavar="FILE", help="write every result, with each case's message, as JSON")
    s.add_argument("--quiet", action="store_true", help="print only the class table")
    s.set_defaults(func=func)
    return s


def _writable_folder(folder):
    """Whether files can be created in ``folder`` (made if missing, as the outputs will be)."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def run_grade(args):
    from assignment_grade import grade_class

    if args.timeout <= 0 or (args.jobs is not None and args.jobs < 1):
        raise ValueError("--timeout must be > 0 and --jobs >= 1")
    for option, path in (("--csv", args.csv), ("--json", args.json), ("--gradescope", args.gradescope)):
        if not path:
            continue
        folder = Path(path) if option == "--gradescope" else Path(path).parent
        if not _writable_folder(folder):
            raise ValueError(f"{option} {path}: cannot write in {folder} (checked before grading)")
    start = time.perf_counter()

    def progress(student):
        if not args.quiet:
            print(student_text(student), flush=True)

    result = grade_class(args.submissions, args.tasks, args.points, args.timeout, args.jobs, args.seed, progress)
    n = len(result["students"])
    print(f"\nseed {result['seed']} (reproduce with --seed {result['seed']}); {n} submission(s) in "
          f"{time.perf_counter() - start:.1f} s")
    print(class_table(result))
    try:
        if args.csv:
            write_csv(result, args.csv)
        if args.gradescope:
            write_gradescope(result, args.gradescope)
        if args.json:
            atomic_write_text(args.json, json.dumps(result, indent=1))
    except OSError as exc:
        print(f"make_assignment.py: error: could not write the results: {exc}", file=sys.stderr)
        return 1
    failed = [s["student"] for s in result["students"] if s["error"]]
    if failed:
        print(f"NOT GRADED: {', '.join(failed)} (see above)", file=sys.stderr)
    return 1 if failed else 0
