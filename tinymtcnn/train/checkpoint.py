"""Training checkpoints ``OUT/<kind>.ckpt.npz``: written atomically, read back with every entry checked.

A checkpoint is a plain ``.npz`` (no pickled objects, read with ``allow_pickle=False``) holding

* ``param::<name>``: the net's parameters;
* ``optim::<slot>::<name>``, ``optim::__steps__``, ``optim::__lr__``: the optimiser state;
* ``meta``: JSON text with ``kind``, ``epoch``, ``history``, ``config`` and the random state ``rng``.

:func:`read_checkpoint` turns every way a file can be damaged (truncated, random bytes, another zip,
an ``.npz`` with missing or mis-shaped entries, non-finite numbers, a checkpoint of another net) into
a :class:`CheckpointError` that names the file and says what to do, never a raw ``BadZipFile``,
``EOFError`` or ``KeyError`` and never numpy's advice to load the file with ``allow_pickle``.
"""
import contextlib
import json
import zipfile
import zlib

import numpy as np

from ..atomic import atomic_savez

META_KEYS = {"kind": str, "epoch": int, "history": list, "config": dict, "rng": dict}


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed from; the message names the file and the way out."""


def write_checkpoint(path, params, optimizer_state, meta):
    """Write ``params`` and ``optimizer_state`` (dicts of arrays) and ``meta`` (JSON-able) atomically."""
    arrays = {f"param::{k}": v for k, v in params.items()}
    arrays.update({f"optim::{k}": v for k, v in optimizer_state.items()})
    arrays["meta"] = np.array(json.dumps(meta, default=str))
    atomic_savez(path, arrays)


@contextlib.contextmanager
def naming_write_failures(path):
    """Re-raise an ``OSError`` of the atomic write of ``path`` (a full disk, a read-only folder) as one whose
    message names ``path`` and says that the previous file is intact."""
    try:
        yield
    except OSError as err:
        raise OSError(err.errno, f"cannot write {path}: {err.strerror or err} (the previous file, if any, "
                                 f"is left as it was)") from err


def _advice(path):
    return (f"delete {path} to train this stage from scratch, or run without --resume "
            f"(which starts again and replaces it after the first epoch)")


def _fail(path, reason):
    raise CheckpointError(f"cannot resume from checkpoint {path}: {reason}; {_advice(path)}")


def _entries(path):
    """Every entry of the ``.npz`` as a numpy array; CheckpointError for anything unreadable."""
    if not zipfile.is_zipfile(path):
        _fail(path, "not an .npz archive (truncated, or overwritten by another file?)")
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as z:
            for key in z.files:
                arrays[key] = z[key]
    except ValueError as err:  # numpy: object arrays (its message suggests allow_pickle: not repeated)
        reason = "holds pickled objects, not plain arrays" if "pickle" in str(err) else f"damaged entry: {err}"
        _fail(path, reason)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError) as err:
        _fail(path, f"damaged archive ({type(err).__name__}: {err})")
    return arrays


def _meta(path, arrays):
    if "meta" not in arrays:
        _fail(path, "no 'meta' entry (not a tinymtcnn training checkpoint)")
    try:
        meta = json.loads(str(arrays["meta"]))
    except (json.JSONDecodeError, TypeError) as err:
        _fail(path, f"the 'meta' entry is not valid JSON ({err})")
    if not isinstance(meta, dict):
        _fail(path, "the 'meta' entry is not a JSON object")
    for key, kind in META_KEYS.items():
        if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
            _fail(path, f"the 'meta' entry has no valid {key!r} ({kind.__name__})")
    if meta["epoch"] < 0:
        _fail(path, f"negative epoch {meta['epoch']}")
    return meta


def read_checkpoint(path, kind):
    """Read and check the checkpoint of a ``kind`` net (``"pnet"``, ...) at ``path``.

    Returns
    -------
    dict with ``meta`` (the decoded JSON), ``params`` (name -> array, all finite) and
    ``optimizer`` (the optimiser's ``state_dict``).

    Raises
    ------
    CheckpointError
        Naming ``path``, what is wrong with it and what to do.
    """
    arrays = _entries(path)
    meta = _meta(path, arrays)
    if meta["kind"] != kind:
        raise CheckpointError(f"{path} is a {meta['kind']} checkpoint, not {kind}; move it away or run "
                              f"without --resume")
    params = {k[len("param::"):]: v for k, v in arrays.items() if k.startswith("param::")}
    optim = {k[len("optim::"):]: v for k, v in arrays.items() if k.startswith("optim::")}
    if not params:
        _fail(path, "no 'param::' entries")
    for key, value in params.items():
        if value.dtype.kind not in "fiu" or not np.all(np.isfinite(value)):
            _fail(path, f"parameter {key!r} is not finite numbers")
    return {"meta": meta, "params": params, "optimizer": optim}


def check_loadable(path, apply):
    """Run ``apply()`` (which loads a read checkpoint into a net and optimiser); turn its ``ValueError``,
    ``KeyError`` or ``TypeError`` (mis-shaped parameters, foreign optimiser state, bad random state) into a
    :class:`CheckpointError` naming ``path``."""
    try:
        return apply()
    except CheckpointError:
        raise
    except (ValueError, KeyError, TypeError) as err:
        _fail(path, f"it does not fit this net and optimiser ({err})")
