"""``tinymtcnn train {pnet,rnet,onet,all}``: the command-line front end of :mod:`tinymtcnn.train`.

Data: ``--synthetic N`` (procedural faces, boxes and five points exact) or annotation files
(``--data FILE`` repeatable: WIDER ``bbx_gt`` text, FDDB ellipse lists, JSON; ``--images ROOT``) plus
optional landmark lists (``--landmarks FILE``, MTFL ``training.txt`` layout). ``rnet`` and ``onet`` mine
hard examples with the nets already in ``--out`` (train ``pnet`` first). ``all`` trains the three
stages and, with ``--synthetic``, evaluates the cascade on ``--eval-synthetic`` held-out photos
(``OUT/report.json``). Exit status 0 on success, 1 when training diverges (the message names the epoch
and step; the last good checkpoint is kept), a file cannot be written or a sample-building worker
dies twice on the same shard, 2 on bad options (every number
is checked when the options are parsed), unreadable data or an unusable checkpoint, 130 on Ctrl-C.
"""
import argparse
import math
import os
import sys
from dataclasses import replace
from pathlib import Path

EPILOG = """examples:
  tinymtcnn train all --synthetic 2000 --out runs/classroom          # ~10 min on 2 cores
  tinymtcnn train all --plan laptop --data ../shared/data/caltech_train/train_bbx_gt.txt \\
      --images ../shared/data/caltech_train/images \\
      --landmarks ../shared/data/mtfl_train/training.txt --out runs/real     # ~1 h on 2 cores
  tinymtcnn train all --plan reference --mosaics 1200 --data ... --out runs/crowds  # + small-face mosaics
"""


def whole_number(low):
    """``argparse`` type: an integer >= ``low`` (a usage error naming the option otherwise)."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    return parse


def finite_number(low, *, inclusive):
    """``argparse`` type: a finite float above ``low`` (or equal with ``inclusive``)."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or value < low or (value == low and not inclusive):
            raise argparse.ArgumentTypeError(f"must be a finite number {'>=' if inclusive else '>'} {low}, "
                                             f"got {text!r}")
        return value
    return parse


def add_data_options(p):
    """The data options of the training commands: ``--data``, ``--format``, ``--images``, ``--landmarks``,
    ``--landmark-images``, ``--synthetic``, ``--mosaics`` (read by :func:`_load_data`)."""
    p.add_argument("--data", action="append", default=[], metavar="FILE", help="annotation file (repeatable)")
    p.add_argument("--format", default="auto", choices=("auto", "wider", "fddb", "json"), help="annotation format")
    p.add_argument("--images", metavar="ROOT", help="image root of --data (default: beside the file)")
    p.add_argument("--landmarks", action="append", default=[], metavar="FILE",
                   help="landmark list 'path x1..x5 y1..y5' (repeatable)")
    p.add_argument("--landmark-images", metavar="ROOT", help="image root of --landmarks")
    p.add_argument("--synthetic", type=whole_number(1), metavar="N",
                   help="train on N procedural photos instead of --data")
    p.add_argument("--mosaics", type=whole_number(0), default=0, metavar="N",
                   help="add N mosaic scenes of small faces made from the training photos (seed --seed)")


def register(subparsers):
    """Add the ``train`` sub-command to an ``argparse`` sub-parser collection."""
    p = subparsers.add_parser("train", help="train P-Net, R-Net, O-Net (or all) from scratch",
                              description=__doc__.split("\n\n")[1], epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=("pnet", "rnet", "onet", "all"), help="which net to train")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (weights, checkpoints, samples)")
    add_data_options(p)
    p.add_argument("--eval-synthetic", type=whole_number(0), default=150, metavar="N",
                   help="held-out synthetic photos (150; 0: no evaluation)")
    p.add_argument("--max-photos", type=whole_number(1), metavar="N", help="use only the first N photos of --data")
    p.add_argument("--plan", choices=("paper", "laptop", "classroom", "reference"),
                   help="stage settings: paper (A's, days; default with --data), laptop (real photos in ~1 h "
                        "on 2 cores), classroom (the synthetic demo's; default with --synthetic), reference "
                        "(laptop with faces from 12 px, for --mosaics and crowds)")
    p.add_argument("--classroom", action="store_true", help="same as --plan classroom")
    p.add_argument("--epochs", type=whole_number(1), metavar="N", help="epochs per stage")
    p.add_argument("--batch-size", type=whole_number(1), metavar="N")
    p.add_argument("--lr", type=finite_number(0, inclusive=False), metavar="LR", help="base learning rate")
    p.add_argument("--optimizer", choices=("sgd", "adam"))
    p.add_argument("--schedule", choices=("cosine", "step", "constant"))
    p.add_argument("--weight-decay", type=finite_number(0, inclusive=True), metavar="WD")
    p.add_argument("--min-face-size", type=finite_number(1, inclusive=True), default=None, metavar="PX",
                   help="pyramid minimum face for mining and evaluation (20; 14 with --synthetic)")
    p.add_argument("--seed", type=whole_number(0), default=0)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=whole_number(1), default=2, metavar="N", help="processes building samples (2)")
    where.add_argument("--scheduler", metavar="ADDRESS", help="build the samples on this Dask cluster instead "
                                                               "(tcp://host:8786; needs tinymtcnn[dask])")
    p.add_argument("--threads", type=whole_number(1), metavar="N", help="threads while training (default: all cores)")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoints in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)
    return p


def _overrides(args):
    keys = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "optimizer": args.optimizer,
            "schedule": args.schedule, "weight_decay": args.weight_decay, "num_threads": args.threads}
    return {k: v for k, v in keys.items() if v is not None}


def _load_data(args):
    from .readers import read_annotations, read_landmark_list
    from .synthetic import SyntheticFaces

    if args.synthetic is not None:
        if args.data:
            raise ValueError("use either --synthetic or --data, not both")
        unused = [name for name, value in (("--landmarks", args.landmarks), ("--images", args.images),
                                           ("--landmark-images", args.landmark_images),
                                           ("--max-photos", args.max_photos)) if value]
        if unused:
            raise ValueError(f"{', '.join(unused)} apply to --data, not to --synthetic")
        return _with_mosaics(SyntheticFaces(args.synthetic, seed=args.seed, min_face=14.0), args), None
    if not args.data:
        raise ValueError("no training data: give --data FILE (or --synthetic N)")
    for option, root in (("--images", args.images), ("--landmark-images", args.landmark_images)):
        if root is not None and not Path(root).is_dir():
            raise ValueError(f"{option} {root}: no such folder")
    photos = None
    for f in args.data:
        part = read_annotations(f, args.images, args.format)
        photos = part if photos is None else photos + part
    if args.max_photos is not None:
        photos.annotations = photos.annotations[:args.max_photos]
    lms = None
    for f in args.landmarks:
        part = read_landmark_list(f, args.landmark_images)
        lms = part if lms is None else lms + part
    if lms is not None and args.max_photos is not None:
        lms.annotations = lms.annotations[:args.max_photos]
    return _with_mosaics(photos, args), lms


def _with_mosaics(photos, args):
    """``photos`` followed by ``--mosaics`` scenes made from them (:class:`~.augment.MosaicPhotos`)."""
    if not args.mosaics:
        return photos
    from .augment import JoinedPhotos, MosaicPhotos

    return JoinedPhotos(photos, MosaicPhotos(photos, args.mosaics, seed=args.seed))


def _error(message, status, command="train"):
    print(f"tinymtcnn {command}: error: {message}", file=sys.stderr)
    return status


def exit_status(work, command, kept):
    """Run ``work()`` (returns the exit status) with the training commands' failures as exit statuses:
    1 for a diverged run, a dead sample-building worker or a file that cannot be written, 2 for bad data
    or settings (``ValueError``), 130 on Ctrl-C with one line saying what is ``kept``."""
    from ..process_pool import PoolBroken
    from .dataset import SampleBuildError
    from .trainer import TrainingDiverged

    try:
        return work()
    except (TrainingDiverged, SampleBuildError, PoolBroken) as exc:  # PoolBroken: workers die while starting
        return _error(exc, 1, command)
    except ValueError as exc:  # unreadable data or checkpoint, settings the plan rejects
        return _error(exc, 2, command)
    except OSError as exc:  # a full disk or a read-only folder while writing samples, weights, report
        return _error(exc, 1, command)
    except KeyboardInterrupt:
        print(f"tinymtcnn {command}: interrupted; {kept}, --resume continues from them", file=sys.stderr)
        return 130


def _out_dir_problem(out):
    """Why ``--out`` cannot receive the results (checked before any work), or None."""
    if out.exists() and not out.is_dir():
        return f"--out {out} exists and is not a folder"
    existing = next(p for p in (out, *out.parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        return f"--out {out}: cannot write into {existing}"
    return None


def run(args):
    """Execute ``tinymtcnn train``; returns the exit status (see the module docstring)."""
    out = Path(args.out)
    plan = args.plan or ("classroom" if (args.synthetic is not None or args.classroom) else "paper")
    if args.classroom and plan != "classroom":
        return _error("--classroom contradicts --plan " + plan, 2)
    problem = _out_dir_problem(out)
    if problem:
        return _error(problem, 2)
    return exit_status(lambda: _train(args, plan, out), "train",
                       f"the finished epochs and sample shards are kept in {out}")


def _train(args, plan, out):
    import time

    from .cascade import PLANS, cpu_seconds, evaluate_detector, train_cascade, write_report

    log = print
    t0, c0 = time.perf_counter(), cpu_seconds()
    stages = ("pnet", "rnet", "onet") if args.stage == "all" else (args.stage,)
    plans = PLANS[plan]()
    over = _overrides(args)
    plans = {k: replace(p, train=replace(p.train, **over)) for k, p in plans.items()}
    if args.resume:  # an unusable checkpoint is reported now, not after the samples are built
        from .trainer import Trainer

        for kind in stages:
            Trainer(kind, out, replace(plans[kind].train, seed=args.seed), log=log).load_checkpoint()
    photos, lms = _load_data(args)
    workers = args.workers
    if args.scheduler is not None:  # samples built on a Dask cluster (tinymtcnn.distributed)
        from ..distributed import client_for

        workers = client_for(args.scheduler)
    synthetic = args.synthetic is not None
    min_face = args.min_face_size if args.min_face_size is not None else (14.0 if synthetic else 20.0)
    nets, _ = train_cascade(photos, out, landmark_photos=lms, plans=plans, stages=stages, min_face_size=min_face,
                            seed=args.seed, workers=workers, resume=args.resume,
                            progress=not args.no_progress, log=log)
    log(f"weights written to {out}/: " + ", ".join(f"{k}.npz" for k in stages))
    if args.stage == "all" and synthetic and args.eval_synthetic > 0:
        from ..detect.detector import MTCNN
        from .synthetic import SyntheticFaces

        held_out = SyntheticFaces(args.eval_synthetic, seed=args.seed + 1_000_003, min_face=14.0)
        det = MTCNN(weights=nets, min_face_size=min_face, landmarks="onet")  # the trained O-Net's own points
        r = evaluate_detector(det, held_out, progress=not args.no_progress)
        report = {"thresholds": det.thresholds, "min_face_size": min_face, **r}
        log(f"held-out synthetic ({len(held_out)} photos, {r['faces']} faces), thresholds {det.thresholds}: "
            f"recall {r['recall']:.3f}, precision {r['precision']:.3f}, "
            f"{r['false_positives_per_photo']:.2f} false positives/photo, landmark error "
            f"{100 * r['landmark_nme']:.2f}% of the inter-ocular distance (median {100 * r['landmark_nme_median']:.2f}%)")
        report.update(total_seconds=round(time.perf_counter() - t0, 1), total_cpu_seconds=round(cpu_seconds() - c0, 1))
        write_report(out / "report.json", report)
    log(f"total: {time.perf_counter() - t0:.0f}s wall, {cpu_seconds() - c0:.0f}s cpu")
    return 0


def main(argv=None):
    """``python -m tinymtcnn.train.cli ...`` without the package's main CLI."""
    parser = argparse.ArgumentParser(prog="tinymtcnn")
    register(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), as the package's main CLI returns them
        return exc.code if isinstance(exc.code, int) else 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
