"""Annotation readers: photos with face boxes (and five points) for training.

Every reader returns a :class:`PhotoList`: a sequence of lazily loaded :class:`Photo` records.
Boxes are ``(K, 4)`` float64 ``x1, y1, x2, y2`` 0-based (``x2 = x + w``); landmarks ``(K, 5, 2)``
(left eye, right eye, nose, mouth left, mouth right; left = image left) or ``None``.

Formats
-------
* **WIDER FACE** ``*_bbx_gt.txt`` (:func:`read_wider`): ``name`` line, face-count line, then per face
  ``x y w h blur expression illumination invalid occlusion pose`` (only ``x y w h`` are required). A
  count of 0 is followed by one dummy ``0 0 0 0 ...`` line, as in WIDER's own files. Faces flagged
  ``invalid`` or with ``w`` or ``h`` <= 0 are dropped.
* **FDDB** ellipse folds ``FDDB-fold-XX-ellipseList.txt`` (:func:`read_fddb`): ``name`` (no
  extension), count, then ``major_radius minor_radius angle center_x center_y 1``. The box is the
  axis-aligned bounding box of the ellipse (angle in radians, measured from the x axis; the major
  axis is the vertical one at angle ~ pi/2 as FDDB annotates).
* **Landmark list** (:func:`read_landmark_list`, MTFL ``training.txt``): ``path x1 x2 x3 x4 x5 y1 y2
  y3 y4 y5`` (all x first), one face per line; the face box is derived from the points by
  :func:`box_from_landmarks`. ``layout="interleaved"`` reads ``x1 y1 x2 y2 ...`` instead, and 4 extra
  leading numbers ``x1 y1 x2 y2`` (``with_box=True``) give the box explicitly (CelebA/CUHK style).
* **JSON** (:func:`read_json`): a list of ``{"image": path, "boxes": [[x1, y1, x2, y2], ...],
  "landmarks5": null or [[[x, y] x5], ...], "ignore": null or [bool, ...]}``; ignored faces dropped.

A malformed line raises ``ValueError("<file>:<line>: ...")``.
"""
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Photo:
    """One training photo: ``image`` (H, W, 3) uint8 RGB, ``boxes`` (K, 4), ``landmarks`` (K, 5, 2) or None."""

    image: np.ndarray
    boxes: np.ndarray
    landmarks: Optional[np.ndarray] = None
    name: str = ""


@dataclass(frozen=True)
class Annotation:
    path: Path
    boxes: np.ndarray
    landmarks: Optional[np.ndarray] = None


def load_rgb(path):
    """Read an image file as (H, W, 3) uint8 RGB; ``ValueError`` naming the path if unreadable."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read image {path}: {err}") from None


class PhotoList:
    """A sequence of annotations whose images load on access (``photos[i]`` -> :class:`Photo`)."""

    def __init__(self, annotations, source=""):
        self.annotations = list(annotations)
        self.source = source

    def __len__(self):
        return len(self.annotations)

    def __getitem__(self, i):
        a = self.annotations[i]
        return Photo(load_rgb(a.path), a.boxes, a.landmarks, str(a.path))

    @property
    def fingerprint(self):
        n_faces = sum(len(a.boxes) for a in self.annotations)
        return f"{self.source}:photos={len(self)}:faces={n_faces}"

    def __add__(self, other):
        return PhotoList(self.annotations + other.annotations, f"{self.source}+{other.source}")


def _numbers(parts, path, lineno, count=None):
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"{path}:{lineno}: expected numbers, got {' '.join(parts)!r}") from None
    if count is not None and len(vals) < count:
        raise ValueError(f"{path}:{lineno}: expected at least {count} numbers, got {len(vals)}")
    if not all(math.isfinite(v) for v in vals):
        raise ValueError(f"{path}:{lineno}: non-finite number in {' '.join(parts)!r}")
    return vals


def _lines(path):
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"annotation file not found: {path}")
    return path, path.read_text(encoding="utf-8").splitlines()


def _count(line, path, lineno):
    try:
        n = int(line.strip())
    except ValueError:
        raise ValueError(f"{path}:{lineno}: expected a face count, got {line.strip()!r}") from None
    if n < 0:
        raise ValueError(f"{path}:{lineno}: negative face count {n}")
    return n


def _blocks(path, lines, what, rows=lambda n, next_line: n):
    """The ``name / face count / one line per face`` blocks of WIDER and FDDB files.

    Yields ``(name, n, [(lineno, line), ...])``; ``rows(n, next_line)`` says how many lines follow
    the count (WIDER writes a dummy line after a count of 0). Errors name the file and line.
    """
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        name = lines[i].strip()
        if i + 1 >= len(lines):
            raise ValueError(f"{path}:{i + 2}: missing face count after {name!r}")
        n = _count(lines[i + 1], path, i + 2)
        k = rows(n, lines[i + 2] if i + 2 < len(lines) else None)
        if i + 2 + k > len(lines):
            raise ValueError(f"{path}:{len(lines) + 1}: expected {n} {what} for {name!r}, file ended")
        yield name, n, [(i + 3 + j, lines[i + 2 + j]) for j in range(k)]
        i += 2 + k


def read_wider(path, image_root=None):
    """WIDER FACE ``bbx_gt`` text (caltech_train uses it); images under ``image_root`` (default: beside)."""
    path, lines = _lines(path)
    root = Path(image_root) if image_root is not None else path.parent
    out = []
    dummy = lambda n, nxt: 1 if n == 0 and nxt is not None and _looks_dummy(nxt) else n  # noqa: E731
    for name, n, rows in _blocks(path, lines, "face lines", dummy):
        boxes = []
        for lineno, line in rows:
            vals = _numbers(line.split(), path, lineno, 4)
            invalid = len(vals) >= 8 and vals[7] != 0
            if n and vals[2] > 0 and vals[3] > 0 and not invalid:
                boxes.append([vals[0], vals[1], vals[0] + vals[2], vals[1] + vals[3]])
        out.append(Annotation(root / name, np.array(boxes, dtype=np.float64).reshape(-1, 4)))
    return PhotoList(out, f"wider:{path}")


def _looks_dummy(line):
    parts = line.split()
    return len(parts) >= 4 and all(p.lstrip("-").replace(".", "", 1).isdigit() for p in parts) and \
        all(float(p) == 0 for p in parts[:4])


def read_fddb(path, image_root, extension=".jpg"):
    """FDDB ``*-ellipseList.txt``; boxes are the ellipses' axis-aligned bounding boxes."""
    path, lines = _lines(path)
    root = Path(image_root)
    out = []
    for name, _, rows in _blocks(path, lines, "ellipses"):
        boxes = []
        for lineno, line in rows:
            ra, rb, ang, cx, cy = _numbers(line.split(), path, lineno, 5)[:5]
            # ra along direction ang, rb perpendicular; extent of a rotated ellipse
            hx = math.sqrt((ra * math.cos(ang)) ** 2 + (rb * math.sin(ang)) ** 2)
            hy = math.sqrt((ra * math.sin(ang)) ** 2 + (rb * math.cos(ang)) ** 2)
            boxes.append([cx - hx, cy - hy, cx + hx, cy + hy])
        out.append(Annotation(root / (name + extension), np.array(boxes, dtype=np.float64).reshape(-1, 4)))
    return PhotoList(out, f"fddb:{path}")


def box_from_landmarks(points, scale=1.0):
    """Square face box from five points (K, 5, 2) -> (K, 4).

    The caltech_train rule (``shared/data/README.md``, fitted on human boxes): side
    ``2.44 * max(eye distance, eye-midpoint-to-mouth-midpoint distance)``, centred on the mean of
    eyes and mouth midpoint shifted down by ``0.057 * side``; ``scale`` enlarges the side (MTCNN's
    own boxes are looser, about 1.2x).
    """
    p = np.asarray(points, dtype=np.float64).reshape(-1, 5, 2)
    eye_mid = (p[:, 0] + p[:, 1]) / 2
    mouth = (p[:, 3] + p[:, 4]) / 2
    side = 2.44 * np.maximum(np.linalg.norm(p[:, 1] - p[:, 0], axis=1), np.linalg.norm(mouth - eye_mid, axis=1))
    side = side * scale
    centre = (p[:, 0] + p[:, 1] + mouth) / 3
    centre[:, 1] += 0.057 * side / scale
    return np.concatenate([centre - side[:, None] / 2, centre + side[:, None] / 2], axis=1)


def read_landmark_list(path, image_root=None, *, layout="planar", with_box=False, box_scale=1.2):
    """One face per line: ``path [x1 y1 x2 y2] <10 landmark numbers>`` (MTFL ``training.txt``)."""
    if layout not in ("planar", "interleaved"):
        raise ValueError(f"layout must be 'planar' or 'interleaved', got {layout!r}")
    path, lines = _lines(path)
    root = Path(image_root) if image_root is not None else path.parent
    want = 14 if with_box else 10
    out = []
    for lineno, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) - 1 != want:
            raise ValueError(f"{path}:{lineno}: expected an image path and {want} numbers, got {len(parts) - 1}")
        vals = np.array(_numbers(parts[1:], path, lineno, want))
        pts = vals[-10:]
        pts = np.stack([pts[:5], pts[5:]], axis=1) if layout == "planar" else pts.reshape(5, 2)
        box = vals[:4][None] if with_box else box_from_landmarks(pts[None], box_scale)
        out.append(Annotation(root / parts[0], box.astype(np.float64), pts[None]))
    return PhotoList(out, f"landmarks:{path}")


def read_json(path, image_root=None):
    """The JSON list format of the module docstring (``shared/data/faces_dev/annotations.json``)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"annotation file not found: {path}")
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}: invalid JSON: {err.msg}") from None
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected a JSON list of image records")
    root = Path(image_root) if image_root is not None else path.parent
    out = []
    for k, rec in enumerate(records):
        where = f"{path}: record {k}"
        if not isinstance(rec, dict) or "image" not in rec or "boxes" not in rec:
            raise ValueError(f"{where}: needs 'image' and 'boxes'")
        boxes = np.asarray(rec["boxes"], dtype=np.float64).reshape(-1, 4) if rec["boxes"] else np.zeros((0, 4))
        if boxes.ndim != 2 or boxes.shape[1] != 4 or not np.all(np.isfinite(boxes)):
            raise ValueError(f"{where}: boxes must be [[x1, y1, x2, y2], ...]")
        lms = rec.get("landmarks5")
        if lms is not None:
            lms = np.asarray(lms, dtype=np.float64)
            if lms.shape != (len(boxes), 5, 2):
                raise ValueError(f"{where}: landmarks5 must have shape ({len(boxes)}, 5, 2), got {lms.shape}")
        keep = ~np.asarray(rec.get("ignore") or [False] * len(boxes), dtype=bool)
        if keep.shape != (len(boxes),):
            raise ValueError(f"{where}: ignore must have one flag per box")
        out.append(Annotation(root / rec["image"], boxes[keep], None if lms is None else lms[keep]))
    return PhotoList(out, f"json:{path}")


def read_annotations(path, image_root=None, fmt="auto"):
    """Dispatch on ``fmt`` (``auto``: ``.json`` -> JSON, ``*ellipseList*`` -> FDDB, else WIDER)."""
    name = Path(path).name
    if fmt == "auto":
        fmt = "json" if name.endswith(".json") else "fddb" if "ellipse" in name.lower() else "wider"
    if fmt == "json":
        return read_json(path, image_root)
    if fmt == "fddb":
        return read_fddb(path, image_root if image_root is not None else Path(path).parent)
    if fmt == "wider":
        return read_wider(path, image_root)
    if fmt == "landmarks":
        return read_landmark_list(path, image_root)
    raise ValueError(f"unknown annotation format {fmt!r}; use auto, json, fddb, wider or landmarks")
