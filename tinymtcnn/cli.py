"""Command line: ``tinymtcnn detect | demo | train`` (also ``python -m tinymtcnn``).

Exit status: 0 success, 1 when some input could not be processed (each one is
reported on stderr and skipped), 2 for usage errors (bad options or values, outputs
that would overwrite inputs), 130 when interrupted (Ctrl-C).
"""
import argparse
import json
import os
import sys
from importlib import resources
from pathlib import Path

from . import __version__

try:
    from .train.cli import register as _register_train
except ImportError:
    _register_train = None

PROG = "tinymtcnn"


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
        return None, f"failed on {str(path)!r}: {type(exc).__name__}: {exc}"
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
            "num_threads": args.threads}


def _worker_options(options):
    """Options of each worker process: one thread each unless ``--threads`` says otherwise (N workers
    with all cores each would run N x cores threads on the cores: oversubscription)."""
    return dict(options, num_threads=options["num_threads"] or 1)


def _say(message, status):
    print(f"{PROG} detect: {message}", file=sys.stderr)
    return status


def _cmd_detect(args):
    from .io import iter_image_files

    options = _detector_options(args)
    try:
        detector = _make_detector(options)  # validates the options before any work
    except ValueError as exc:
        return _say(f"error: {exc}", 2)
    if args.resume and args.json is None:
        return _say("error: --resume needs --json FILE (the partial results are kept beside it)", 2)
    paths = list(iter_image_files(args.paths))
    if not paths:
        return _say(f"no image files found in {' '.join(args.paths)}", 1)
    try:
        writer, stamps, done, pictures = _plan_detect(args, options, paths)
    except ValueError as exc:  # refused before any work: inputs, destinations, partial results
        return _say(f"error: {exc}", 2)
    todo = [(i, (paths[i], pictures[i])) for i in range(len(paths)) if i not in done]
    records = dict(done)
    try:
        failed, unsaved = _run_detect(args, options, detector, todo, writer, stamps, records)
    except KeyboardInterrupt:
        return _interrupted(len(records), len(paths), writer, records)
    except OSError as exc:  # the partial results stream cannot be written (disk full...)
        where = writer.partial if writer is not None else "?"
        return _say(f"error: cannot write {str(where)!r}: {exc.strerror or exc}; stopped, the {len(records)} "
                    f"photo(s) done are kept in it: make room and rerun the same command with --resume", 1)
    finally:
        if writer is not None:
            writer.close()
    ordered = [records[i] for i in sorted(records)]
    if writer is None:
        print(json.dumps(ordered, indent=2))
    else:
        try:
            writer.finish(ordered)
        except OSError as exc:
            return _say(f"error: cannot write {args.json!r}: {exc.strerror or exc}; all {len(records)} results are "
                        f"kept in {str(writer.partial)!r}: make room and rerun the same command with --resume", 1)
    if failed:
        _say(f"{failed} of {len(paths)} file(s) failed", 1)
    if unsaved:
        _say(f"{unsaved} annotated picture(s) could not be written (their detections are in the JSON, "
             f"with annotate_error)", 1)
    return 1 if failed or unsaved else 0


def _plan_detect(args, options, paths):
    """Every check before any work -> ``(writer or None, stamps, done {index: record}, pictures)``.

    Raises ValueError (a usage error) when an output would overwrite or feed back into the inputs,
    a destination is not writable, or partial results of an earlier run are in the way.
    """
    from .outputs import InputFiles, annotated_names, check_json_file, check_out_dir, prepare_folder
    from .records import RecordWriter, file_stamp

    inputs = InputFiles(paths)
    stamps = [file_stamp(p) for p in paths]
    out_dir = None if args.out is None else Path(args.out)
    writer, done = None, {}
    if args.json is not None:
        settings = {k: v for k, v in options.items() if k != "num_threads"}
        settings["weights"] = None if args.weights is None else os.path.abspath(args.weights)
        settings["out"] = None if out_dir is None else os.path.abspath(out_dir)
        writer = RecordWriter(args.json, settings)
        writer.load(args.resume)
        for i, stamp in enumerate(stamps):
            record = writer.done(stamp)
            if record is not None and "annotate_error" not in record and (
                    out_dir is None or (record.get("annotated") and os.path.exists(record["annotated"]))):
                done[i] = record
    pictures = [None] * len(paths)
    if out_dir is not None:
        pictures = annotated_names(paths, out_dir, {i: r["annotated"] for i, r in done.items()})
        check_out_dir(out_dir, [p for p in args.paths if Path(p).is_dir()], pictures, inputs)
    if args.json is not None:
        check_json_file(args.json, inputs, pictures if out_dir is not None else ())
        prepare_folder(Path(args.json).parent, "--json")
    if out_dir is not None:
        prepare_folder(out_dir, "--out")
    return writer, stamps, done, pictures


def _run_detect(args, options, detector, todo, writer, stamps, records):
    """Detect on ``todo``, streaming each record; -> ``(failed inputs, unsaved pictures)``."""
    import contextlib

    from tqdm import tqdm

    n_total = len(todo) + len(records)
    failed = unsaved = 0
    if writer is not None:
        writer.open()
    with tqdm(total=n_total, initial=len(records), desc="detect", unit="img", file=sys.stderr,
              disable=True if args.no_progress else None) as bar:

        def on_death(task, how, retrying):
            then = "retrying it on a new worker" if retrying else "giving up on it"
            bar.write(f"{PROG} detect: a worker process died ({how}) on {str(task[0])!r}; {then}", file=sys.stderr)

        with contextlib.closing(_results(args, options, detector, todo, on_death)) as results:
            for index, (record, error) in results:
                if record is None:
                    failed += 1
                    bar.write(f"{PROG} detect: {error}", file=sys.stderr)
                else:
                    if writer is not None:
                        writer.add(record, stamps[index])
                    records[index] = record
                    if "annotate_error" in record:
                        unsaved += 1
                        bar.write(f"{PROG} detect: {record['annotate_error']} (the detection is kept)",
                                  file=sys.stderr)
                bar.update()
    return failed, unsaved


def _results(args, options, detector, todo, on_death):
    """Yield ``(index, (record, error))`` as photos finish: in this process, or in ``--workers`` processes."""
    if args.workers == 1 or len(todo) < 2:
        for index, task in todo:
            yield index, _process(detector, *task)
        return
    from .process_pool import WorkerPool

    path_of = {index: task[0] for index, task in todo}
    with WorkerPool(_process_in_worker, min(args.workers, len(todo)), initializer=_init_worker,
                    initargs=(_worker_options(options),), on_death=on_death) as pool:
        for index, result, error in pool.run(todo):
            yield index, (result if error is None else (None, f"failed on {str(path_of[index])!r}: {error}"))


def _interrupted(n_done, n_total, writer, records):
    """Ctrl-C: one line on stderr; the finished records stay in the stream (or go to stdout without --json)."""
    if writer is not None:
        where = (f"results kept in {str(writer.partial)!r}; rerun the same command with --resume to finish"
                 if writer.partial.exists() else "nothing written")
    else:
        print(json.dumps([records[i] for i in sorted(records)], indent=2))
        where = "their results are on stdout (with --json FILE they are kept for --resume)"
    return _say(f"interrupted: {n_done} of {n_total} photo(s) done; {where}", 130)


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
    det.add_argument("--landmarks", choices=("onet", "mirror", "refine"), default="onet",
                     help="landmark mode (onet)")
    det.add_argument("--weights", default=None, metavar="DIR",
                     help="folder with pnet.npz, rnet.npz, onet.npz (default: the authors' weights)")
    det.add_argument("--workers", type=_positive_int, default=1, metavar="N",
                     help="parallel worker processes (1)")
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

    if _register_train is not None:
        _register_train(sub)
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
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        status = args.func(args)
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
