"""Check cells for the "Your turn" exercises of the notebooks.

Each exercise of ``notebooks/`` ends with a check cell that calls one of

* ``check_prediction(exercise, prediction, actual, explanation)`` — predict-then-run: the reader
  wrote ``my_prediction = ...``; ``actual`` is the value the code gives (or a function that runs
  the code, so that a missing assignment task is reported instead of raised);
* ``check_function(exercise, candidate, reference, cases)`` — a small function to write, run on
  a few seeded inputs and compared with the package's function;
* ``check_parameter(exercise, value, condition, explanation)`` — a parameter to change:
  ``condition(value)`` returns ``(ok, what happened)``.

Each returns a :class:`Verdict`, shown by Jupyter as the cell's result: ``Your turn N: right.``,
``wrong.`` (both with the explanation), ``not answered yet.`` (the placeholder ``None`` or ``...``
is still there, or the function raises ``NotImplementedError`` or returns ``None``) or ``cannot
check yet.`` (the package code the check runs is an unfinished assignment task, or it raised). A
check never raises, except in the teacher's version of a notebook, which calls
:func:`expect_answers` so that a check that is not ``right`` stops the notebook (CI runs the
notebooks with their answers filled in).
"""
import copy
from dataclasses import dataclass

import numpy as np

RIGHT, WRONG, BLANK, UNAVAILABLE = "right", "wrong", "not answered yet", "cannot check yet"
_expect_answers = False


@dataclass(frozen=True)
class Verdict:
    """The result of a check: ``status`` (one of the four above) and the ``message`` shown."""

    exercise: str
    status: str
    message: str

    def __bool__(self):
        return self.status == RIGHT

    def __repr__(self):
        return self.message


def expect_answers(on=True):
    """Teacher's version: every later check that is not ``right`` raises AssertionError."""
    global _expect_answers
    _expect_answers = bool(on)


def is_blank(value):
    """True for the placeholders of an unanswered exercise: ``None`` and ``...``."""
    return value is None or value is Ellipsis


def _verdict(exercise, status, text, explanation=""):
    message = f"Your turn {exercise}: {status}. {text}".rstrip()
    if explanation and status in (RIGHT, WRONG):
        message += f"\nWhy: {explanation}"
    verdict = Verdict(str(exercise), status, message)
    if _expect_answers and status != RIGHT:
        raise AssertionError(message)
    return verdict


def _unavailable(exercise, err):
    if isinstance(err, NotImplementedError):
        return _verdict(exercise, UNAVAILABLE, f"the code it runs is not written yet ({err}); finish that task first.")
    return _verdict(exercise, UNAVAILABLE, f"the package code it runs raised {type(err).__name__}: {err} "
                                           "(in a student copy: is one of your tasks wrong? its tests will say).")


def _show(value):
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=4, threshold=12)
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (tuple, list)):
        inner = ", ".join(_show(v) for v in value)
        return f"({inner},)" if isinstance(value, tuple) and len(value) == 1 else \
            (f"({inner})" if isinstance(value, tuple) else f"[{inner}]")
    return repr(value)


def compare(expected, got, *, atol=0.0, rtol=0.0, name="the result", names=None):
    """``None`` when ``got`` equals ``expected``, else a sentence saying where they differ.

    Numbers and arrays agree within ``atol + rtol * |expected|``; strings ignore case and outer
    spaces; tuples and lists of arrays are compared element by element, each called ``names[k]``
    (default ``name[k]``).
    """
    if isinstance(expected, str) or isinstance(got, str):
        if str(got).strip().lower() == str(expected).strip().lower():
            return None
        return f"{name}: expected {expected!r}, got {got!r}"
    if isinstance(expected, (bool, np.bool_)):
        same = isinstance(got, (bool, np.bool_)) and bool(got) == bool(expected)
        return None if same else f"{name}: expected {bool(expected)}, got {got!r}"
    if isinstance(expected, tuple) and isinstance(got, (tuple, list)) and not _numeric_sequence(expected):
        if len(got) != len(expected):
            return f"{name}: expected {len(expected)} outputs, got {len(got)}"
        for k, (e, g) in enumerate(zip(expected, got)):
            part = f"your {names[k]}" if names and k < len(names) else f"{name}[{k}]"
            problem = compare(e, g, atol=atol, rtol=rtol, name=part)
            if problem:
                return problem
        return None
    try:
        e = np.asarray(expected, dtype=np.float64)
        g = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return f"{name}: expected {_show(expected)}, got {got!r} (not a number or an array of numbers)"
    if g.shape != e.shape:
        return f"{name}: expected shape {e.shape}, got shape {g.shape}"
    bad = ~np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
    if not bad.any():
        return None
    if e.ndim == 0:
        return f"{name}: expected {_show(e[()])}, got {_show(g[()])}"
    error = np.where(bad, np.abs(np.nan_to_num(g - e, nan=np.inf)), 0.0)
    where = tuple(int(i) for i in np.unravel_index(int(np.argmax(error)), e.shape))
    return (f"{name}: {int(bad.sum())} of {e.size} values differ; the largest error is at index "
            f"{where if len(where) > 1 else where[0]}: expected {_show(e[where])}, got {_show(g[where])}")


def _numeric_sequence(value):
    return all(isinstance(v, (int, float, np.integer, np.floating)) for v in value)


def check_prediction(exercise, prediction, actual, explanation="", *, tolerance=0.0, choices=None):
    """Compare a prediction with what the code gives.

    Parameters
    ----------
    exercise : str, the number of the exercise in its notebook ("1", "2", ...)
    prediction : the reader's answer; ``None`` or ``...`` means not answered yet
    actual : the true value, or a function of no arguments that computes it
    explanation : str, shown after the verdict
    tolerance : float, absolute tolerance for numbers
    choices : optional list of the allowed answers (e.g. ``["more", "fewer", "same"]``)
    """
    if is_blank(prediction):
        return _verdict(exercise, BLANK, "Replace the placeholder (None) with your prediction and run both cells.")
    if choices is not None and str(prediction).strip().lower() not in [str(c).lower() for c in choices]:
        return _verdict(exercise, WRONG, f"{prediction!r} is not one of the answers {list(choices)}.")
    try:
        truth = actual() if callable(actual) else actual
    except Exception as err:  # NotImplementedError: an unfinished task of the student copy
        return _unavailable(exercise, err)
    problem = compare(truth, prediction, atol=tolerance, name="your prediction")
    if problem is None:
        return _verdict(exercise, RIGHT, f"Running it gives {_show(truth)}.", explanation)
    return _verdict(exercise, WRONG, f"You predicted {_show(prediction)}; running it gives {_show(truth)}.",
                    explanation)


def seeded(make_inputs, seeds=(0, 1, 2)):
    """Test cases ``[(label, args)]``: ``args = make_inputs(np.random.default_rng(seed))`` for each seed."""
    name = getattr(make_inputs, "__name__", "make_inputs")
    return [(f"{name}(np.random.default_rng({seed}))", make_inputs(np.random.default_rng(seed))) for seed in seeds]


def check_function(exercise, candidate, reference, cases, *, names=None, atol=1e-8, rtol=1e-6, explanation=""):
    """Run ``candidate(*args)`` and ``reference(*args)`` on every case and compare the outputs.

    Parameters
    ----------
    exercise : str
    candidate : the reader's function (``None``: not answered yet)
    reference : the package's function (or a small wrapper around it)
    cases : list of ``(label, args)``; ``label`` says how to rebuild ``args`` (see :func:`seeded`)
    names : optional names of the outputs when the function returns a tuple (e.g. ``("dx", "dw", "db")``)
    atol, rtol : tolerances of the comparison (:func:`compare`)
    explanation : str, shown after the verdict
    """
    if is_blank(candidate):
        return _verdict(exercise, BLANK, "Write the function above and run both cells.")
    for label, args in cases:
        try:
            expected = reference(*copy.deepcopy(args))
        except Exception as err:  # NotImplementedError: an unfinished task of the student copy
            return _unavailable(exercise, err)
        try:
            got = candidate(*copy.deepcopy(args))
        except NotImplementedError:
            return _verdict(exercise, BLANK, "Your function still raises NotImplementedError: write its body.")
        except Exception as err:  # the reader's code: report every failure, never crash the check
            return _verdict(exercise, WRONG, f"On the inputs args = {label} your function raised "
                                             f"{type(err).__name__}: {err}")
        if got is None:
            return _verdict(exercise, BLANK, "Your function returns None: write its body (and return the result).")
        problem = compare(expected, got, atol=atol, rtol=rtol, name="your output", names=names)
        if problem:
            return _verdict(exercise, WRONG, f"On the inputs args = {label}: {problem}.", explanation)
    return _verdict(exercise, RIGHT, f"Your function agrees with the package on all {len(cases)} inputs.",
                    explanation)


def check_parameter(exercise, value, condition, explanation=""):
    """Check a parameter the reader chose: ``condition(value)`` returns ``(ok, what happened)``."""
    if is_blank(value):
        return _verdict(exercise, BLANK, "Replace the placeholder (None) with your value and run both cells.")
    try:
        ok, happened = condition(value)
    except NotImplementedError as err:
        return _unavailable(exercise, err)
    except Exception as err:  # e.g. a ValueError from the package for a value it does not accept
        return _verdict(exercise, WRONG, f"With {_show(value)} the code raised {type(err).__name__}: {err}")
    return _verdict(exercise, RIGHT if ok else WRONG, f"With {_show(value)}: {happened}.", explanation)
