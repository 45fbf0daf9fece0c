"""``tinymtcnn evaluate``: standard detection and landmark metrics of one or more detectors on annotated sets.

Writes ``results.json``, ``results.md`` and ``pr.png`` / ``roc.png`` / ``ced.png`` (whichever apply) into
``--out``; the Markdown also goes to stdout. Protocols: ``docs/evaluation.md``.
"""
import argparse
import sys
from pathlib import Path

EPILOG = """examples:
  tinymtcnn evaluate ../shared/data/caltech_train/val_bbx_gt.txt --images ../shared/data/caltech_train/images \\
      --out eval/caltech
  tinymtcnn evaluate ../shared/data/faces_dev/annotations.json --landmarks onet mirror refine auto --out eval/dev
  tinymtcnn evaluate holdout.txt --format landmarks --images ../shared/data/mtfl_train --out eval/mtfl
  tinymtcnn evaluate wider_face_val_bbx_gt.txt --images WIDER_val/images --split easy=wider_easy_val.mat \\
      --split medium=wider_medium_val.mat --split hard=wider_hard_val.mat --weights authors runs/real --out eval/wider
"""


def register(subparsers):
    """Add the ``evaluate`` sub-command to an ``argparse`` sub-parser collection."""
    p = subparsers.add_parser("evaluate", help="standard evaluation: AP, FDDB ROC, recall, landmark NME/CED",
                              description=__doc__.split("\n\n")[0], epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("annotations", nargs="+", metavar="FILE",
                   help="annotation files: WIDER bbx_gt, FDDB ellipse list, JSON or (--format landmarks) a landmark list")
    p.add_argument("--images", action="append", default=[], metavar="ROOT",
                   help="image root, once for all files or once per file (default: beside each file)")
    p.add_argument("--format", default="auto", choices=("auto", "wider", "fddb", "json", "landmarks"))
    p.add_argument("--split", action="append", default=[], metavar="SETTING=FILE",
                   help="WIDER easy/medium/hard list (.mat or text 'name i j ...'), repeatable")
    p.add_argument("--weights", nargs="+", default=["authors"], metavar="DIR",
                   help="'authors' (shipped weights) and/or folders with pnet/rnet/onet.npz (authors)")
    p.add_argument("--landmarks", nargs="+", default=["auto"], choices=("onet", "mirror", "refine", "auto", "tuned"),
                   help="landmark modes to compare (auto); tuned: fine-tuned on research-use data (MTFL)")
    p.add_argument("--min-face-size", type=float, default=20.0, metavar="N", help="smallest face in pixels (20)")
    p.add_argument("--thresholds", type=float, nargs=3, default=(0.6, 0.7, 0.7), metavar=("A", "B", "C"))
    p.add_argument("--limit", type=int, default=0, metavar="N", help="only the first N photos of each set")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="threads (default: all cores; 1 per "
                                                                         "task with --scheduler)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="detect on this Dask cluster (tcp://host:8786; needs "
                                                          "tinymtcnn[dask]; the workers read the same image paths)")
    p.add_argument("--out", metavar="DIR", help="folder for results.json, results.md and the plots")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=run)
    return p


def _detectors(args):
    from .. import MTCNN

    out = {}
    for w in args.weights:
        for mode in args.landmarks:
            if mode == "tuned" and w != "authors":  # the tuned head sits on the authors' O-Net only
                print(f"tinymtcnn evaluate: --landmarks tuned goes with the authors' weights only (it is their "
                      f"O-Net with a fine-tuned landmark head); not run for {w}", file=sys.stderr)
                continue
            label = "authors" if w == "authors" else (Path(w).name or str(w))
            out[f"{label}/{mode}"] = MTCNN(min_face_size=args.min_face_size, thresholds=args.thresholds,
                                           landmarks=mode, weights=None if w == "authors" else w,
                                           num_threads=args.threads)
    return out


def _splits(items):
    out = {}
    for item in items:
        setting, sep, path = item.partition("=")
        if not sep or not path:
            raise ValueError(f"--split wants SETTING=FILE (easy, medium or hard), got {item!r}")
        out[setting] = path
    return out


def _check_outputs(out_dir, inputs):
    names = ("results.json", "results.md", "pr.png", "roc.png", "ced.png")
    taken = {Path(p).resolve() for p in inputs}
    clash = [n for n in names if (out_dir / n).resolve() in taken]
    if clash:
        raise ValueError(f"--out {out_dir} would overwrite the input {clash[0]}; choose another folder")


def run(args):
    """Evaluate and write the outputs; 0 on success, 1 when a photo cannot be read, 2 on a usage error
    (bad option, unreadable annotations, missing images, outputs over inputs); messages on stderr."""
    import json

    from ..atomic import atomic_write_text
    from ..process_pool import PoolBroken
    from .datasets import load_set
    from .report import markdown, plot_curves
    from .run import evaluate

    try:
        if len(args.images) not in (0, 1, len(args.annotations)):
            raise ValueError(f"give --images once or once per annotation file ({len(args.annotations)}), "
                             f"got {len(args.images)}")
        if args.limit < 0:
            raise ValueError(f"--limit must be >= 0, got {args.limit}")
        roots = args.images * len(args.annotations) if len(args.images) == 1 else args.images or \
            [None] * len(args.annotations)
        splits = _splits(args.split)
        sets = []
        for path, root in zip(args.annotations, roots):
            data = load_set(path, root, args.format, splits=splits)
            if args.limit:
                data.annotations = data.annotations[:args.limit]
            missing = [str(a.path) for a in data.annotations if not a.path.is_file()]
            if missing:
                raise ValueError(f"{len(missing)} image(s) of {path} not found, e.g. {missing[0]}; "
                                 f"give their folder with --images")
            sets.append(data)
        out_dir = Path(args.out) if args.out else None
        if out_dir is not None:
            _check_outputs(out_dir, args.annotations)
        detectors = _detectors(args)
        if not detectors:
            raise ValueError("no detector left to evaluate (--landmarks tuned goes with --weights authors)")
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
        client = None
        if args.scheduler:
            from ..distributed import client_for

            client = client_for(args.scheduler)
    except (ValueError, TypeError, OSError) as err:
        print(f"tinymtcnn evaluate: {err}", file=sys.stderr)
        return 2
    results = []
    for data in sets:
        try:
            results.append(evaluate(detectors, data, progress=not args.no_progress, client=client))
        except (ValueError, PoolBroken) as err:  # an unreadable image or one beyond the budgets; a lost cluster
            print(f"tinymtcnn evaluate: {data.name}: {err}", file=sys.stderr)
            return 1
        text = markdown(results[-1])
        print(text, flush=True)
        if out_dir is not None:  # after every set, so an interruption keeps the sets done
            atomic_write_text(out_dir / "results.json", json.dumps(results, indent=1))
            atomic_write_text(out_dir / "results.md", "\n".join(markdown(r) for r in results))
    if out_dir is not None:
        for kind in ("pr", "roc", "ced"):
            if plot_curves(results, kind, out_dir / f"{kind}.png"):
                print(f"wrote {out_dir / (kind + '.png')}", file=sys.stderr)
    return 0


def main(argv=None):
    """``python -m tinymtcnn.eval.cli ...``: the sub-command on its own."""
    parser = argparse.ArgumentParser(prog="tinymtcnn")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["evaluate"] + list(sys.argv[1:] if argv is None else argv))
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
