"""``tinymtcnn train {pnet,rnet,onet,all}``: the command-line front end of :mod:`tinymtcnn.train`.

Data: ``--synthetic N`` (procedural faces, boxes and five points exact) or annotation files
(``--data FILE`` repeatable: WIDER ``bbx_gt`` text, FDDB ellipse lists, JSON; ``--images ROOT``) plus
optional landmark lists (``--landmarks FILE``, MTFL ``training.txt`` layout). ``rnet`` and ``onet`` mine
hard examples with the nets already in ``--out`` (train ``pnet`` first). ``all`` trains the three
stages and, with ``--synthetic``, evaluates the cascade on ``--eval-synthetic`` held-out photos
(``OUT/report.json``). Exit status 0 on success, 2 on bad options or unreadable data.
"""
import argparse
import sys
from dataclasses import replace
from pathlib import Path

EPILOG = """examples:
  tinymtcnn train all --synthetic 2000 --out runs/classroom          # ~10 min on 2 cores
  tinymtcnn train all --plan laptop --data ../shared/data/caltech_train/train_bbx_gt.txt \\
      --images ../shared/data/caltech_train/images \\
      --landmarks ../shared/data/mtfl_train/training.txt --out runs/real     # ~1 h on 2 cores
"""


def register(subparsers):
    """Add the ``train`` sub-command to an ``argparse`` sub-parser collection."""
    p = subparsers.add_parser("train", help="train P-Net, R-Net, O-Net (or all) from scratch",
                              description=__doc__.split("\n\n")[1], epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=("pnet", "rnet", "onet", "all"), help="which net to train")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (weights, checkpoints, samples)")
    p.add_argument("--data", action="append", default=[], metavar="FILE", help="annotation file (repeatable)")
    p.add_argument("--format", default="auto", choices=("auto", "wider", "fddb", "json"), help="annotation format")
    p.add_argument("--images", metavar="ROOT", help="image root of --data (default: beside the file)")
    p.add_argument("--landmarks", action="append", default=[], metavar="FILE",
                   help="landmark list 'path x1..x5 y1..y5' (repeatable)")
    p.add_argument("--landmark-images", metavar="ROOT", help="image root of --landmarks")
    p.add_argument("--synthetic", type=int, metavar="N", help="train on N procedural photos instead of --data")
    p.add_argument("--eval-synthetic", type=int, default=150, metavar="N", help="held-out synthetic photos (150)")
    p.add_argument("--max-photos", type=int, metavar="N", help="use only the first N photos of --data")
    p.add_argument("--plan", choices=("paper", "laptop", "classroom"),
                   help="stage settings: paper (A's, days; default with --data), laptop (real photos in ~1 h "
                        "on 2 cores), classroom (the synthetic demo's; default with --synthetic)")
    p.add_argument("--classroom", action="store_true", help="same as --plan classroom")
    p.add_argument("--epochs", type=int, metavar="N", help="epochs per stage")
    p.add_argument("--batch-size", type=int, metavar="N")
    p.add_argument("--lr", type=float, metavar="LR", help="base learning rate")
    p.add_argument("--optimizer", choices=("sgd", "adam"))
    p.add_argument("--schedule", choices=("cosine", "step", "constant"))
    p.add_argument("--weight-decay", type=float, metavar="WD")
    p.add_argument("--min-face-size", type=float, default=None, metavar="PX",
                   help="pyramid minimum face for mining and evaluation (20; 14 with --synthetic)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2, metavar="N", help="processes building samples (2)")
    p.add_argument("--threads", type=int, metavar="N", help="threads while training (default: all cores)")
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
        return SyntheticFaces(args.synthetic, seed=args.seed, min_face=14.0), None
    if not args.data:
        raise ValueError("no training data: give --data FILE (or --synthetic N)")
    photos = None
    for f in args.data:
        part = read_annotations(f, args.images, args.format)
        photos = part if photos is None else photos + part
    if args.max_photos:
        photos.annotations = photos.annotations[:args.max_photos]
    lms = None
    for f in args.landmarks:
        part = read_landmark_list(f, args.landmark_images)
        lms = part if lms is None else lms + part
    if lms is not None and args.max_photos:
        lms.annotations = lms.annotations[:args.max_photos]
    return photos, lms


def run(args):
    """Execute ``tinymtcnn train``; returns the exit status."""
    import time

    from .cascade import PLANS, cpu_seconds, evaluate_detector, train_cascade, write_report

    log = print
    t0, c0 = time.perf_counter(), cpu_seconds()
    try:
        photos, lms = _load_data(args)
    except ValueError as exc:
        print(f"tinymtcnn train: error: {exc}", file=sys.stderr)
        return 2
    synthetic = args.synthetic is not None
    if args.threads is not None and args.threads < 1:
        print(f"tinymtcnn train: error: --threads must be at least 1, got {args.threads}", file=sys.stderr)
        return 2
    plan = args.plan or ("classroom" if (synthetic or args.classroom) else "paper")
    if args.classroom and plan != "classroom":
        print("tinymtcnn train: error: --classroom contradicts --plan " + plan, file=sys.stderr)
        return 2
    plans = PLANS[plan]()
    over = _overrides(args)
    plans = {k: replace(p, train=replace(p.train, **over)) for k, p in plans.items()}
    min_face = args.min_face_size or (14.0 if synthetic else 20.0)
    stages = ("pnet", "rnet", "onet") if args.stage == "all" else (args.stage,)
    out = Path(args.out)
    try:
        nets, _ = train_cascade(photos, out, landmark_photos=lms, plans=plans, stages=stages, min_face_size=min_face,
                                seed=args.seed, workers=args.workers, resume=args.resume,
                                progress=not args.no_progress, log=log)
    except ValueError as exc:
        print(f"tinymtcnn train: error: {exc}", file=sys.stderr)
        return 2
    log(f"weights written to {out}/: " + ", ".join(f"{k}.npz" for k in stages))
    if args.stage == "all" and synthetic and args.eval_synthetic > 0:
        from ..detect.detector import MTCNN
        from .synthetic import SyntheticFaces

        held_out = SyntheticFaces(args.eval_synthetic, seed=args.seed + 1_000_003, min_face=14.0)
        det = MTCNN(weights=nets, min_face_size=min_face)
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
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
