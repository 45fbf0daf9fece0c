"""Where the second core idles: tinymtcnn's stages at 1 and 2 threads, side by side.

    python benchmarks/bench_threads.py                  # 3 photos of 0.75-3 megapixels, 3 rounds
    python benchmarks/bench_threads.py --rounds 5

For each photo, in fresh worker processes interleaved (1 thread, 2 threads, 1, 2, ...; best
median kept), the wall and CPU time of a whole ``MTCNN().detect`` and of its steps: stage 1
(pyramid + P-Net + NMS), R-Net (crops + net + NMS), O-Net (crops + net + NMS, and O-Net again on
the mirrored crops of the faces), each with its crops and its nets timed apart, LNet
(``landmarks="auto"``'s refinement of large faces). ``speed-up`` is the
1-thread time over the 2-thread one; ``busy`` is CPU time over wall time at 2 threads (2.0: both
cores busy the whole time; 1.0: the second idles). For stage 1, the pyramid levels' times at one
thread are also scheduled as ``parallel_map`` shares them out (largest first, each thread taking
the next level as it frees up), which gives the best stage 1 can do at 2 threads with this split.
Nothing here is a test; timings depend on the load, printed with the tables.
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import environment, load, print_table, ratio, run_worker, set_threads, timed  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ASTRONAUT = REPO / "tinymtcnn" / "assets" / "astronaut.png"
STEPS = ("detect", "stage 1", "R-Net", " its crops", " its net", "O-Net", " its crops", " its nets", "LNet")


def photos():
    """``[(name, HxWx3 uint8)]``: the three photos of the goal (0.75 to 3 megapixels)."""
    from PIL import Image

    from tinymtcnn.io import load_image

    a = load_image(ASTRONAUT)

    def resize(img, w, h):
        return np.asarray(Image.fromarray(img).resize((w, h), Image.BILINEAR))

    return [("3 astronauts 1200x630", resize(np.concatenate([a, a[:, ::-1], a], axis=1), 1200, 630)),
            ("astronaut 1024x1024", resize(a, 1024, 1024)), ("astronaut 2048x1536", resize(a, 2048, 1536))]


def _timed_cpu(fn, repeat):
    wall, cpu = timed(fn, repeat=repeat, cpu=True)
    return [wall, cpu]


def worker(n, repeat):
    """Time every step at ``n`` threads; print one JSON line."""
    set_threads(n, "ours")
    from tinymtcnn import MTCNN
    from tinymtcnn.detect import stages
    from tinymtcnn.detect.boxes import truncate_boxes
    from tinymtcnn.detect.crops import crop_and_resize
    from tinymtcnn.detect.pyramid import level_size, pyramid_scales

    det = MTCNN()
    nets = det.nets
    out = []
    for label, img in photos():
        s1 = stages.propose(img, nets["pnet"])
        s2 = stages.refine(img, s1.boxes, nets["rnet"])
        s3 = stages.output(img, s2.boxes, nets["onet"], mirror=True)
        rcrops = crop_and_resize(img, s1.boxes, 24)
        ocrops = crop_and_resize(img, truncate_boxes(s2.boxes), 48)
        mirrored = np.ascontiguousarray(ocrops[:len(s3.boxes)][..., ::-1])  # as many as the faces found
        keys = ("face_prob", "box_reg", "landmarks")
        row = {"photo": label, "steps": [
            _timed_cpu(lambda: det.detect(img), repeat),
            _timed_cpu(lambda: stages.propose(img, nets["pnet"]), repeat),
            _timed_cpu(lambda: stages.refine(img, s1.boxes, nets["rnet"]), repeat),
            _timed_cpu(lambda: crop_and_resize(img, s1.boxes, 24), repeat),
            _timed_cpu(lambda: stages._forward_in_chunks(nets["rnet"], rcrops, keys[:2]), repeat),
            _timed_cpu(lambda: stages.output(img, s2.boxes, nets["onet"], mirror=True), repeat),
            _timed_cpu(lambda: crop_and_resize(img, truncate_boxes(s2.boxes), 48), repeat),
            _timed_cpu(lambda: (stages._forward_in_chunks(nets["onet"], ocrops, keys),
                                stages._forward_in_chunks(nets["onet"], mirrored, keys[2:])), repeat),
            _timed_cpu(lambda: det._refine_large(img, s3.boxes, s3.landmarks), repeat)]}
        row["crops"] = [len(s1.boxes), len(s2.boxes), len(s3.boxes)]
        if n == 1:  # each level alone (built + P-Net + its NMS), as one thread of parallel_map runs it
            scales = pyramid_scales(img.shape[0], img.shape[1])
            row["levels"] = [timed(lambda: stages._scan_level(img, s, nets["pnet"], 0.6), repeat=3) for s in scales]
            row["level_sizes"] = [level_size(img.shape[0], img.shape[1], s) for s in scales]
        out.append(row)
    print(json.dumps(out))


def schedule(times, threads=2):
    """Makespan of ``times`` run in order, each taken by the first free one of ``threads`` threads."""
    free = [0.0] * threads
    for t in times:
        i = free.index(min(free))
        free[i] += t
    return max(free)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, help=argparse.SUPPRESS)  # run_worker's; the same as --worker
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.repeat)
    print(environment())
    runs = {1: [], 2: []}
    t0 = time.perf_counter()
    for _ in range(args.rounds):
        for n in (1, 2):
            runs[n].append(run_worker(__file__, str(n), n, "--repeat", args.repeat))
    best = {n: [[[min(r[p]["steps"][s][k] for r in runs[n]) for k in (0, 1)] for s in range(len(STEPS))]
                for p in range(len(runs[n][0]))] for n in (1, 2)}
    print(f"\n## tinymtcnn at 1 and 2 threads: median wall ms (best of {args.rounds} interleaved runs), "
          f"speed-up = 1 thread / 2 threads, busy = CPU / wall at 2 threads; {load()}")
    rows = []
    for p, row in enumerate(runs[1][0]):
        for s, step in enumerate(STEPS):
            (w1, _), (w2, c2) = best[1][p][s], best[2][p][s]
            label = f"{row['photo']} ({'/'.join(map(str, row['crops']))} crops)"
            rows.append([label if s == 0 else "", step, w1, w2, ratio(w1, w2), ratio(c2, w2), w2 - w1 / 2])
    print_table(["photo", "step", "1 thread", "2 threads", "speed-up", "busy", "ms over w1/2"], rows)
    print("\n## stage 1's levels at one thread (ms, best of the rounds), and the best parallel_map can do with them")
    rows = []
    for p, row in enumerate(runs[1][0]):
        levels = [min(r[p]["levels"][i] for r in runs[1]) for i in range(len(row["levels"]))]
        total = sum(levels)
        rows.append([row["photo"], len(levels), f"{levels[0]:.1f} ({100 * levels[0] / total:.0f}%)", total,
                     schedule(levels), ratio(total, schedule(levels)), best[2][p][1][0]])
    print_table(["photo", "levels", "largest level", "sum", "2-thread schedule", "its speed-up", "stage 1 at 2"],
                rows)
    print(f"\n({time.perf_counter() - t0:.0f} s) {load()}")


if __name__ == "__main__":
    main()
