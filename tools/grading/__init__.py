"""Per-task checkers of the grader (``tools/assignment_grade.py``): cases drawn from a seed, references
computed with the teacher's package, comparisons with messages a student can act on.

``checkers()`` returns ``{task id: TaskChecker}``; ``child.py`` is the program the grader starts for
each task (it is never imported here). The references are this repository's ``tinymtcnn``: its root
goes first on ``sys.path`` before anything here imports the package."""
import sys
from pathlib import Path

_REPO = str(Path(__file__).resolve().parents[2])
if "tinymtcnn" not in sys.modules and _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from .cases import Case, TaskChecker, TaskCases, Wrong, check_array, check_value, item  # noqa: E402,F401
from .tasks import checkers  # noqa: E402,F401
