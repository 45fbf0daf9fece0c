"""Convert the authors' ``.caffemodel`` files into the project's flat params dict / ``.npz``.

Parameter naming (used by the whole project): ``"<caffe layer name>.<key>"`` with key

* ``"w"`` and ``"b"`` for Convolution ``w (F, C, KH, KW)``, ``b (F,)`` and InnerProduct
  ``w (O, I)``, ``b (O,)``;
* ``"alpha"`` for PReLU, ``(C,)`` (one slope per channel).

Examples: ``"conv1.w"``, ``"PReLU1.alpha"`` (det1), ``"prelu1.alpha"`` (det2/3),
``"conv4-1.w"``, ``"conv5-3.b"`` (det2's extra landmark head, absent from its prototxt),
``"fc4_3.w"`` (det4). Arrays stay in **Caffe layout**; :mod:`tinymtcnn.weights.layout` turns
them into the layout tinymtcnn computes with.
"""
import hashlib
from pathlib import Path

import numpy as np

from .caffemodel import read_caffemodel_layers
from .layout import save_params_npz

_KEYS = {"Convolution": ("w", "b"), "InnerProduct": ("w", "b"), "PReLU": ("alpha",)}


def _normalised(kind, key, blob):
    """Drop the leading 1-axes that legacy 4-D blobs carry: IP w -> 2-D, b / alpha -> 1-D."""
    if key in ("b", "alpha"):
        return blob.reshape(-1)
    if kind == "InnerProduct":
        if blob.ndim > 2 and all(d == 1 for d in blob.shape[:-2]):
            return blob.reshape(blob.shape[-2:])
    return blob


def caffemodel_to_params(path):
    """Read a ``.caffemodel`` into a flat params dict (Caffe layout, float32, file order).

    Parameters
    ----------
    path : str or os.PathLike
        A Caffe ``.caffemodel``.

    Returns
    -------
    dict[str, ndarray]
        ``"<layer>.w"``, ``"<layer>.b"``, ``"<layer>.alpha"`` as described in the module docstring.

    Raises
    ------
    ValueError
        Unreadable file (see :func:`~tinymtcnn.weights.caffemodel.read_caffemodel_layers`), a
        weighted layer of a type other than Convolution / InnerProduct / PReLU, a layer with too
        many blobs or a wrongly shaped blob, or two layers of the same name.
    """
    params = {}
    for layer in read_caffemodel_layers(path):
        if not layer.blobs:
            continue
        keys = _KEYS.get(layer.type)
        if keys is None:
            raise ValueError(f"{path}: layer {layer.name!r} of type {layer.type!r} has weights; "
                             "only Convolution, InnerProduct and PReLU are supported")
        if len(layer.blobs) > len(keys):
            raise ValueError(f"{path}: layer {layer.name!r} has {len(layer.blobs)} blobs, "
                             f"expected at most {len(keys)}")
        for key, blob in zip(keys, layer.blobs):
            name = f"{layer.name}.{key}"
            if name in params:
                raise ValueError(f"{path}: duplicate parameter {name!r}")
            array = _normalised(layer.type, key, np.asarray(blob, dtype=np.float32))
            want = 4 if (layer.type == "Convolution" and key == "w") else (2 if key == "w" else 1)
            if array.ndim != want:
                raise ValueError(f"{path}: {name} has shape {blob.shape}; expected {want} axes")
            params[name] = array
    return params


def sha256_of(path):
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def convert_caffemodel(caffemodel_path, npz_path):
    """Convert one ``.caffemodel`` into a compressed params ``.npz`` (Caffe layout).

    The file holds the params of :func:`caffemodel_to_params` plus the string entries
    ``"__layout__" = "caffe"`` and ``"__source__" = "<file name> sha256=<hex>"``; it is written
    atomically by :func:`~tinymtcnn.weights.layout.save_params_npz`.

    Returns
    -------
    dict[str, ndarray]
        The params written.
    """
    caffemodel_path = Path(caffemodel_path)
    params = caffemodel_to_params(caffemodel_path)
    source = f"{caffemodel_path.name} sha256={sha256_of(caffemodel_path)}"
    save_params_npz(npz_path, params, "caffe", source=source)
    return params
