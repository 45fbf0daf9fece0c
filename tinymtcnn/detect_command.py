"""``tinymtcnn detect``: every check before any work, then the photos, each record kept as it finishes.

Outputs that would overwrite an input or land in a searched input folder are refused (exit 2,
:mod:`tinymtcnn.outputs`); with ``--json`` each record is streamed to the partial results file and the
JSON is written atomically at the end (:mod:`tinymtcnn.records`); ``--workers`` runs the photos in a
pool that replaces a killed worker (:mod:`tinymtcnn.process_pool`); Ctrl-C ends with status 130 and one
line. The per-photo work (:func:`tinymtcnn.cli._process`) stays in :mod:`tinymtcnn.cli`, where the
spawned workers find it.
"""
import json
import os
import sys
from pathlib import Path

from . import cli
from .process_pool import PoolBroken


def _say(message, status):
    print(f"{cli.PROG} detect: {message}", file=sys.stderr)
    return status


def run_detect(args):
    """``tinymtcnn detect``: check, detect (streaming each record), write the JSON; -> exit status."""
    from .io import iter_image_files

    options = cli._detector_options(args)
    try:
        detector = cli._make_detector(options)  # validates the options before any work
    except ValueError as exc:
        return _say(f"error: {exc}", 2)
    if args.resume and args.json is None:
        return _say("error: --resume needs --json FILE (the partial results are kept beside it)", 2)
    paths = list(iter_image_files(args.paths))
    if not paths:
        return _say(f"no image files found in {' '.join(args.paths)}", 1)
    try:
        if args.scheduler is not None:
            from .distributed import client_for

            client_for(args.scheduler)  # Dask installed and the scheduler answers, before any work
        writer, stamps, done, pictures = _plan_detect(args, options, paths)
    except ValueError as exc:  # refused before any work: inputs, destinations, partial results
        return _say(f"error: {exc}", 2)
    todo = [(i, (paths[i], pictures[i])) for i in range(len(paths)) if i not in done]
    records = dict(done)
    try:
        failed, unsaved = _run_detect(args, options, detector, todo, writer, stamps, records)
        ordered = [records[i] for i in sorted(records)]
        if writer is None:
            print(json.dumps(ordered, indent=2))
        else:
            try:
                writer.finish(ordered)
            except OSError as exc:
                return _say(f"error: cannot write {args.json!r}: {exc.strerror or exc}; all {len(records)} results "
                            f"are kept in {str(writer.partial)!r}: make room and rerun the same command with "
                            f"--resume", 1)
    except KeyboardInterrupt:
        return _interrupted(len(records), len(paths), writer, records)
    except PoolBroken as exc:  # e.g. out of memory before the first photo: the messages above say more
        kept = (f"the {len(records)} photo(s) done are kept in {str(writer.partial)!r} (rerun with --resume)"
                if writer is not None else f"{len(records)} photo(s) were done")
        return _say(f"error: stopped: {exc}; {kept}", 1)
    except OSError as exc:  # the partial results stream cannot be written (disk full...)
        if writer is None or isinstance(exc, BrokenPipeError):
            raise  # stdout closed: main() ends quietly
        return _say(f"error: cannot write {str(writer.partial)!r}: {exc.strerror or exc}; stopped, the "
                    f"{len(records)} photo(s) done are kept in it: make room and rerun the same command with "
                    f"--resume", 1)
    finally:
        if writer is not None:
            writer.close()
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
    searched = [p for p in args.paths if Path(p).is_dir()]
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
        check_out_dir(out_dir, searched, pictures, inputs)
    if args.json is not None:
        check_json_file(args.json, inputs, pictures if out_dir is not None else (), searched)
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
            bar.write(f"{cli.PROG} detect: a worker process died ({how}) on {str(task[0])!r}; {then}", file=sys.stderr)

        with contextlib.closing(_results(args, options, detector, todo, on_death)) as results:
            for index, (record, error) in results:
                if record is None:
                    failed += 1
                    bar.write(f"{cli.PROG} detect: {error}", file=sys.stderr)
                else:
                    if writer is not None:
                        writer.add(record, stamps[index])
                    records[index] = record
                    if "annotate_error" in record:
                        unsaved += 1
                        bar.write(f"{cli.PROG} detect: {record['annotate_error']} (the detection is kept)",
                                  file=sys.stderr)
                bar.update()
    return failed, unsaved


def _results(args, options, detector, todo, on_death):
    """Yield ``(index, (record, error))`` as photos finish: here, in ``--workers`` processes, or on ``--scheduler``."""
    if args.scheduler is not None:  # a Dask cluster (tinymtcnn.distributed): the same per-photo function
        from .distributed import client_for, iter_detect

        paths, pictures = [task[0] for _, task in todo], [task[1] for _, task in todo]
        for k, result in iter_detect(paths, client_for(args.scheduler), options=options, pictures=pictures):
            yield todo[k][0], result
        return
    if args.workers == 1 or len(todo) < 2:
        for index, task in todo:
            yield index, cli._process(detector, *task)
        return
    from .process_pool import WorkerPool

    path_of = {index: task[0] for index, task in todo}
    with WorkerPool(cli._process_in_worker, min(args.workers, len(todo)), initializer=cli._init_worker,
                    initargs=(cli._worker_options(options),), on_death=on_death) as pool:
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
