"""Weight layouts: the one place where the Caffe transposition is handled (spec §2).

The story
---------
The authors ran their nets from MATLAB. matcaffe hands arrays to Caffe with their
dimensions *reversed* (it expects ``[width, height, channels, num]``, width fastest), and
the official demo therefore permutes images with ``permute(im, [2 1 3])`` first. The MTCNN
code does not: it passes the ``H x W x 3`` RGB image as it is. MATLAB's first axis (image
rows, y) thus lands on Caffe's W axis and image x on Caffe's H axis, so **the released nets
were run - and only work - on transposed images** (spec §2.1):

* a Caffe conv kernel ``Wc[o, c, i, j]`` has ``i`` along image x and ``j`` along image y;
* the first InnerProduct after the conv stack flattens a Caffe map ``(C, H=x, W=y)`` in C order,
  so its input index is ``c*X*Y + x*Y + y``.

tinymtcnn feeds natural ``(N, C, H=y, W=x)`` arrays and transposes the *weights* instead
(spec §2.3, Option B; facenet-pytorch does the same):

* every 4-D conv kernel: ``W' = Wc.transpose(0, 1, 3, 2)`` (swap kh and kw);
* the first InnerProduct after a conv stack, with Caffe map ``(C, X, Y)``:
  ``W' = Wc.reshape(O, C, X, Y).transpose(0, 1, 3, 2).reshape(O, C*Y*X)``, so that
  ``flatten(natural map (C, Y, X)) @ W'.T == flatten(Caffe map (C, X, Y)) @ Wc.T``;
* biases, PReLU slopes and all later InnerProducts are unchanged.

Both steps are exact permutations, so the natural-layout net computes the same function
as Caffe on the transposed image. Max pooling commutes with the transpose (square windows,
ceil overhang on the bottom/right in both axes).

What goes wrong if this is ignored (spec §2.4, measured on two faces of test1.jpg):
with raw Caffe kernels on natural images O-Net scores the faces 0.09 / 0.34 instead of
1.00 / 0.998 and the faces are rejected; with the kernels swapped but the first FC *not*
re-ordered the scores still look fine (0.996 / 0.962) but box regression moves by up to
0.13 of the box size and landmarks by up to 0.09 - silently wrong geometry.

Layouts: ``"caffe"`` (as in the .caffemodel; what the shipped ``data/*.npz`` hold) and
``"natural"`` (what the layers compute with). ``natural_to_caffe`` exports trained weights
back to Caffe layout.

Files: ``save_params_npz`` / ``load_params_npz`` store a flat params dict
(``"<layer>.w"``, ``"<layer>.b"``, ``"<layer>.alpha"``) plus string entries ``"__layout__"``
and optionally ``"__source__"`` in a deflate-compressed ``.npz`` with fixed zip timestamps,
so the same weights always give the same bytes (for a given zlib).
"""
import zipfile
from pathlib import Path

import numpy as np
from ..atomic import atomic_path

LAYOUTS = ("caffe", "natural")

# Caffe (C, X, Y) map flattened by the first InnerProduct of each net (spec §1.3, §1.4, §1.7).
FLATTEN_SHAPES = {
    "pnet": {},
    "rnet": {"conv4": (64, 3, 3)},
    "onet": {"conv5": (128, 3, 3)},
    "lnet": {"fc4": (320, 3, 3)},
}

LAYOUT_KEY = "__layout__"
SOURCE_KEY = "__source__"


def _reorder_fc(params, flatten_shapes, out, to_natural):
    for layer, (c, x, y) in flatten_shapes.items():
        key = f"{layer}.w"
        if key not in params:
            raise ValueError(f"flatten_shapes names {layer!r} but params has no {key!r}")
        w = np.asarray(params[key])
        if w.ndim != 2 or w.shape[1] != c * x * y:
            raise ValueError(f"{key} has shape {w.shape}; expected (O, {c}*{x}*{y} = {c * x * y})")
        # caffe: input index (c, x, y); natural: (c, y, x)
        src = (c, x, y) if to_natural else (c, y, x)
        out[key] = np.ascontiguousarray(
            w.reshape((w.shape[0],) + src).transpose(0, 1, 3, 2).reshape(w.shape[0], -1))


def _convert(params, flatten_shapes, to_natural):
    out = {}
    for key, value in params.items():
        value = np.asarray(value)
        if key.endswith(".w") and value.ndim == 4:
            out[key] = np.ascontiguousarray(value.transpose(0, 1, 3, 2))
        else:
            out[key] = value.copy()
    _reorder_fc(params, dict(flatten_shapes or {}), out, to_natural)
    return out


def caffe_to_natural(params, flatten_shapes):
    """Caffe-layout params -> params for natural ``(N, C, H=y, W=x)`` inputs (spec §2.3 Option B).

    Parameters
    ----------
    params : dict[str, ndarray]
        ``"<layer>.w"`` conv ``(F, C, KH, KW)`` / InnerProduct ``(O, I)``, ``"<layer>.b"`` ``(F,)``,
        ``"<layer>.alpha"`` ``(C,)``, in Caffe layout.
    flatten_shapes : dict[str, tuple[int, int, int]]
        ``{layer: (C, X, Y)}`` for the first InnerProduct after a conv stack, ``(C, X, Y)`` being
        the Caffe-layout map it flattens (e.g. :data:`FLATTEN_SHAPES` ``["rnet"]``).

    Returns
    -------
    dict[str, ndarray]
        New arrays: 4-D kernels ``Wc.transpose(0, 1, 3, 2)``; each ``flatten_shapes`` layer
        ``Wc.reshape(O, C, X, Y).transpose(0, 1, 3, 2).reshape(O, -1)``; everything else copied.
    """
    return _convert(params, flatten_shapes, to_natural=True)


def natural_to_caffe(params, flatten_shapes):
    """Inverse of :func:`caffe_to_natural` (same arguments; ``flatten_shapes`` still Caffe ``(C, X, Y)``)."""
    return _convert(params, flatten_shapes, to_natural=False)


# --------------------------------------------------------------------------- files
def _check_layout(layout):
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")


def save_params_npz(path, params, layout, *, source=None):
    """Write ``params`` plus ``"__layout__"`` (and ``"__source__"``) to a compressed ``.npz``, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Output file (written to a temporary file in the same folder, then ``os.replace``).
    params : dict[str, array_like]
        Flat params dict; keys must not start with ``"__"``; values must be real numbers.
    layout : {"caffe", "natural"}
    source : str, optional
        Free text stored as ``"__source__"`` (e.g. file name and sha256 of the caffemodel).
    """
    _check_layout(layout)
    entries = {}
    for key, value in params.items():
        if not isinstance(key, str) or not key or key.startswith("__"):
            raise ValueError(f"bad parameter name {key!r} (non-empty str not starting with '__')")
        value = np.asarray(value)
        if value.dtype.kind not in "fiu":
            raise TypeError(f"parameter {key!r} has dtype {value.dtype}; expected real numbers")
        entries[key] = value
    entries[LAYOUT_KEY] = np.array(layout)
    if source is not None:
        entries[SOURCE_KEY] = np.array(str(source))
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w") as zf:
        for key, value in entries.items():
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asarray(value, order="C"), allow_pickle=False)


def _text_entry(path, key, value):
    if value.ndim != 0 or value.dtype.kind != "U":
        raise ValueError(f"{path}: {key} must be a string, got {value.dtype} array of shape {value.shape}")
    return str(value.item())


def load_params_npz(path, *, with_source=False):
    """Read a params ``.npz`` written by :func:`save_params_npz`.

    Returns
    -------
    params : dict[str, ndarray]
        Everything except the ``"__...__"`` entries, in file order.
    layout : str
        ``"caffe"`` or ``"natural"``.
    source : str
        Only when ``with_source=True``: the ``"__source__"`` text (``""`` when absent).

    Raises
    ------
    ValueError
        Missing file, not an ``.npz``, no or unknown ``"__layout__"``, non-numeric parameter.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"weights file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not an .npz file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except Exception as err:  # zip/format errors of any kind
        raise ValueError(f"{path} is not a readable .npz file: {err}") from None
    bad = [key for key, value in arrays.items() if not isinstance(value, np.ndarray)]
    if bad:
        raise ValueError(f"{path}: entries {bad} are not .npy arrays")
    if LAYOUT_KEY not in arrays:
        raise ValueError(f"{path} has no {LAYOUT_KEY!r} entry; not a tinymtcnn weights file")
    layout = _text_entry(path, LAYOUT_KEY, arrays.pop(LAYOUT_KEY))
    if layout not in LAYOUTS:
        raise ValueError(f"{path}: {LAYOUT_KEY} is {layout!r}; expected one of {LAYOUTS}")
    source = _text_entry(path, SOURCE_KEY, arrays.pop(SOURCE_KEY)) if SOURCE_KEY in arrays else ""
    params = {}
    for key, value in arrays.items():
        if key.startswith("__"):
            continue
        if value.dtype.kind not in "fiu":
            raise ValueError(f"{path}: parameter {key!r} has dtype {value.dtype}; expected numbers")
        params[key] = value
    return (params, layout, source) if with_source else (params, layout)
