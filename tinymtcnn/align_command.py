"""``tinymtcnn align``: one aligned crop per face for a whole photo tree (face-recognition preprocessing).

What facenet's ``align_dataset_mtcnn.py`` does, under the detect command's rules: every check before
any work (:mod:`tinymtcnn.outputs`), each photo's record streamed as it finishes and the index written
atomically at the end (:mod:`tinymtcnn.records`), ``--workers`` in the pool that replaces a killed
worker (:mod:`tinymtcnn.process_pool`), Ctrl-C ends with status 130 and one line. A rerun skips the
photos the index (or the partial index of an interrupted run) holds, unchanged and with all their
crops. The per-photo work is :func:`tinymtcnn.align_photos.align_photo`. Layout and index: docs/cli.md.
"""
import contextlib
import json
import os
import sys
from pathlib import Path, PurePosixPath

from . import cli
from .align_photos import CROP_NAME, align_photo
from .process_pool import PoolBroken

INDEX_NAME = "index.json"
INDEX_FORMAT = "tinymtcnn align index"
INDEX_VERSION = 1
SHOWN_FACELESS = 10  # faceless photos named in the summary (all are in the index)


def register(subparsers):
    """Add the ``align`` sub-command to an ``argparse`` sub-parser collection."""
    p = subparsers.add_parser(
        "align", help="aligned face crops of a photo tree (face-recognition preprocessing)",
        description="One aligned crop per face (5-point similarity transform onto the ArcFace template), "
                    "DIR mirroring each input folder's tree: in/a/b.jpg gives DIR/a/b_0.png, b_1.png... "
                    "DIR/index.json lists every photo (source, faces: number, box, score, landmarks, crop), "
                    "faceless and unreadable ones too; it is streamed to DIR/index.json.partial.jsonl while "
                    "the run lasts. A rerun skips the photos already done. Exit status: 0 ok, 1 some photo "
                    "unreadable or failed, 2 usage error (nothing written), 130 interrupted.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (walked recursively)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder of the crops and index.json")
    p.add_argument("--size", type=cli._positive_int, default=112, metavar="PX", help="side of the crops (112)")
    p.add_argument("--margin", type=float, default=0.0, metavar="M",
                   help="pixels of the crop around the face, M/2 each side (0: the plain ArcFace crop)")
    p.add_argument("--largest-only", action="store_true", help="only the largest face of each photo")
    p.add_argument("--min-face-size", type=float, default=20.0, metavar="N", help="smallest face in pixels (20)")
    p.add_argument("--thresholds", type=float, nargs=3, default=(0.6, 0.7, 0.7), metavar=("A", "B", "C"),
                   help="P-Net, R-Net, O-Net thresholds (0.6 0.7 0.7)")
    p.add_argument("--weights", default=None, metavar="DIR", help="folder with pnet.npz, rnet.npz, onet.npz")
    p.add_argument("--workers", type=cli._positive_int, default=1, metavar="N", help="worker processes (1)")
    p.add_argument("--threads", type=cli._positive_int, default=None, metavar="N",
                   help="threads per process (default: all cores; 1 per worker with --workers)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=run_align)


def _say(message, status):
    print(f"{cli.PROG} align: {message}", file=sys.stderr)
    return status


def run_align(args):
    """``tinymtcnn align``: check, align (streaming each record), write the index; -> exit status."""
    options = {"min_face_size": args.min_face_size, "thresholds": tuple(args.thresholds), "weights": args.weights,
               "num_threads": args.threads}
    if not 0 <= args.margin < args.size:
        return _say(f"error: --margin must be in [0, --size) = [0, {args.size}), got {args.margin:g}", 2)
    try:
        detector = cli._make_detector(options)  # validates the options before any work
    except (ValueError, TypeError) as exc:
        return _say(f"error: {exc}", 2)
    photos = find_photos(args.paths)
    if not photos:
        return _say(f"no image files found in {' '.join(args.paths)}", 1)
    settings = {k: v for k, v in options.items() if k != "num_threads"}
    settings.update(weights=None if args.weights is None else os.path.abspath(args.weights), size=args.size,
                    margin=args.margin, largest_only=args.largest_only)
    try:
        writer, stamps, done, stems, kept = _plan(args, settings, photos)
    except ValueError as exc:  # refused before any work: inputs, crops of others, an index of other settings
        return _say(f"error: {exc}", 2)
    out = Path(args.out)
    todo = [(i, (photos[i][0], out, stems[i], args.size, args.margin, args.largest_only))
            for i in range(len(photos)) if i not in done]
    records = dict(done)
    try:
        _run(args, options, detector, todo, writer, stamps, records)
        ordered = [(stamps[i], records[i]) for i in sorted(records)] + kept
        writer.finish({"format": INDEX_FORMAT, "version": INDEX_VERSION, "settings": writer.settings,
                       "photos": [dict(record, stamp=stamp) for stamp, record in ordered]})
    except KeyboardInterrupt:
        kept_in = (f"results kept in {str(writer.partial)!r}; rerun the same command to finish"
                   if writer.partial.exists() else "nothing written")
        return _say(f"interrupted: {len(records)} of {len(photos)} photo(s) done; {kept_in}", 130)
    except (PoolBroken, OSError) as exc:  # workers dying at start; the index or its stream cannot be written
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        return _say(f"error: stopped: {reason}; the {len(records)} photo(s) done are kept in "
                    f"{str(writer.partial)!r}: rerun the same command to finish", 1)
    finally:
        writer.close()
    return _summary(records, len(done), out / INDEX_NAME)


def find_photos(paths):
    """``[(photo, path under --out)]``: a folder's tree is mirrored, a file goes to the top; each photo once."""
    from .io import iter_image_files

    seen, photos = set(), []
    for arg in paths:
        root = Path(arg)
        for photo in iter_image_files([root]):
            key = os.path.normcase(os.path.abspath(photo))
            if key not in seen:
                seen.add(key)
                photos.append((photo, photo.relative_to(root) if root.is_dir() else Path(photo.name)))
    return photos


def crop_stems(photos, reserved, taken=()):
    """Each photo's crops ``<stem>_<k>.png`` (relative to --out) without the ``_<k>.png``.

    ``a/b.jpg`` -> ``a/b``; names that collide (case-insensitively: ``b.jpg`` and ``b.png``) get
    ``b-1``, ``b-2``... in input order. ``reserved`` ``{index: stem}`` keeps the stems an earlier run
    gave; ``taken`` are stems of other photos in the index; both are avoided.
    """
    used = {_key(s) for s in [*reserved.values(), *taken]}
    stems = []
    for i, (_, rel) in enumerate(photos):
        if i in reserved:
            stems.append(reserved[i])
            continue
        base = PurePosixPath(rel.parent.as_posix(), rel.stem or "image")
        stem, k = base, 0
        while _key(stem) in used:
            k += 1
            stem = base.with_name(f"{base.name}-{k}")
        used.add(_key(stem))
        stems.append(stem)
    return stems


def _key(stem):
    return PurePosixPath(stem).as_posix().lower()


def _stem_of(record):
    """The stem of an index record's crops, or None (no crops)."""
    faces = record.get("faces") or []
    match = CROP_NAME.fullmatch(PurePosixPath(faces[0].get("crop", "")).name) if faces else None
    return None if match is None else PurePosixPath(faces[0]["crop"]).with_name(match["stem"])


def _plan(args, settings, photos):
    """Every check before any work -> ``(writer, stamps, done {index: record}, stems, kept)``.

    ``kept``: ``(stamp, record)`` of photos in the index that this run was not given (their crops stay).
    Raises ValueError when the crops would land in a searched input folder or replace a file that is an
    input or that tinymtcnn did not write, or the index holds something else or other settings.
    """
    from .outputs import InputFiles, check_out_dir, prepare_folder
    from .records import RecordWriter, file_stamp

    out, searched = Path(args.out), [p for p in args.paths if Path(p).is_dir()]
    check_out_dir(out, searched, (), InputFiles([]))
    inputs = InputFiles([p for p, _ in photos])
    writer = RecordWriter(out / INDEX_NAME, settings)
    if inputs.holds(writer.json_path) or inputs.holds(writer.partial):
        raise ValueError(f"--out {str(out)!r}: its index would overwrite an input; choose another folder")
    for stamp, record in _read_index(writer):
        writer.remember(stamp, record)
    writer.load(resume=True)  # the stream of an interrupted run, if any, wins
    stamps = [file_stamp(p) for p, _ in photos]
    earlier = [None if s is None else writer.previous.get(s["file"], (None, None))[1] for s in stamps]
    done = {i: r for i, r in enumerate(earlier) if r is not None and writer.done(stamps[i]) is r
            and "error" not in r and all((out / f["crop"]).is_file() for f in r.get("faces", []))}
    files = {s["file"] for s in stamps if s is not None}
    kept = [(s, r) for f, (s, r) in writer.previous.items() if f not in files]
    reserved = {i: _stem_of(r) for i, r in enumerate(earlier) if r is not None and _stem_of(r) is not None}
    stems = crop_stems(photos, reserved, [_stem_of(r) for _, r in kept if _stem_of(r) is not None])
    folders = {}
    for i, stem in enumerate(stems):
        if i not in done:
            folders.setdefault(out / stem.parent, set()).add(stem.name.lower())
    for folder, names in folders.items():
        existing = [e for e in (folder.iterdir() if folder.is_dir() else ())
                    if CROP_NAME.fullmatch(e.name) and CROP_NAME.fullmatch(e.name)["stem"].lower() in names]
        check_out_dir(folder, searched, existing, inputs)
    prepare_folder(out, "--out")
    return writer, stamps, done, stems, kept


def _read_index(writer):
    """``(stamp, record)`` of each photo in the finished index in --out (none when there is no index).

    Raises ValueError when the file is not a tinymtcnn align index or was made with other settings.
    """
    path = writer.json_path
    if not path.exists():
        return []
    try:
        index = json.loads(path.read_bytes())
    except (OSError, ValueError):
        index = None
    if not isinstance(index, dict) or index.get("format") != INDEX_FORMAT:
        raise ValueError(f"{str(path)!r} is not a tinymtcnn align index; move it away or choose another --out")
    if index.get("settings") != writer.settings:
        raise ValueError(f"{str(path.parent)!r} holds crops made with other settings ({index.get('settings')}); "
                         f"rerun with those, or choose another --out")
    entries = [r for r in index.get("photos", []) if isinstance(r, dict) and isinstance(r.get("stamp"), dict)]
    return [(r.pop("stamp"), r) for r in entries if "file" in r["stamp"]]


def _run(args, options, detector, todo, writer, stamps, records):
    """Align ``todo``, streaming each record to the partial index as it finishes."""
    from tqdm import tqdm

    writer.open()
    with tqdm(total=len(todo) + len(records), initial=len(records), desc="align", unit="img", file=sys.stderr,
              disable=True if args.no_progress else None) as bar:

        def on_death(task, how, retrying):
            then = "retrying it on a new worker" if retrying else "giving up on it"
            bar.write(f"{cli.PROG} align: a worker process died ({how}) on {str(task[0])!r}; {then}", file=sys.stderr)

        with contextlib.closing(_results(args, options, detector, todo, on_death)) as results:
            for index, record in results:
                writer.add(record, stamps[index])
                records[index] = record
                if "error" in record:
                    bar.write(f"{cli.PROG} align: {record['error']}", file=sys.stderr)
                bar.update()


def _results(args, options, detector, todo, on_death):
    """Yield ``(index, record)`` as photos finish: in this process, or in ``--workers`` processes."""
    if args.workers == 1 or len(todo) < 2:
        for index, task in todo:
            yield index, align_photo(detector, *task)
        return
    from .process_pool import WorkerPool

    path_of = {index: task[0] for index, task in todo}
    with WorkerPool(_align_in_worker, min(args.workers, len(todo)), initializer=cli._init_worker,
                    initargs=(cli._worker_options(options),), on_death=on_death) as pool:
        for index, record, error in pool.run(todo):
            yield index, record if error is None else {
                "path": str(path_of[index]), "status": "failed", "faces": [],
                "error": f"failed on {str(path_of[index])!r}: {error}"}


def _align_in_worker(task):
    return align_photo(cli._WORKER_DETECTOR, *task)


def _summary(records, n_before, index):
    """One line on stderr (and the faceless photos by name, the first few); -> exit status."""
    statuses = [r["status"] for r in records.values()]
    failed = statuses.count("unreadable") + statuses.count("failed")
    crops = sum(len(r["faces"]) for r in records.values() if r["status"] == "ok")
    _say(f"{len(records)} photo(s): {statuses.count('ok')} with faces ({crops} crops), "
         f"{statuses.count('no face')} without a face, {statuses.count('unreadable')} unreadable, "
         f"{statuses.count('failed')} failed ({n_before} done before, skipped); index {str(index)!r}", 0)
    faceless = [r["path"] for r in records.values() if r["status"] == "no face"]
    if faceless:
        more = f" and {len(faceless) - SHOWN_FACELESS} more" if len(faceless) > SHOWN_FACELESS else ""
        _say(f"without a face: {', '.join(faceless[:SHOWN_FACELESS])}{more} (status \"no face\" in the index)", 0)
    return 1 if failed else 0
