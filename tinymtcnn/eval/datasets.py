"""Evaluation sets: any file the training readers load, plus WIDER's easy/medium/hard lists.

An :class:`EvalSet` holds the readers' :class:`~tinymtcnn.train.readers.Annotation` records (boxes,
ignored boxes, FDDB ellipses, landmarks) and how to show each photo to the detector:

* WIDER ``bbx_gt`` text, JSON (faces_dev's format), FDDB ellipse lists: the photo as it is.
* Landmark lists (MTFL ``training.txt``): face crops that the face fills; each crop is centred on a
  canvas twice its size, edge-replicated (:func:`tinymtcnn.eval.images.pad_crop`), and the
  points and box are shifted with it. Only landmarks are scored on such sets.
"""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..io import load_image
from ..train.readers import read_annotations
from .images import pad_crop

KINDS = ("auto", "wider", "fddb", "json", "landmarks")
SETTINGS = ("easy", "medium", "hard")
MASK_SETTINGS = ("masked", "unmasked")


@dataclass
class EvalSet:
    """Photos to evaluate on: ``annotations`` (readers' records), ``kind`` and optional WIDER ``splits``.

    ``splits``: ``{"easy": {image stem: set of 0-based face positions}, ...}``.
    """

    name: str
    kind: str
    annotations: list
    splits: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.annotations)

    @property
    def has_landmarks(self):
        return any(a.landmarks is not None for a in self.annotations)

    @property
    def scores_boxes(self):
        return self.kind != "landmarks"

    def image(self, i):
        """``(image, annotation)`` of photo ``i``, with landmark-list crops padded (coordinates shifted)."""
        a = self.annotations[i]
        image = load_image(a.path)
        if self.kind != "landmarks":
            return np.ascontiguousarray(image), a
        image, (dx, dy) = pad_crop(image, 2 * max(image.shape[:2]), "edge")
        shift = np.array([dx, dy], dtype=np.float64)
        moved = type(a)(a.path, a.boxes + np.tile(shift, 2), a.landmarks + shift)
        return image, moved


def load_set(path, images=None, kind="auto", name=None, splits=None):
    """Read an annotation file into an :class:`EvalSet`.

    Parameters
    ----------
    path : str or Path
        WIDER ``*_bbx_gt.txt``, FDDB ``*ellipseList.txt``, ``.json`` or a landmark list.
    images : folder of the images (default: beside the file; FDDB: the folder holding ``2002/``...)
    kind : one of :data:`KINDS` (``auto``: by file name, as ``tinymtcnn train``; ``landmarks`` must be given)
    splits : dict ``{"easy": path, ...}``, WIDER ``wider_easy_val.mat``-style files or text lists
        (see :func:`read_split`); faces outside the setting's list are ignored in that setting.
    """
    path = Path(path)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    photos = read_annotations(path, images, kind)
    if kind == "auto":
        n = path.name
        kind = "json" if n.endswith(".json") else "fddb" if "ellipse" in n.lower() else "wider"
    out = EvalSet(name or f"{path.parent.name}/{path.name}", kind, photos.annotations)
    if kind == "json":
        out.splits.update(mask_splits(photos.annotations))
    for setting, split_path in (splits or {}).items():
        if setting not in SETTINGS:
            raise ValueError(f"split settings are {SETTINGS}, got {setting!r}")
        if kind != "wider":
            raise ValueError(f"easy/medium/hard lists apply to WIDER bbx_gt files, not to a {kind} set")
        out.splits[setting] = read_split(split_path)
    return out


def read_split(path):
    """WIDER's per-setting face lists: ``{image stem: set of 0-based face positions}``.

    Either the official ``wider_<setting>_val.mat`` (needs SciPy; its ``gt_list`` cells hold 1-based
    positions, the photo names come from ``file_list``, in that file or else in ``wider_face_val.mat``
    beside it) or a text file with one photo a line: ``name i j k ...`` (1-based positions of
    the faces kept in this setting in the photo's ``bbx_gt`` record, as in the ``.mat`` files).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"split list {path} does not exist")
    if path.suffix == ".mat":
        try:
            from scipy.io import loadmat
        except ImportError:
            raise ValueError(f"reading {path} needs SciPy (pip install scipy), or give a text list") from None
        mat = loadmat(str(path))
        if "gt_list" not in mat:
            raise ValueError(f"{path} has no gt_list: not a WIDER wider_<setting>_val.mat file")
        if "file_list" not in mat:  # the official setting files hold only gt_list; names are in wider_face_val.mat
            names = path.parent / "wider_face_val.mat"
            if not names.is_file():
                raise ValueError(f"{path} has no file_list; put WIDER's wider_face_val.mat beside it")
            mat["file_list"] = loadmat(str(names))["file_list"]
        out = {}
        for files, gts in zip(mat["file_list"].ravel(), mat["gt_list"].ravel()):
            for f, g in zip(files.ravel(), gts.ravel()):
                out[str(f.ravel()[0])] = {int(v) - 1 for v in np.asarray(g).ravel()}
        return out
    out = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            positions = {int(p) - 1 for p in parts[1:]}
        except ValueError:
            raise ValueError(f"{path}:{lineno}: face positions must be whole numbers, got {line!r}") from None
        if any(p < 0 for p in positions):
            raise ValueError(f"{path}:{lineno}: face positions start at 1, got {line!r}")
        out[Path(parts[0]).stem] = positions
    return out


def mask_splits(annotations):
    """The settings ``masked`` and ``unmasked`` of a JSON set whose records flag each box's ``mask``
    (crowds_cc0; :attr:`~tinymtcnn.train.readers.Annotation.mask`): ``{setting: {image stem: set of
    0-based face positions}}``, as :func:`read_split`; ``{}`` when no record has ``mask``. In each setting
    the other faces are ignored (neither found nor missed), as WIDER's easy/medium/hard.
    """
    flagged = [a for a in annotations if a.mask is not None]
    if not flagged:
        return {}
    return {"masked": {a.path.stem: set(np.flatnonzero(a.mask).tolist()) for a in flagged},
            "unmasked": {a.path.stem: set(np.flatnonzero(~a.mask).tolist()) for a in flagged}}


def split_faces(annotation, kept):
    """``(scored boxes, ignored boxes)`` of one photo in a setting that keeps the 0-based positions ``kept``."""
    scored = np.array([k in kept for k in annotation.face_index], dtype=bool)
    ignored = np.concatenate([annotation.ignored.reshape(-1, 4), annotation.boxes[~scored]])
    return annotation.boxes[scored], ignored
