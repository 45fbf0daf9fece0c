"""Weights: the authors' converted Caffe weights shipped with the package, and loading them.

``load_net("onet")`` returns an :class:`~tinymtcnn.nets.ONet` with the authors'
weights, ready to run on natural ``(N, 3, H, W)`` images; ``load_pretrained()``
returns the P/R/O-Net triple (and LNet on request). A path to a ``.npz`` written
by :func:`save_params_npz` (e.g. by the trainer) loads the same way. The Caffe
transposition is applied here, once, when a file says ``__layout__ = "caffe"``
(see :mod:`tinymtcnn.weights.layout`).
"""
from pathlib import Path

import numpy as np

from .layout import FLATTEN_SHAPES, caffe_to_natural, load_params_npz, natural_to_caffe, save_params_npz

DATA_DIR = Path(__file__).resolve().parent / "data"
NET_KINDS = ("pnet", "rnet", "onet", "lnet")


def pretrained_path(kind):
    """Path of the shipped weights of ``kind`` (``"pnet"``, ``"rnet"``, ``"onet"`` or ``"lnet"``)."""
    if kind not in NET_KINDS:
        raise ValueError(f"unknown net {kind!r}; expected one of {NET_KINDS}")
    return DATA_DIR / f"{kind}.npz"


def load_net(kind, path=None, *, dtype=np.float32, landmark_head=False, transpose=True):
    """Build a net and load weights into it.

    Parameters
    ----------
    kind : {"pnet", "rnet", "onet", "lnet"}
    path : str or Path, optional
        A weights ``.npz``; default: the authors' weights shipped with the package.
    dtype : numpy dtype of the net (float32 to detect, float64 for gradient checks)
    landmark_head : bool
        P-Net/R-Net: keep a landmark head (R-Net's undeclared ``conv5-3`` from det2).
        Without it, landmark-head arrays in the file are ignored.
    transpose : bool
        Apply the Caffe-to-natural transposition to Caffe-layout files (the default,
        and the only correct choice: ``False`` exists to show what breaks without it).

    Raises
    ------
    ValueError
        Unknown kind; a missing file, a directory, a file that is not a readable ``.npz``
        (each naming the path); missing, mis-shaped (key and both shapes) or non-finite arrays
        (named, prefixed by the path).
    """
    if kind not in NET_KINDS:
        raise ValueError(f"unknown net {kind!r}; expected one of {NET_KINDS}")
    path = pretrained_path(kind) if path is None else Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a weights .npz file")
    params, layout = load_params_npz(path)
    from ..nets import build_net

    net = build_net(kind, dtype=dtype, landmark_head=landmark_head)
    if layout == "caffe" and transpose:
        # re-order only the flattening layers the file has: a missing one is named with the others below
        shapes = {layer: shape for layer, shape in FLATTEN_SHAPES[kind].items() if f"{layer}.w" in params}
        try:
            params = caffe_to_natural(params, shapes)
        except ValueError as err:
            raise ValueError(f"{path}: cannot load weights into {type(net).__name__}: {err}") from None
    if not landmark_head:
        head = {"pnet": "conv4-3.", "rnet": "conv5-3."}.get(kind)
        params = {k: v for k, v in params.items() if not (head and k.startswith(head))}
    try:
        return net.load_params(params)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def load_pretrained(*, dtype=np.float32, with_lnet=False):
    """The authors' P-Net, R-Net and O-Net (and LNet with ``with_lnet=True``), as a dict by kind."""
    kinds = NET_KINDS if with_lnet else NET_KINDS[:3]
    return {kind: load_net(kind, dtype=dtype) for kind in kinds}


#: O-Net's landmark head (``conv6-3``) fine-tuned on MTFL by ``tools/tune_landmarks.py``: the only
#: weights of ``MTCNN(landmarks="tuned")`` that are not the authors' (research-use data; see
#: ``data/PROVENANCE.md``).
TUNED_HEAD_PATH = DATA_DIR / "onet_landmarks_tuned.npz"
TUNED_HEAD = "conv6-3"


def with_tuned_landmark_head(onet, path=None):
    """A copy of ``onet`` (an :class:`~tinymtcnn.nets.ONet` with the authors' weights) whose landmark
    head is the fine-tuned one of ``path`` (default: the shipped :data:`TUNED_HEAD_PATH`).

    Only ``conv6-3.w`` (10, 256) and ``conv6-3.b`` (10,) change, so boxes and scores are the authors'.
    Raises ``ValueError`` naming the file when it lacks those arrays or has other ones.
    """
    path = TUNED_HEAD_PATH if path is None else Path(path)
    head, _ = load_params_npz(path)
    keys = {f"{TUNED_HEAD}.w", f"{TUNED_HEAD}.b"}
    if set(head) != keys:
        raise ValueError(f"{path}: expected exactly {sorted(keys)}, got {sorted(head)}")
    params = dict(onet.params, **head)  # load_params copies every array
    from ..nets import build_net

    try:
        return build_net("onet", dtype=onet.dtype).load_params(params)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def save_net(net, path, *, source=None):
    """Write a net's parameters (natural layout) to ``path`` atomically; ``load_net`` reads it back."""
    save_params_npz(path, {k: np.asarray(v) for k, v in net.params.items()}, "natural", source=source)


__all__ = ["load_net", "load_pretrained", "save_net", "with_tuned_landmark_head", "TUNED_HEAD_PATH", "TUNED_HEAD", "pretrained_path", "caffe_to_natural", "natural_to_caffe",
           "load_params_npz", "save_params_npz", "FLATTEN_SHAPES", "NET_KINDS", "DATA_DIR"]
