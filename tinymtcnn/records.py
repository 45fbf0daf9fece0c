"""Detection records kept safe: streamed as they finish, written atomically at the end.

A run with ``--json FILE`` appends each finished record to ``FILE.partial.jsonl`` (JSON Lines: a
header line with the run's settings, then one line per photo, each flushed and ``fsync``'d), so a
crash, Ctrl-C or a killed worker loses only the photos in flight. At the end the records go to
``FILE`` in input order in one atomic replace (:mod:`tinymtcnn.atomic`) and the partial file is
removed: it exists only while a run is unfinished. A rerun with ``--resume`` reads it back and
skips each photo whose path, size and modification time still match (a changed photo is redone).

:class:`RecordWriter` is the one writer of these files; any backend that runs the detections (the
CLI's worker processes, a Dask cluster) hands it the records as they come.
"""
import json
import os
from pathlib import Path

from .atomic import atomic_path

FORMAT = "tinymtcnn detect partial results"
FORMAT_VERSION = 1


def partial_path(json_path):
    """The partial results file of ``json_path``: ``<json_path>.partial.jsonl`` beside it."""
    return Path(str(json_path) + ".partial.jsonl")


def file_stamp(path):
    """``{"file": absolute path, "size": bytes, "mtime_ns": ns}`` of ``path``, or None when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return {"file": os.path.abspath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_synced(f, data):
    """Write ``data`` (bytes) to the open binary file ``f`` and push it to the disk (``fsync``)."""
    f.write(data)
    f.flush()
    os.fsync(f.fileno())


def read_stream(path, fmt, what):
    """Read a JSON Lines stream written by :func:`open_stream`: ``(header, entries, good_length)``.

    A last line cut short by a crash is dropped (``good_length``: the bytes of whole lines); lines
    that are not JSON objects are left out of ``entries``. Raises ``ValueError`` naming the file (as
    ``what``) when its first line is not a header of format ``fmt``.
    """
    data = Path(path).read_bytes()
    good = data.rfind(b"\n") + 1
    lines = data[:good].splitlines()
    header = _parse(lines[0]) if lines else None
    if header is None or header.get("format") != fmt:
        raise ValueError(f"{str(path)!r} is not {what}; move it away")
    return header, [e for e in map(_parse, lines[1:]) if e is not None], good


def open_stream(path, header, good_length=None):
    """Open a JSON Lines stream for :func:`append_line`: a new file (it must not exist) starting with the
    ``header`` line, or, with ``good_length`` (from :func:`read_stream`), the existing file cut to its
    whole lines. Returns the open binary file."""
    if good_length is None:
        f = open(path, "xb")
        _write_synced(f, _line(header))
    else:
        f = open(path, "r+b")
        f.truncate(good_length)
        f.seek(good_length)
    return f


def append_line(f, obj):
    """Append ``obj`` as one JSON line to the stream ``f`` and push it to the disk."""
    _write_synced(f, _line(obj))


def write_json(path, records):
    """Write ``records`` as indented JSON to ``path`` atomically: the old file stays whole on any error."""
    data = (json.dumps(records, indent=2) + "\n").encode("utf-8")
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        _write_synced(f, data)


class RecordWriter:
    """The partial results stream of one ``--json`` file and the final atomic write.

    Use :meth:`load` (checks only, writes nothing), then :meth:`open`, :meth:`add` per record,
    and :meth:`finish` with all records in input order.

    Parameters
    ----------
    json_path : str or os.PathLike
        The final JSON file; the stream is :func:`partial_path` of it.
    settings : dict
        JSON-ready settings that decide the records (detector options, output folder). A resumed run
        must have the same settings as the run that wrote the stream.
    """

    def __init__(self, json_path, settings):
        self.json_path = Path(json_path)
        self.partial = partial_path(json_path)
        self.settings = json.loads(json.dumps(settings))  # as read back: tuples become lists
        self.previous = {}  # absolute file -> (stamp, record) from the stream of an earlier run
        self._stream = None
        self._good_length = None  # bytes of whole lines in an existing stream

    def load(self, resume):
        """Read the stream of an unfinished earlier run (when ``resume``); write nothing.

        Raises
        ------
        ValueError
            A stream exists and ``resume`` is false (its results would be lost), it is not a stream of
            this format, or it was made with other settings.
        """
        if not self.partial.exists():
            return
        if not resume:
            raise ValueError(f"{str(self.partial)!r} holds the results of an unfinished run: add --resume to "
                             f"continue it, or delete that file to start over")
        header, entries, self._good_length = read_stream(self.partial, FORMAT, "a tinymtcnn partial results file")
        if header.get("settings") != self.settings:
            raise ValueError(f"{str(self.partial)!r} was made with other settings ({header.get('settings')}); "
                             f"resume with those, or delete the file to start over")
        for entry in entries:
            if isinstance(entry.get("stamp"), dict) and "file" in entry["stamp"]:
                stamp = entry.pop("stamp")
                self.previous[stamp["file"]] = (stamp, entry)

    def done(self, stamp):
        """The earlier run's record of the file with this :func:`file_stamp`, or None (not done, or changed)."""
        if stamp is None or stamp["file"] not in self.previous:
            return None
        old_stamp, record = self.previous[stamp["file"]]
        return record if old_stamp == stamp else None

    def remember(self, stamp, record):
        """Count ``record`` as done for the photo with this :func:`file_stamp` (e.g. read back from a
        finished file by a command that skips done photos on every rerun); :meth:`load` overrides it."""
        self.previous[stamp["file"]] = (stamp, record)

    def open(self):
        """Create the stream with its header line, or reopen the loaded one for appending."""
        header = {"format": FORMAT, "version": FORMAT_VERSION, "settings": self.settings}
        self._stream = open_stream(self.partial, header, self._good_length)

    def add(self, record, stamp):
        """Append one finished record (with the :func:`file_stamp` of its photo) to the stream, synced."""
        append_line(self._stream, dict(record, stamp=stamp))

    def finish(self, records):
        """Write ``records`` (input order; any JSON-ready value) to the JSON file atomically, then remove the stream."""
        write_json(self.json_path, records)
        self.close()
        self.partial.unlink()

    def close(self):
        """Close the stream (it stays on disk for ``--resume``)."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None


def _line(obj):
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode("utf-8")


def _parse(line):
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    return obj if isinstance(obj, dict) else None
