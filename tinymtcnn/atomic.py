"""Atomic file writes: a crash never leaves a half-written file behind.

The data is written to a temporary file beside the destination, flushed to the disk
(``fsync``), then renamed over the destination in one ``os.replace``; the folder is synced
too where the system allows it, so that after a power cut either the old or the new file is
there, never a mixture or an empty one.
"""
import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path, mode=0o644):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one ``os.replace``.

    On any exception the temporary file is removed and ``path`` is left as it was::

        with atomic_path("weights.npz") as tmp:
            write_everything_to(tmp)
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, mode)
        _fsync_file(tmp)
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _fsync_file(name):
    fd = os.open(name, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder):
    """Make the rename durable (best effort: some systems cannot open or sync a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def atomic_write_text(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_savez(path, arrays):
    """``np.savez`` of the dict ``arrays`` to ``path``, atomically (the name is kept as given)."""
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
