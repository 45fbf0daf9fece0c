"""Time per photo: facenet-pytorch 2.6 and mtcnn 1.0 (ipazc) next to tinymtcnn.compat's classes.

    python benchmarks/bench_compat.py --venv /tmp/compatvenv     # the venv of tools/make_compat_fixtures.py

The photos are those of the compat tests (tools/make_compat_fixtures.py: the astronaut at
256, 512 and 768 px, a 1024x640 group of four). Each detector runs in its own fresh process
(see ``_common.py``), the real packages with the venv's Python, ours with this one, in turn
(theirs, ours, theirs, ours ...) for ``--rounds`` rounds; the best median is kept. Threads:
``torch.set_num_threads(n)`` for facenet-pytorch; TensorFlow's intra-op pool of ``n`` threads
and an inter-op pool of 1 for mtcnn; ``num_threads=n`` for ours. Calls timed:
``MTCNN().detect(PIL image, landmarks=True)`` (facenet) and ``MTCNN().detect_faces(array)``
(ipazc), the same on the compat classes, each package at its own default settings.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tools"))
from _common import load, print_table, ratio, thread_counts, timed  # noqa: E402

PHOTOS = ("astronaut_small", "astronaut", "astronaut_large", "group")


def detector(name, n):
    """``callable(HxWx3 uint8) -> number of faces`` for ``name``, using ``n`` threads."""
    from PIL import Image

    if name == "facenet":
        import torch
        from facenet_pytorch import MTCNN

        torch.set_num_threads(n)
        det = MTCNN(device="cpu")
        return lambda img: 0 if (b := det.detect(Image.fromarray(img), landmarks=True)[0]) is None else len(b)
    if name == "ipazc":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        from mtcnn import MTCNN

        det = MTCNN()
        return lambda img: len(det.detect_faces(img))
    if name == "ours-facenet":
        from tinymtcnn.compat.facenet import MTCNN

        det = MTCNN(num_threads=n)
        return lambda img: 0 if (b := det.detect(Image.fromarray(img), landmarks=True)[0]) is None else len(b)
    from tinymtcnn.compat.ipazc import MTCNN

    det = MTCNN(num_threads=n)
    return lambda img: len(det.detect_faces(img))


def worker(name, n, repeat, folder):
    detect = detector(name, n)
    rows = []
    for photo in PHOTOS:
        img = np.load(Path(folder) / f"{photo}.npy")
        ms, cpu = timed(lambda: detect(img), repeat=repeat, cpu=True)
        rows.append({"photo": f"{photo} {img.shape[1]}x{img.shape[0]}", "ms": ms, "cpu": cpu, "faces": detect(img)})
    print(json.dumps(rows))


def run(python, name, n, repeat, folder):
    cmd = [str(python), __file__, "--worker", name, "--threads", str(n), "--repeat", str(repeat), "--photos", folder]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"worker {name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--venv", type=Path, default=Path("/tmp/compatvenv"))
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--photos", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.threads[0], args.repeat, args.photos)
    from make_compat_fixtures import ASTRONAUT, compat_photos

    from tinymtcnn.io import load_image

    venv_python = args.venv / "bin" / "python"
    if not venv_python.exists():
        sys.exit(f"no Python at {venv_python}; make the venv as tools/make_compat_fixtures.py says")
    photos = compat_photos(load_image(ASTRONAUT))
    pairs = (("facenet", "ours-facenet"), ("ipazc", "ours-ipazc"))
    print(f"python {sys.version.split()[0]}; {load()}")
    with tempfile.TemporaryDirectory() as folder:
        for name in PHOTOS:
            np.save(Path(folder) / f"{name}.npy", photos[name])
        for n in thread_counts(args.threads):
            runs = {k: [] for pair in pairs for k in pair}
            for _ in range(args.rounds):
                for theirs, ours in pairs:
                    runs[theirs].append(run(venv_python, theirs, n, args.repeat, folder))
                    runs[ours].append(run(sys.executable, ours, n, args.repeat, folder))
            best = {k: [min(r[i]["ms"] for r in v) for i in range(len(PHOTOS))] for k, v in runs.items()}
            cpu = {k: [min(r[i]["cpu"] for r in v) for i in range(len(PHOTOS))] for k, v in runs.items()}
            rows = []
            for i in range(len(PHOTOS)):
                row = [runs["facenet"][0][i]["photo"]]
                for theirs, ours in pairs:
                    row += [best[theirs][i], best[ours][i], ratio(best[theirs][i], best[ours][i]),
                            ratio(cpu[theirs][i], cpu[ours][i])]
                faces = [str(runs[k][0][i]["faces"]) for pair in pairs for k in pair]
                rows.append(row + ["/".join(faces)])
            print(f"\n## {n} thread(s): median wall ms per photo, best of {args.rounds} rounds; {load()}")
            print_table(["photo", "facenet", "ours", "x faster", "cpu x", "mtcnn", "ours", "x faster", "cpu x",
                         "faces F/oF/I/oI"], rows)


if __name__ == "__main__":
    main()
