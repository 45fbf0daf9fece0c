"""What the grader decides without running student code: the static scan of a task's functions and
the files a grading child may read. Nothing here imports the submission (``ast`` only)."""
import ast
import functools
import sys
import sysconfig
from pathlib import Path

from assignment_source import PACKAGE, REPO

# names a task function has no reason to use: ways around the traps, or out of the process
NOT_ALLOWED = {"exec", "eval", "compile", "__import__", "importlib", "reload", "atexit", "_exit", "subprocess",
               "ctypes", "gc", "_getframe", "__globals__", "__code__", "__closure__", "tb_frame", "f_back",
               "f_globals", "f_locals", "open", "system", "popen", "setprofile", "settrace", "modules"}
NOT_IMPORTED = {"importlib", "gc", "ctypes", "subprocess", "atexit", "os", "sys", "builtins", "inspect",
                "multiprocessing", "socket", "types", "pytest"}



def _names(node):
    """Names a function loads and binds (``Name`` ids, attribute names, imported modules)."""
    loads, bound, imports = [], set(), []
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            (loads.append((n.id, n.lineno)) if isinstance(n.ctx, ast.Load) else bound.add(n.id))
        elif isinstance(n, ast.Attribute):
            loads.append((n.attr, n.lineno))
        elif isinstance(n, ast.arg):
            bound.add(n.arg)
        elif isinstance(n, ast.Import):
            imports += [(a.name, n.lineno) for a in n.names]
        elif isinstance(n, ast.ImportFrom) and n.level == 0:
            imports.append((n.module or "", n.lineno))
    return loads, bound, imports


def static_findings(package_dir, prepared):
    """Reasons to score the task 0 found in the source of its functions (and the module's own helpers
    they use): a fast twin or a construct that reaches around the grader. Never imports."""
    found = []
    for rel, function in prepared.functions:
        path = Path(package_dir).parent / rel
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue  # the child reports the import error
        defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        todo, seen = [function], set()
        while todo:
            name = todo.pop()
            if name in seen or name not in defs or name in prepared.twin_names:
                continue
            seen.add(name)
            loads, bound, imports = _names(defs[name])
            for ident, line in loads:
                if ident in bound:
                    continue
                if ident in prepared.twin_names:
                    found.append(f"{rel}:{line} ({name}) refers to {ident}, the package's fast implementation "
                                 f"of this computation: a task function must compute its result itself")
                elif ident in NOT_ALLOWED:
                    found.append(f"{rel}:{line} ({name}) uses {ident!r}, which task code may not use")
                elif ident in defs:
                    todo.append(ident)
            found += [f"{rel}:{line} ({name}) imports {mod!r}, which task code may not use"
                      for mod, line in imports if mod.split(".")[0] in NOT_IMPORTED]
    return list(dict.fromkeys(found))



def third_party_packages(package_dir):
    """Top-level modules outside the standard library that the teacher's package imports (numpy, numba,
    PIL, ...): found in its source, not imported."""
    names = set()
    for path in Path(package_dir).rglob("*.py"):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue
        for n in ast.walk(tree):
            if isinstance(n, ast.Import):
                names.update(a.name.split(".")[0] for a in n.names)
            elif isinstance(n, ast.ImportFrom) and n.level == 0 and n.module:
                names.add(n.module.split(".")[0])
    return sorted(names - set(sys.stdlib_module_names) - {PACKAGE})


@functools.lru_cache(maxsize=None)
def read_rules(package_dir=Path(REPO) / PACKAGE):
    """What a child may read besides the submission and its own folder: the Python installation and
    the packages the teacher's package uses (with their ``.libs``), not the rest of site-packages (the
    teacher's own tinymtcnn may be installed there, and other students' work is elsewhere)."""
    import importlib.util

    allow = []
    for name in third_party_packages(package_dir):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        for folder in (spec.submodule_search_locations or []) if spec else []:
            allow += [str(Path(folder).resolve()), str(Path(folder).resolve()) + ".libs"]
        if spec and spec.origin and not spec.submodule_search_locations:
            allow.append(str(Path(spec.origin).resolve()))
    site = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    stdlib = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib")}
    return [["allow", p] for p in allow] + [["deny", p] for p in sorted(site)] + \
        [["allow", p] for p in sorted(stdlib)] + [["allow", "/dev/null"]]
