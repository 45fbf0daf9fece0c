"""The grading child: runs a student's task function on the grader's inputs, returns raw outputs.

Started by ``tools/assignment_grade.py`` as ``python -I -S -B child.py REQUEST`` with its working
folder in a fresh temporary folder; never imported by the grader. It trusts nothing it writes: the
parent reads the outputs as plain arrays (no pickles) and compares them with its own reference.

Order of events (the guards are in place before any student code runs):

1. numpy is imported from the grader's site folders (the submission is not on ``sys.path`` yet, so a
   ``numpy/`` folder in it cannot stand in for numpy), resource limits are set.
2. An import finder serves every ``tinymtcnn`` module from the submission's copy only and, as soon
   as a module has run, replaces the fast twins named in the request (the package's own fast
   implementation of the graded computation, and every Numba kernel) by traps; a final sweep replaces
   aliases of them in every loaded ``tinymtcnn`` module, in default arguments and in closures. A trap
   reports ``twin NAME`` on the event pipe and raises: a trapped name never returns the fast result.
   ``importlib.reload`` goes through the same finder, so it re-installs the traps.
3. An audit hook that cannot be removed (``sys.addaudithook``) refuses, from then on: starting
   processes, sockets, ``ctypes``, the garbage collector's object lists (the usual way to reach the
   originals behind a trap), reading files outside the submission, the Python installation and the
   numeric packages, writing, deleting or linking files outside this task's temporary folder,
   changing resource limits, and running code compiled from a file of the submission's package
   unless the finder of step 2 is loading it. Each refusal is reported on the event pipe
   (``denied EVENT``).
4. The task's module is imported; each case's calls run; each case's outputs go to ``case_K.npz``
   plus ``case_K.json`` (written after the npz, atomically), or the exception that ended the case.
   Then the process ends with ``os._exit(0)``: ``atexit`` hooks and threads of the submission never
   run after the outputs are written (nothing they could write would pass a case anyway).
"""
import json
import os
import sys


def _send(fd, record):
    try:
        os.write(fd, (json.dumps(record) + "\n").encode("utf-8"))
    except OSError:
        pass


def _under(path, roots):
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


DENIED_PREFIXES = ("subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.kill",
                   "os.killpg", "pty.", "socket.", "ctypes.", "gc.get_", "resource.setrlimit", "sys.addaudithook",
                   "os.symlink", "os.link", "os.chmod", "os.chown", "shutil.")
DENIED_IMPORTS = {"_posixsubprocess", "subprocess", "multiprocessing", "_multiprocessing", "socket", "_socket",
                  "pty", "ctypes", "_ctypes", "resource"}
PATH_EVENTS = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.truncate", "os.utime"}


def readable(path, rules):
    """First matching ``[verdict, folder]`` rule decides (``allow`` / ``deny``); no match: denied."""
    for verdict, root in rules:
        if _under(path, [root]):
            return verdict == "allow"
    return False


def install_audit_hook(event_fd, read_rules, write_root, package_root):
    """The guard of step 3; its state lives only in this closure (unreachable once installed).

    Code compiled from a file of the submission's package runs only when the grader's import finder
    announced it (``tinymtcnn.grade.loading``): loading a module around the finder
    (``spec_from_file_location``, ``exec`` of its code) would give untrapped fast twins."""
    active = [False]
    announced = []

    def deny(event, detail):
        _send(event_fd, {"denied": event, "detail": str(detail)[:200]})
        raise PermissionError(f"the grader does not allow {event} ({str(detail)[:120]}) in graded code")

    def hook(event, args):
        if event == "tinymtcnn.grade.twin":
            _send(event_fd, {"twin": str(args[0])})
            return
        if event == "tinymtcnn.grade.guard":  # one way: on, never off
            active[0] = True
            return
        if event == "tinymtcnn.grade.loading":
            announced.append(os.path.realpath(str(args[0])))
            return
        if not active[0]:
            return
        if event == "exec" and args and hasattr(args[0], "co_filename"):
            filename = os.path.realpath(args[0].co_filename)
            if _under(filename, [package_root]):
                if filename not in announced:
                    deny("running the package's code outside its import", filename)
                announced.remove(filename)
        elif event.startswith(DENIED_PREFIXES):
            deny(event, args[0] if args else "")
        elif event == "import" and args and str(args[0]).split(".")[0] in DENIED_IMPORTS:
            deny("import", args[0])
        elif event == "open" and args and args[0] is not None and not isinstance(args[0], int):
            path = os.path.realpath(os.fsdecode(args[0]))
            mode, flags = args[1] or "", args[2] or 0
            writing = any(c in mode for c in "wax+") or flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC)
            if writing and not _under(path, [write_root]):
                deny("writing a file", path)
            if not writing and not _under(path, [write_root]) and not readable(path, read_rules):
                deny("reading a file", path)
        elif event in PATH_EVENTS and args:
            for a in args[:2]:
                if isinstance(a, (str, bytes, os.PathLike)) and not _under(os.path.realpath(os.fsdecode(a)),
                                                                           [write_root]):
                    deny(event, os.fsdecode(a))

    sys.addaudithook(hook)


def make_trap(name, error):
    def trap(*args, **kwargs):
        sys.audit("tinymtcnn.grade.twin", name)
        raise error(f"the grader trapped a call of {name}, the package's fast implementation of the "
                    "graded computation: a task function must compute its result itself")

    trap.__name__ = trap.__qualname__ = name.rsplit(".", 1)[-1]
    return trap


class FastTwinCalled(BaseException):
    """Raised by a trap (a BaseException: ``except Exception`` in student code does not swallow it)."""


def install_traps(package_root, twins):
    """Step 2: the finder and the sweep; returns ``sweep()`` for after the import."""
    import importlib.abc
    from importlib.machinery import PathFinder

    traps = {}  # id(original) -> trap
    originals = []  # kept alive: an id is unique only while its object lives
    by_module = {}
    for module, name in twins:
        by_module.setdefault(module, []).append(name)

    def trap_module(module):
        for name in by_module.get(module.__name__, ()):
            original = module.__dict__.get(name)
            if original is None or getattr(original, "_grader_trap", False):
                continue
            trap = traps.get(id(original)) or make_trap(f"{module.__name__}.{name}", FastTwinCalled)
            trap._grader_trap = True
            traps[id(original)] = trap
            originals.append(original)
            module.__dict__[name] = trap

    class Loader(importlib.abc.Loader):
        def __init__(self, inner):
            self.inner = inner

        def create_module(self, spec):
            return self.inner.create_module(spec)

        def exec_module(self, module):
            sys.audit("tinymtcnn.grade.loading", module.__spec__.origin)
            self.inner.exec_module(module)
            trap_module(module)

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name != "tinymtcnn" and not name.startswith("tinymtcnn."):
                return None
            spec = PathFinder.find_spec(name, path if path is not None else [os.path.dirname(package_root)], target)
            if spec is None or not str(spec.origin or "").startswith(package_root + os.sep):
                raise ImportError(f"{name} is not in the submission")
            spec.loader = Loader(spec.loader)
            return spec

    sys.meta_path.insert(0, Finder())

    def swap(value):
        return traps.get(id(value), value)

    def sweep():
        for name, module in list(sys.modules.items()):
            if name != "tinymtcnn" and not name.startswith("tinymtcnn."):
                continue
            for key, value in list(vars(module).items()):
                if id(value) in traps:
                    vars(module)[key] = traps[id(value)]
                for fn in [value] + [v for v in vars(value).values()] if isinstance(value, type) else [value]:
                    fn = getattr(fn, "__func__", fn)
                    if not hasattr(fn, "__code__") or getattr(fn, "_grader_trap", False):
                        continue
                    if fn.__defaults__:
                        fn.__defaults__ = tuple(swap(v) for v in fn.__defaults__)
                    if fn.__kwdefaults__:
                        fn.__kwdefaults__ = {k: swap(v) for k, v in fn.__kwdefaults__.items()}
                    for cell in fn.__closure__ or ():
                        try:
                            cell.cell_contents = swap(cell.cell_contents)
                        except ValueError:  # an empty cell
                            pass

    return sweep


# --------------------------------------------------------------------------- outputs
def flatten(value, arrays, depth=0):
    """A JSON-able description of ``value``; its arrays go to ``arrays`` (names ``a0, a1, ...``)."""
    import numpy as np

    if depth > 8:
        return {"kind": "unsupported", "type": "nested too deeply"}
    if value is None:
        return {"kind": "none"}
    if isinstance(value, (bool, np.bool_, int, float, np.integer, np.floating)):
        kind = "bool" if isinstance(value, (bool, np.bool_)) else "int" if isinstance(value, (int, np.integer)) \
            else "float"
        key = f"a{len(arrays)}"
        arrays[key] = np.asarray(value)
        return {"kind": kind, "type": type(value).__name__, "array": key}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            return {"kind": "unsupported", "type": f"ndarray of {value.dtype}"}
        key = f"a{len(arrays)}"
        arrays[key] = np.array(value, copy=True)
        return {"kind": "array", "array": key}
    if isinstance(value, (tuple, list)):
        return {"kind": "sequence", "type": type(value).__name__, "items": [flatten(v, arrays, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"kind": "dict", "items": {str(k): flatten(v, arrays, depth + 1) for k, v in value.items()}}
    return {"kind": "unsupported", "type": type(value).__name__}


def build(spec, inputs, module):
    """An argument from its description: ``{"array": key}``, ``{"tuple": [...]}``, ``{"dict": {...}}``,
    ``{"type": NAME, "fields": {...}}`` (a NamedTuple of the student's module, missing fields None),
    ``{"shape_of": key}`` or a plain JSON value."""
    if isinstance(spec, dict):
        if "array" in spec:
            return inputs[spec["array"]].copy()
        if "tuple" in spec:
            return tuple(build(s, inputs, module) for s in spec["tuple"])
        if "dict" in spec:
            return {k: build(s, inputs, module) for k, s in spec["dict"].items()}
        if "shape_of" in spec:
            return tuple(inputs[spec["shape_of"]].shape)
        if "type" in spec:
            cls = getattr(module, spec["type"])
            fields = {k: build(s, inputs, module) for k, s in spec["fields"].items()}
            return cls(**{f: fields.get(f) for f in cls._fields})
    return spec


def where(exc, root):
    """``file:line in function`` of the innermost frame of ``exc`` inside the submission."""
    import traceback

    summary = traceback.StackSummary.extract(traceback.walk_tb(exc.__traceback__), lookup_lines=False)
    frames = [f for f in summary if f.filename.startswith(root + os.sep)]
    if not frames:
        return ""
    f = frames[-1]
    return f"{os.path.relpath(f.filename, root)}:{f.lineno} in {f.name}"


def main(request_path):
    with open(request_path, encoding="utf-8") as f:
        request = json.load(f)
    sys.path[:] = [p for p in sys.path if p] + request["site_dirs"]
    import importlib
    import resource
    import traceback  # noqa: F401 (imported before the guard: used by where())

    import numpy as np

    for limit, value in ((resource.RLIMIT_AS, request.get("memory_bytes")), (resource.RLIMIT_FSIZE, 1 << 28)):
        try:
            if value:
                resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):  # e.g. macOS refuses RLIMIT_AS: the time limit still holds
            pass
    event_fd = request["event_fd"]
    out = os.path.realpath(os.getcwd())
    root = os.path.realpath(request["submission"])
    inputs = dict(np.load(request["inputs"], allow_pickle=False))
    rules = [["allow", root]] + [[v, os.path.realpath(p)] for v, p in request["read_rules"]]
    install_audit_hook(event_fd, rules, out, os.path.join(root, "tinymtcnn"))
    sweep = install_traps(os.path.join(root, "tinymtcnn"), [tuple(t) for t in request["twins"]])
    _send(event_fd, {"ready": True})
    sys.audit("tinymtcnn.grade.guard")
    try:
        module = importlib.import_module(request["module"])
        sweep()
    except BaseException as exc:  # noqa: B902 - any failure of the student's import is a result
        _send(event_fd, {"import_error": f"{type(exc).__name__}: {exc}"[:2000], "where": where(exc, root)})
        return
    for k, case in enumerate(request["cases"]):
        arrays, record = {}, {}
        try:
            results = []
            for call in case["calls"]:
                fn = getattr(module, call["function"])
                args = [build(a, inputs, module) for a in call["args"]]
                kwargs = {k2: build(v, inputs, module) for k2, v in call["kwargs"].items()}
                results.append(fn(*args, **kwargs))
            record["result"] = flatten(results, arrays)
        except BaseException as exc:  # noqa: B902 - a failing case is a result; so is SystemExit
            record["error"] = f"{type(exc).__name__}: {exc}"[:2000]
            record["where"] = where(exc, root)
        np.savez(f"case_{k}.tmp.npz", **arrays)
        os.replace(f"case_{k}.tmp.npz", f"case_{k}.npz")
        with open(f"case_{k}.tmp.json", "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.replace(f"case_{k}.tmp.json", f"case_{k}.json")
    _send(event_fd, {"done": True})


if __name__ == "__main__":
    main(sys.argv[1])
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)  # the outputs are written: the submission's atexit hooks and threads do not run on
