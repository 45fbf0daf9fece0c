"""Cold start: how long ``tinymtcnn demo`` takes with an empty Numba cache, kernel by kernel.

    python benchmarks/bench_startup.py              # cold and warm demo, compile time per kernel
    python benchmarks/bench_startup.py --runs 3     # the median of 3 cold processes

Each run is a fresh process (``python -m tinymtcnn demo --out <temp file>``) whose
``NUMBA_CACHE_DIR`` is a new empty folder, so every kernel the demo needs is compiled. A Numba
event listener (``numba:compile``) records when each compile of one of the package's kernels starts
and ends; a kernel that calls another compiles it inside its own compile, so the table gives both
the inclusive time and the time of the kernel itself (``self``: inclusive minus the compiles nested
in it). The sum of ``self`` is the whole compile time. Then the same command with the cache now
warm. Timings depend on the machine's load, printed with the table; nothing here is a test.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import environment, load, print_table  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

# Run in the child: the listener goes in before tinymtcnn is imported.
CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numba
from numba.core import event

events, stack = [], []


class Recorder(event.Listener):
    def on_start(self, ev):
        stack.append((time.perf_counter(), ev.data.get("dispatcher"), ev.data.get("args")))

    def on_end(self, ev):
        start, disp, args = stack.pop()
        fn = getattr(disp, "py_func", None)
        name = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', '?')}"
        events.append({"name": name, "args": str(args), "start": start - t0, "end": time.perf_counter() - t0,
                       "depth": len(stack)})


event.register("numba:compile", Recorder())
from tinymtcnn.cli import main
t1 = time.perf_counter()
import contextlib, io
with contextlib.redirect_stdout(io.StringIO()):
    rc = main(["demo", "--out", sys.argv[1]])
t2 = time.perf_counter()
import tinymtcnn
print(json.dumps({"rc": rc, "import": t1 - t0, "demo": t2 - t1, "events": events, "file": tinymtcnn.__file__}))
"""


def run_child(cache, out, repo=REPO):
    """One ``demo`` in a fresh process with ``NUMBA_CACHE_DIR=cache``, importing the ``tinymtcnn`` of the
    checkout ``repo``; its JSON plus the process time."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", CHILD, out], capture_output=True, text=True, env=env, cwd=repo)
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-3000:])
    data = json.loads(res.stdout.strip().splitlines()[-1])
    data["process"] = time.perf_counter() - t
    return data


def self_times(events):
    """``{(name, args): [inclusive s, self s]}`` over the package's kernels.

    A kernel's self time is its inclusive time less that of the package's kernels compiled inside it
    (the nearest ones); Numba's own helpers compiled inside it (``np.empty``'s overload...) count
    as its own.
    """
    ours = [e for e in events if e["name"].startswith("tinymtcnn.")]

    def inside(c, e):
        return c is not e and e["start"] <= c["start"] and c["end"] <= e["end"]

    out = {}
    for e in ours:
        nested = [c for c in ours if inside(c, e)]
        nearest = [c for c in nested if not any(inside(c, d) for d in nested)]
        key = (e["name"], e["args"])
        incl, own = out.get(key, (0.0, 0.0))
        span = e["end"] - e["start"]
        out[key] = [incl + span, own + span - sum(c["end"] - c["start"] for c in nearest)]
    return out


def short(name):
    return name.replace("tinymtcnn.kernels.", "")


def short_sig(args):
    """``(Array(float32, 3, 'C', False, aligned=True), int64)`` -> ``(f32[3C], i64)``."""
    args = re.sub(r"Array\((\w+), (\d), '(\w)', (True|False), aligned=True\)",
                  lambda m: f"{m.group(1)}[{m.group(2)}{m.group(3)}{'ro' if m.group(4) == 'True' else ''}]", args)
    for long, brief in (("float", "f"), ("uint", "u"), ("int", "i"), ("Literal[i]", "lit")):
        args = args.replace(long, brief)
    return args


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1, help="cold processes; the table is the median one's")
    ap.add_argument("--repo", type=Path, default=REPO,
                    help="the checkout whose tinymtcnn runs (default: this one), e.g. to compare two branches")
    args = ap.parse_args(argv)
    if not (args.repo / "tinymtcnn" / "__init__.py").is_file():
        raise ValueError(f"--repo {args.repo}: no tinymtcnn/__init__.py there")
    print(environment() + f"; tinymtcnn from {args.repo}")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "demo.png")
        cold = []
        for i in range(args.runs):
            cache = os.path.join(tmp, f"cache{i}")
            os.makedirs(cache)
            cold.append(run_child(cache, out, args.repo))
        warm = run_child(cache, out, args.repo)  # the last cold run's cache is now filled
    cold.sort(key=lambda r: r["process"])
    med = cold[len(cold) // 2]
    times = self_times(med["events"])
    rows = [[short(name), short_sig(sig), incl, own]
            for (name, sig), (incl, own) in sorted(times.items(), key=lambda kv: -kv[1][1])]
    total = sum(own for _, own in times.values())
    print(f"\n## compiles of `tinymtcnn demo` with an empty NUMBA_CACHE_DIR, seconds (median of {len(cold)} "
          f"process(es)); {load()}")
    print_table(["kernel", "signature", "inclusive", "self"], [r[:2] + [f"{r[2]:.2f}", f"{r[3]:.2f}"] for r in rows])
    print(f"{len(times)} compiles, {total:.2f} s in all")
    print(f"tinymtcnn: {med['file']}")
    for label, r in (("cold", med), ("warm", warm)):
        print(f"{label}: process {r['process']:.2f} s (import {r['import']:.2f} s, demo {r['demo']:.2f} s)")
    if len(cold) > 1:
        print("cold processes, s: " + ", ".join(f"{r['process']:.2f}" for r in cold)
              + f" (median {statistics.median(r['process'] for r in cold):.2f})")
    print(load())


if __name__ == "__main__":
    main()
