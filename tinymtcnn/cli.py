"""Command line: ``tinymtcnn detect | demo | align | train | evaluate | experiment`` (also ``python -m tinymtcnn``).

Exit status: 0 success, 1 when some input could not be processed (each one is
reported on stderr and skipped), 2 for usage errors (bad options or values, outputs
that would overwrite inputs), 130 when interrupted (Ctrl-C).
"""
import argparse
import os
import sys
from importlib import resources

from . import __version__


PROG = "tinymtcnn"


def task_not_done(exc):
    """``"task 3.1 (heat map to boxes) is not done yet"`` for the stub of an assignment task in a
    student copy (``NotImplementedError("Task 3.1: heat map to boxes")``), else None."""
    text = str(exc) if isinstance(exc, NotImplementedError) else ""
    number, _, title = text.partition(": ")
    if not (number.startswith("Task ") and title):
        return None
    return f"task {number[5:]} ({title}) is not done yet"


# ------------------------------------------------------------------ per-image work
_WORKER_DETECTOR = None


def _make_detector(options):
    from .detect.detector import MTCNN

    return MTCNN(**options)


def _init_worker(options):
    """Worker initializer: one detector per worker process, built once."""
    global _WORKER_DETECTOR
    _WORKER_DETECTOR = _make_detector(options)


def _process(detector, path, png_path):
    """Detect on one file -> ``(record, None)`` or ``(None, error message)``.

    A picture that cannot be saved keeps the detection: the record says ``"annotated": null`` and
    ``"annotate_error"``.
    """
    from .io import load_image

    try:
        image = load_image(path)
    except (ValueError, TypeError, OSError) as exc:
        return None, f"skipped: {exc}"  # load_image's messages name the path
    try:
        faces = detector.detect(image)
    except Exception as exc:  # one bad image must not abort a batch: reported, exit status 1
        return None, f"failed on {str(path)!r}: {task_not_done(exc) or f'{type(exc).__name__}: {exc}'}"
    record = {"path": str(path), "annotated": None, "width": int(image.shape[1]),
              "height": int(image.shape[0]), "faces": faces.to_dicts()}
    if png_path is not None:
        from .outputs import save_picture
        from .viz import annotate_image

        try:
            save_picture(annotate_image(image, faces), png_path)
            record["annotated"] = str(png_path)
        except Exception as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
            record["annotate_error"] = f"cannot write {str(png_path)!r}: {reason}"
    return record, None


def _process_in_worker(task):
    return _process(_WORKER_DETECTOR, *task)


# ------------------------------------------------------------------ commands
def _detector_options(args):
    return {"min_face_size": args.min_face_size, "thresholds": tuple(args.thresholds),
            "scale_factor": args.scale_factor, "landmarks": args.landmarks, "weights": args.weights,
            "num_threads": args.threads,
            **{k: getattr(args, k) for k in ("max_memory", "max_pyramid_pixels") if getattr(args, k) is not None}}


def _worker_options(options):
    """Options of each worker process: one thread each unless ``--threads`` says otherwise (N workers
    with all cores each would run N x cores threads on the cores: oversubscription)."""
    return dict(options, num_threads=options["num_threads"] or 1)


def _cmd_detect(args):
    from .detect_command import run_detect

    return run_detect(args)


def _cmd_demo(args):
    from .io import load_image
    from .outputs import save_picture
    from .viz import annotate_image

    asset = resources.files("tinymtcnn") / "assets" / "astronaut.png"
    with resources.as_file(asset) as path:
        if os.path.exists(args.out) and os.path.samefile(args.out, path):
            print(f"{PROG} demo: error: --out {args.out!r} is the bundled photo itself; choose another name",
                  file=sys.stderr)
            return 2
        image = load_image(path)
    faces = _make_detector({}).detect(image)
    print(f"astronaut.png ({image.shape[1]}x{image.shape[0]}, NASA, public domain): {len(faces)} face(s)")
    for i, face in enumerate(faces.to_dicts()):
        box = ", ".join(f"{v:.1f}" for v in face["box"])
        print(f"  face {i}: score {face['score']:.4f}  box [{box}]")
        for name, (x, y) in face["landmarks"].items():
            print(f"    {name:<12} ({x:.1f}, {y:.1f})")
    try:
        save_picture(annotate_image(image, faces), args.out)  # atomic: a failed save leaves no half file
    except (OSError, ValueError) as exc:
        print(f"{PROG} demo: error: cannot write {args.out!r}: {exc}", file=sys.stderr)
        return 1
    print(f"annotated picture written to {args.out}")
    return 0


# ------------------------------------------------------------------ parser
def _budget(text):
    """A positive number of bytes or pixels (``3e9``, ``inf``) for the cost budgets (docs/pipeline.md)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number such as 3e9 or inf, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser():
    """The ``argparse`` parser of the ``tinymtcnn`` command (sub-commands detect, demo, train)."""
    parser = argparse.ArgumentParser(prog=PROG, description="MTCNN face detection and 5-point landmarks "
                                                            "(numpy + Numba, no deep-learning framework).")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    det = sub.add_parser("detect", help="detect faces in images and folders of images",
                         description="Detect faces; JSON (a list of {path, annotated, width, height, faces}) on "
                                     "stdout or --json FILE. Unreadable files are reported on stderr and skipped. "
                                     "Outputs that would overwrite an input or land in a searched input folder "
                                     "are refused before any work. With --json, each result is saved as it "
                                     "finishes in FILE.partial.jsonl until FILE is written; after a crash or "
                                     "Ctrl-C, --resume skips the photos already done. Exit status: 0 ok, "
                                     "1 some input failed, 2 usage error, 130 interrupted.")
    det.add_argument("paths", nargs="+", metavar="PATH", help="image files or directories (walked recursively)")
    det.add_argument("--out", metavar="DIR", help="write annotated PNGs into DIR (<stem>.png; <stem>-1.png... when "
                                                  "names collide; each record names its picture)")
    det.add_argument("--json", metavar="FILE", help="write the JSON to FILE (atomically) instead of stdout")
    det.add_argument("--resume", action="store_true",
                     help="continue an unfinished --json run: skip photos whose results are in FILE.partial.jsonl "
                          "(same path, size and modification time)")
    det.add_argument("--min-face-size", type=float, default=20.0, metavar="N", help="smallest face in pixels (20)")
    det.add_argument("--thresholds", type=float, nargs=3, default=(0.6, 0.7, 0.7), metavar=("A", "B", "C"),
                     help="P-Net, R-Net, O-Net thresholds (0.6 0.7 0.7)")
    det.add_argument("--scale-factor", type=float, default=0.709, metavar="F", help="pyramid ratio (0.709)")
    det.add_argument("--landmarks", choices=("onet", "mirror", "refine", "auto", "tuned"), default="auto",
                     help="landmark mode (auto); tuned: fine-tuned on research-use data (MTFL)")
    det.add_argument("--max-memory", type=_budget, default=None, metavar="BYTES",
                     help="refuse a photo whose first stage would need more memory (default: MTCNN's max_memory, "
                          "1.5e9; inf: no limit; docs/pipeline.md)")
    det.add_argument("--max-pyramid-pixels", type=_budget, default=None, metavar="N",
                     help="refuse a photo whose pyramid has more pixels (default: MTCNN's max_pyramid_pixels, "
                          "2.5e8, about a minute on two cores; inf: no limit)")
    det.add_argument("--weights", default=None, metavar="DIR",
                     help="folder with pnet.npz, rnet.npz, onet.npz (default: the authors' weights)")
    where = det.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_positive_int, default=1, metavar="N",
                       help="parallel worker processes (1)")
    where.add_argument("--scheduler", metavar="ADDRESS", help="detect on this Dask cluster instead (tcp://host:8786; "
                                                               "needs tinymtcnn[dask]; see docs/distributed.md)")
    det.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                     help="threads per process (default: all cores; 1 per worker with --workers)")
    det.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    det.set_defaults(func=_cmd_detect)

    demo = sub.add_parser("demo", help="detect on the bundled astronaut photo",
                          description="Detect faces on the bundled photo of astronaut Eileen Collins "
                                      "(NASA, public domain) and write the annotated picture.")
    demo.add_argument("--out", default="astronaut_detections.png", metavar="FILE",
                      help="annotated picture (./astronaut_detections.png)")
    demo.set_defaults(func=_cmd_demo)

    # imported here, not at the top: align_command imports this module, and train/eval load numpy and
    # Numba, which takes a second; main() turns a Ctrl-C during that into exit 130 without a traceback
    from .align_command import register as register_align
    from .eval.cli import register as register_evaluate
    from .train.cli import register as register_train
    from .train.experiment_cli import register as register_experiment

    register_align(sub)
    register_train(sub)
    register_experiment(sub)
    register_evaluate(sub)
    return parser


def main(argv=None):
    """Entry point of the ``tinymtcnn`` console script; returns the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (``sys.argv[1:]`` when None).

    Returns
    -------
    int
        0 success, 1 some input failed, 2 usage error, 130 interrupted (Ctrl-C).
    """
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    except KeyboardInterrupt:  # Ctrl-C while the modules load: no traceback
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        status = args.func(args)
    except NotImplementedError as exc:  # an assignment's student copy: which task is missing, no traceback
        if not task_not_done(exc):
            raise
        print(f"{PROG}: {task_not_done(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C outside a detect run's own handling: no traceback
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `tinymtcnn detect ... | head`: the reader left; no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that Python's exit-time flush does not fail again
        return 1
    return 0 if status is None else int(status)


if __name__ == "__main__":
    sys.exit(main())
