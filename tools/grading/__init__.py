"""Per-task checkers of the grader (``tools/assignment_grade.py``): cases drawn from a seed, references
computed with the teacher's package, comparisons with messages a student can act on.

``checkers()`` returns ``{task id: TaskChecker}``; ``child.py`` is the program the grader starts for
each task (it is never imported here)."""
from .cases import Case, TaskChecker, TaskCases, Wrong, check_array, check_value, item  # noqa: F401
from .tasks import checkers  # noqa: F401
