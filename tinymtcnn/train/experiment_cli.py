"""``tinymtcnn experiment {joint,ohem,all}``: the ablations of :mod:`tinymtcnn.train.experiment`.

Trains every arm x seed on the same samples and writes OUT/runs.jsonl (one line per finished run),
OUT/summary.json, OUT/summary.md (tables and the verdict) and OUT/curves-*.png. Data options as for
``tinymtcnn train``. Exit status 0 on success, 1 when training diverges or a file cannot be written,
2 on bad options, unreadable data or an output folder inside an input folder, 130 on Ctrl-C (the
finished runs are kept; ``--resume`` continues).
"""
import argparse
from pathlib import Path

from .cli import (_error, _load_data, _out_dir_problem, add_data_options, exit_status, finite_number,
                  whole_number)

EPILOG = """examples:
  tinymtcnn experiment all --synthetic 500 --out runs/ablations --threads 1     # classroom, ~10 min
  tinymtcnn experiment all --synthetic 60 --fast --out runs/ablations-fast       # CI size, ~30 s
  tinymtcnn experiment all --data ../shared/data/caltech_train/train_bbx_gt.txt \\
      --images ../shared/data/caltech_train/images --landmarks runs/real/mtfl_fit.txt \\
      --landmark-images ../shared/data/mtfl_train --max-photos 1500 --threads 1 --out runs/ablations-real
"""


def register(subparsers):
    """Add the ``experiment`` sub-command to an ``argparse`` sub-parser collection."""
    p = subparsers.add_parser("experiment", help="ablations: joint training and OHEM, several seeds",
                              description=__doc__.split("\n\n")[1], epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", choices=("joint", "ohem", "all"), help="which ablation (all: both)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (runs, summary, curves, samples)")
    add_data_options(p)
    p.add_argument("--max-photos", type=whole_number(1), metavar="N",
                   help="use only the first N photos of --data (and of --landmarks)")
    p.add_argument("--preset", choices=("classroom", "fast", "real"),
                   help="sampling and epochs: classroom (default with --synthetic), real (default with --data), "
                        "fast (CI size)")
    p.add_argument("--fast", action="store_true", help="same as --preset fast")
    p.add_argument("--stages", nargs="+", choices=("pnet", "rnet", "onet"), default=["pnet", "rnet"],
                   help="stages to ablate (pnet rnet)")
    p.add_argument("--seeds", type=whole_number(1), default=3, metavar="N", help="seeds per arm (3: 0, 1, 2)")
    p.add_argument("--epochs", type=whole_number(1), metavar="N", help="epochs per run (default: the preset's)")
    p.add_argument("--min-face-size", type=finite_number(1, inclusive=True), default=None, metavar="PX",
                   help="pyramid minimum face for mining (20; 14 with --synthetic)")
    p.add_argument("--threads", type=whole_number(1), metavar="N", help="training threads (default: all cores)")
    p.add_argument("--workers", type=whole_number(1), default=1, metavar="N", help="processes building samples (1)")
    p.add_argument("--resume", action="store_true",
                   help="skip the runs already in OUT/runs.jsonl (a larger --seeds adds the new seeds' runs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run, seed=0)
    return p


def _inside(path, folder):
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


def input_folders(args):
    """Folders holding the inputs (annotation files' folders, image roots): the output may not be in one."""
    folders = [Path(f).parent for f in [*args.data, *args.landmarks]]
    folders += [Path(r) for r in (args.images, args.landmark_images) if r]
    return folders


def run(args):
    """Execute ``tinymtcnn experiment``; returns the exit status (see the module docstring)."""
    out = Path(args.out)
    preset = args.preset or ("fast" if args.fast else ("classroom" if args.synthetic is not None else "real"))
    if args.fast and preset != "fast":
        return _error(f"--fast contradicts --preset {preset}", 2, "experiment")
    inside = next((f for f in input_folders(args) if _inside(out, f)), None)
    if inside is not None:
        return _error(f"--out {out} is inside the input folder {inside}; choose a folder of its own", 2, "experiment")
    problem = _out_dir_problem(out)
    if problem:
        return _error(problem, 2, "experiment")
    return exit_status(lambda: _run(args, preset, out), "experiment",
                       f"the finished runs are kept in {out / 'runs.jsonl'} (the samples and checkpoints beside it)")


def _run(args, preset_name, out):
    from .experiment import PRESETS, run_experiments

    experiments = ("joint", "ohem") if args.experiment == "all" else (args.experiment,)
    preset = PRESETS[preset_name]()
    photos, lms = _load_data(args)
    if args.max_photos is not None and args.synthetic is None:
        preset.description += f"; first {args.max_photos} photos of each list"
    min_face = args.min_face_size if args.min_face_size is not None else (14.0 if args.synthetic else 20.0)
    summary = run_experiments(experiments, photos, out, preset=preset, landmark_photos=lms, stages=tuple(args.stages),
                              seeds=tuple(range(args.seeds)), epochs=args.epochs, threads=args.threads,
                              workers=args.workers, min_face_size=min_face, resume=args.resume,
                              progress=not args.no_progress)
    print(f"summary: {out / 'summary.md'}, {out / 'summary.json'}; curves: {', '.join(summary['figures'])}; "
          f"{summary['timing']['seconds']:.0f}s wall, {summary['timing']['cpu_seconds']:.0f}s cpu")
    return 0
