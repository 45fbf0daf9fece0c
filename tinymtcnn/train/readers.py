"""Annotation readers: photos with face boxes (and five points) for training.

Every reader returns a :class:`PhotoList`: a sequence of lazily loaded :class:`Photo` records.
Boxes are ``(K, 4)`` float64 ``x1, y1, x2, y2`` 0-based (``x2 = x + w``); landmarks ``(K, 5, 2)``
(left eye, right eye, nose, mouth left, mouth right; left = image left) or ``None``.

Formats
-------
* **WIDER FACE** ``*_bbx_gt.txt`` (:func:`read_wider`): ``name`` line, face-count line, then per face
  ``x y w h blur expression illumination invalid occlusion pose`` (only ``x y w h`` are required). A
  count of 0 is followed by one dummy ``0 0 0 0 ...`` line, as in WIDER's own files. Faces flagged
  ``invalid`` or with ``w`` or ``h`` = 0 are dropped (WIDER's convention); more than 10 numbers or a
  negative ``w`` or ``h`` on a valid face is an error.
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

Photos are read by :func:`tinymtcnn.io.load_image`, the loader detection uses: RGB uint8, the EXIF
orientation applied, so annotations are taken in the upright photo a viewer shows (none of the photos
in the project's data sets carries a rotating EXIF tag, so this changes nothing there).

Files are read as UTF-8; a leading byte-order mark is skipped. Any other encoding (Latin-1, UTF-16)
is refused with the file, the line and the first offending byte rather than guessed: Latin-1 decodes
any bytes at all, so a wrong guess would silently change non-ASCII image names into others. Convert
such a file first (``iconv -f latin1 -t utf-8 old.txt > new.txt``).

Every malformed record raises ``ValueError("<file>:<line>: ...")``: missing or extra fields,
non-numbers, NaN or infinity, an inverted or empty box (``x2 <= x1`` or ``y2 <= y1``; WIDER's
``w`` or ``h`` < 0, FDDB radii <= 0, five coinciding points), boxes of the wrong shape (JSON boxes
are never reshaped: each must be a list of four numbers). JSON errors name the record's line too.
"""
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..io import load_image
from .parsing import blocks, check_box, fields, json_array, json_records, numbers, read_text, text_lines


@dataclass(frozen=True)
class Photo:
    """One training photo: ``image`` (H, W, 3) uint8 RGB, ``boxes`` (K, 4), ``landmarks`` (K, 5, 2) or None."""

    image: np.ndarray
    boxes: np.ndarray
    landmarks: Optional[np.ndarray] = None
    name: str = ""


@dataclass(frozen=True)
class Annotation:
    """One photo's faces. Training reads ``boxes`` and ``landmarks``; evaluation (:mod:`tinymtcnn.eval`)
    also reads ``ignored`` (boxes of the faces the file flags: WIDER ``invalid``, JSON ``ignore``),
    ``ellipses`` (FDDB ``(K, 5)`` major, minor, angle, cx, cy), ``face_index`` / ``ignored_index``
    (each face's 0-based position in its photo's record, for WIDER's easy/medium/hard lists) and
    ``mask`` (JSON ``mask``: one flag per position of the record, for the masked / unmasked settings)."""

    path: Path
    boxes: np.ndarray
    landmarks: Optional[np.ndarray] = None
    ignored: Optional[np.ndarray] = None
    ellipses: Optional[np.ndarray] = None
    face_index: Optional[np.ndarray] = None
    ignored_index: Optional[np.ndarray] = None
    mask: Optional[np.ndarray] = None


class PhotoList:
    """A sequence of annotations whose images load on access (``photos[i]`` -> :class:`Photo`)."""

    def __init__(self, annotations, source=""):
        self.annotations = list(annotations)
        self.source = source

    def __len__(self):
        return len(self.annotations)

    def __getitem__(self, i):
        a = self.annotations[i]
        return Photo(load_image(a.path), a.boxes, a.landmarks, str(a.path))

    @property
    def fingerprint(self):
        n_faces = sum(len(a.boxes) for a in self.annotations)
        return f"{self.source}:photos={len(self)}:faces={n_faces}"

    def __add__(self, other):
        return PhotoList(self.annotations + other.annotations, f"{self.source}+{other.source}")


def read_wider(path, image_root=None):
    """WIDER FACE ``bbx_gt`` text (caltech_train uses it); images under ``image_root`` (default: beside)."""
    path, lines = text_lines(path)
    root = Path(image_root) if image_root is not None else path.parent
    out = []
    dummy = lambda n, nxt: 1 if n == 0 and nxt is not None and _looks_dummy(nxt) else n  # noqa: E731
    for name, n, rows in blocks(path, lines, "face lines", dummy):
        boxes, ignored, where = [], [], ([], [])
        for k, (lineno, line) in enumerate(rows):
            vals = fields(line.split(), path, lineno, 4, 10)
            invalid = len(vals) >= 8 and vals[7] != 0
            if n and not invalid and (vals[2] < 0 or vals[3] < 0):
                raise ValueError(f"{path}:{lineno}: inverted box: width {vals[2]:g}, height {vals[3]:g} "
                                 f"(must not be negative)")
            if n and vals[2] > 0 and vals[3] > 0:
                (ignored if invalid else boxes).append([vals[0], vals[1], vals[0] + vals[2], vals[1] + vals[3]])
                where[invalid].append(k)
        out.append(Annotation(root / name, np.array(boxes, dtype=np.float64).reshape(-1, 4),
                              ignored=np.array(ignored, dtype=np.float64).reshape(-1, 4),
                              face_index=np.array(where[0], dtype=int), ignored_index=np.array(where[1], dtype=int)))
    return PhotoList(out, f"wider:{path}")


def _looks_dummy(line):
    parts = line.split()
    return len(parts) >= 4 and all(p.lstrip("-").replace(".", "", 1).isdigit() for p in parts) and \
        all(float(p) == 0 for p in parts[:4])


def read_fddb(path, image_root, extension=".jpg"):
    """FDDB ``*-ellipseList.txt``; boxes are the ellipses' axis-aligned bounding boxes."""
    path, lines = text_lines(path)
    root = Path(image_root)
    out = []
    for name, _, rows in blocks(path, lines, "ellipses"):
        boxes, ellipses = [], []
        for lineno, line in rows:
            ra, rb, ang, cx, cy = fields(line.split(), path, lineno, 5, 6)[:5]
            ellipses.append([ra, rb, ang, cx, cy])
            if not (ra > 0 and rb > 0):
                raise ValueError(f"{path}:{lineno}: ellipse radii must be > 0, got {ra:g} and {rb:g}")
            # ra along direction ang, rb perpendicular; extent of a rotated ellipse
            hx = math.sqrt((ra * math.cos(ang)) ** 2 + (rb * math.sin(ang)) ** 2)
            hy = math.sqrt((ra * math.sin(ang)) ** 2 + (rb * math.cos(ang)) ** 2)
            boxes.append([cx - hx, cy - hy, cx + hx, cy + hy])
        out.append(Annotation(root / (name + extension), np.array(boxes, dtype=np.float64).reshape(-1, 4),
                              ellipses=np.array(ellipses, dtype=np.float64).reshape(-1, 5)))
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
    path, lines = text_lines(path)
    root = Path(image_root) if image_root is not None else path.parent
    want = 14 if with_box else 10
    out = []
    for lineno, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) - 1 != want:
            raise ValueError(f"{path}:{lineno}: expected an image path and {want} numbers, got {len(parts) - 1}")
        vals = np.array(numbers(parts[1:], path, lineno, want))
        pts = vals[-10:]
        pts = np.stack([pts[:5], pts[5:]], axis=1) if layout == "planar" else pts.reshape(5, 2)
        box = vals[:4][None] if with_box else box_from_landmarks(pts[None], box_scale)
        check_box(box[0], f"{path}:{lineno}" + ("" if with_box else " (box from the five points)"))
        out.append(Annotation(root / parts[0], box.astype(np.float64), pts[None]))
    return PhotoList(out, f"landmarks:{path}")


def _json_record(rec, where, root):
    if not isinstance(rec, dict) or "image" not in rec or "boxes" not in rec:
        raise ValueError(f"{where}: needs 'image' and 'boxes'")
    if not isinstance(rec["image"], str) or not rec["image"]:
        raise ValueError(f"{where}: 'image' must be a file name, got {rec['image']!r}")
    where = f"{where} ({rec['image']})"
    raw = rec["boxes"]
    boxes = np.zeros((0, 4)) if raw is None or raw == [] else \
        json_array(raw, (None, 4), where, "boxes [[x1, y1, x2, y2], ...]")
    lms = rec.get("landmarks5")
    lms = None if lms == [] and len(boxes) == 0 else lms
    if lms is not None:
        lms = json_array(lms, (len(boxes), 5, 2), where, "landmarks5")
    ignore = _flags(rec, "ignore", len(boxes), where)
    keep = np.ones(len(boxes), dtype=bool) if ignore is None else ~ignore
    for k in np.flatnonzero(keep):
        check_box(boxes[k], f"{where}, box {k}")
    return Annotation(root / rec["image"], boxes[keep], None if lms is None else lms[keep],
                      ignored=boxes[~keep], face_index=np.flatnonzero(keep), ignored_index=np.flatnonzero(~keep),
                      mask=_flags(rec, "mask", len(boxes), where))


def _flags(rec, key, n, where):
    """The record's ``key`` list of ``n`` true/false flags (one per box) as a bool array; None if absent."""
    flags = rec.get(key)
    if flags is None:
        return None
    if not isinstance(flags, list) or len(flags) != n or not all(isinstance(f, bool) or f in (0, 1) for f in flags):
        raise ValueError(f"{where}: {key} must be a list of {n} true/false flags, one per box")
    return np.array(flags, dtype=bool)


def read_json(path, image_root=None):
    """The JSON list format of the module docstring (``shared/data/faces_dev/annotations.json``)."""
    path, text = read_text(path)
    records = json_records(path, text)
    root = Path(image_root) if image_root is not None else path.parent
    out = [_json_record(rec, f"{path}:{line}: record {k}", root) for k, (line, rec) in enumerate(records)]
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
