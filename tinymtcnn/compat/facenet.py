"""facenet-pytorch 2.6's ``MTCNN`` on tinymtcnn: change ``from facenet_pytorch import MTCNN``
to ``from tinymtcnn.compat.facenet import MTCNN``.

    >>> from tinymtcnn.compat.facenet import MTCNN
    >>> mtcnn = MTCNN(keep_all=True)
    >>> boxes, probs, points = mtcnn.detect(img, landmarks=True)   # doctest: +SKIP
    >>> faces = mtcnn(img)                                           # doctest: +SKIP

Same arguments, same return structures (object arrays, ``None`` where an image has no face,
``[None]`` probabilities, the same order), with one difference: **numpy arrays where
facenet-pytorch returns torch tensors** (cropped faces ``(3, S, S)`` / ``(N, 3, S, S)`` float32).
Boxes are float32 ``x1, y1, x2, y2`` in facenet-pytorch's numbering, which keeps the authors'
1-based ``x1, y1`` (tinymtcnn's 0-based ``x1, y1`` plus 1); landmarks ``(N, 5, 2)`` 0-based.
The detections come from :class:`tinymtcnn.MTCNN` (the authors' pipeline), not from
facenet-pytorch's resampler, crops and NMS (docs/differences.md): expect box corners a few
pixels from facenet-pytorch's (up to 5.1 px measured, docs/migration.md).
"""
import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..atomic import atomic_path
from ..detect.detector import MTCNN as Detector
from ..io import load_image
from ..layers._checks import check_number
from . import as_image_source, warn_if_not_cpu

SELECTION_METHODS = ("probability", "largest", "largest_over_threshold", "center_weighted_size")


def fixed_image_standardization(image):
    """``(image - 127.5) / 128``: what ``post_process=True`` applies to each crop."""
    return (image - 127.5) / 128.0


def _is_batch(img):
    """facenet-pytorch's rule: a list or tuple, or a 4-D array (or tensor), is a batch."""
    return isinstance(img, (list, tuple)) or (not isinstance(img, Image.Image) and len(getattr(img, "shape", ())) == 4)


def _stacked(items):
    """``np.array(items)``, or an object array of the items where they differ in shape (a face and
    ``None``: facenet-pytorch 2.6 raises ``ValueError`` there with numpy >= 1.24)."""
    try:
        return np.array(items)
    except ValueError:
        out = np.empty(len(items), dtype=object)
        for i, item in enumerate(items):
            out[i] = item
        return out


def _save_crop(face, path, source):
    """Write the uint8 crop ``face`` to ``path`` atomically (parent folders made), never over ``source``."""
    path = Path(path)
    if isinstance(source, (str, os.PathLike)) and path.exists() and path.resolve() == Path(source).resolve():
        raise ValueError(f"save_path {str(path)!r} is the input image itself; choose another file")
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"save_path {str(path)!r} has no image extension Pillow can write (e.g. .png, .jpg)")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Image.fromarray(face).save(tmp, format=fmt)


def extract_face(img, box, image_size=160, margin=0, save_path=None):
    """Crop ``box`` plus ``margin`` from ``img`` and resize it to ``image_size`` (facenet-pytorch's rule).

    The margin is in pixels of the output: ``margin * (x2 - x1) / (image_size - margin)`` source
    pixels are added across the width (half on each side), likewise the height; the box is
    truncated to integers and clipped to the image, cropped and resized bilinearly (Pillow).

    Parameters
    ----------
    img : path, PIL image or ndarray (anything :func:`tinymtcnn.io.load_image` reads)
    box : array_like (4,)
        ``x1, y1, x2, y2``.
    image_size : int
    margin : float
    save_path : str or None
        Where to save the (uint8) crop; written atomically, parent folders made.

    Returns
    -------
    ndarray (3, image_size, image_size) float32
        The crop's 0..255 values, channels first (facenet-pytorch returns a tensor).
    """
    source = img
    img = load_image(as_image_source(img))
    height, width = img.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    grow_x = margin * (x2 - x1) / (image_size - margin)
    grow_y = margin * (y2 - y1) / (image_size - margin)
    region = (int(max(x1 - grow_x / 2, 0)), int(max(y1 - grow_y / 2, 0)),
              int(min(x2 + grow_x / 2, width)), int(min(y2 + grow_y / 2, height)))
    face = np.asarray(Image.fromarray(img).crop(region).resize((image_size, image_size), Image.BILINEAR))
    if save_path is not None:
        _save_crop(face, save_path, source)
    return np.ascontiguousarray(face.astype(np.float32).transpose(2, 0, 1))


class MTCNN:
    """facenet-pytorch's ``MTCNN`` interface on tinymtcnn's detector.

    Parameters
    ----------
    image_size : int
        Side of the returned square crops (default 160).
    margin : float
        Margin added around each box, in pixels of the crop (0 <= margin < image_size).
    min_face_size : float
        Smallest face searched for, in pixels (:class:`tinymtcnn.MTCNN`'s ``min_face_size``).
    thresholds : (float, float, float)
        P-Net, R-Net and O-Net face-probability thresholds.
    factor : float
        Ratio between pyramid levels (:class:`tinymtcnn.MTCNN`'s ``scale_factor``).
    post_process : bool
        Crops returned as ``(v - 127.5) / 128`` (saved crops are never post-processed).
    select_largest : bool
        ``detect`` orders faces by box area (largest first) instead of probability; also the
        default ``selection_method`` (``"largest"`` / ``"probability"``).
    selection_method : str or None
        ``"probability"``, ``"largest"``, ``"largest_over_threshold"`` (largest with probability
        > 0.9) or ``"center_weighted_size"``: which face ``forward`` returns without ``keep_all``.
    keep_all : bool
        ``forward`` returns every face ``(N, 3, S, S)`` instead of one ``(3, S, S)``.
    device : ignored
        tinymtcnn runs on the CPU; a device other than the CPU gives a warning.
    num_threads : int or None
        Threads of the detector (tinymtcnn's; keyword only).
    """

    def __init__(self, image_size=160, margin=0, min_face_size=20, thresholds=(0.6, 0.7, 0.7), factor=0.709,
                 post_process=True, select_largest=True, selection_method=None, keep_all=False, device=None,
                 *, num_threads=None):
        self.image_size = check_number("image_size", image_size, low=1, integer=True)
        self.margin = check_number("margin", margin, low=0)
        if self.margin >= self.image_size:
            raise ValueError(f"margin must be smaller than image_size ({self.image_size}), got {margin!r}")
        if selection_method is not None and selection_method not in SELECTION_METHODS:
            raise ValueError(f"selection_method must be None or one of {SELECTION_METHODS}, got {selection_method!r}")
        warn_if_not_cpu(device, ("cpu",))
        self.detector = Detector(min_face_size=min_face_size, thresholds=thresholds, scale_factor=factor,
                                 landmarks="onet", num_threads=num_threads)
        self.min_face_size, self.thresholds, self.factor = min_face_size, list(thresholds), factor
        self.post_process, self.select_largest, self.keep_all = post_process, select_largest, keep_all
        self.selection_method = selection_method or ("largest" if select_largest else "probability")
        self.device = "cpu"

    def __repr__(self):
        return (f"tinymtcnn.compat.facenet.MTCNN(image_size={self.image_size}, margin={self.margin}, "
                f"keep_all={self.keep_all}, selection_method={self.selection_method!r}, detector={self.detector!r})")

    def to(self, device):
        """facenet-pytorch's ``nn.Module.to``: returns ``self`` (a warning unless ``device`` is the CPU)."""
        warn_if_not_cpu(device, ("cpu",))
        return self

    def eval(self):
        """facenet-pytorch's ``nn.Module.eval``: returns ``self`` (tinymtcnn only infers)."""
        return self

    # ------------------------------------------------------------------ detection
    def _load(self, img):
        """``(list of (H, W, 3) uint8, batch?, list of the inputs)``."""
        batch = _is_batch(img)
        inputs = list(img) if batch else [img]
        return [load_image(as_image_source(im)) for im in inputs], batch, inputs

    def _detect_loaded(self, images, batch):
        boxes, probs, points = [], [], []
        for image in images:
            faces = self.detector.detect(image)
            if len(faces) == 0:
                boxes.append(None)
                probs.append([None])
                points.append(None)
                continue
            box = faces.boxes.astype(np.float32)
            box[:, :2] += 1  # facenet-pytorch keeps the authors' 1-based x1, y1
            order = np.arange(len(box))  # best first, as tinymtcnn returns them
            if self.select_largest:
                order = np.argsort((box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1]))[::-1]
            boxes.append(box[order])
            probs.append(faces.scores.astype(np.float32)[order])
            points.append(faces.landmarks.astype(np.float32)[order])
        boxes, probs, points = (np.array(v, dtype=object) for v in (boxes, probs, points))
        if not batch:
            return boxes[0], probs[0], points[0]
        return boxes, probs, points

    def detect(self, img, landmarks=False):
        """Boxes, probabilities and (``landmarks=True``) five points of every face.

        Parameters
        ----------
        img : path, PIL image, ndarray (H, W, 3), or a batch: list/tuple of those or (B, H, W, 3)
            Images of a batch may differ in size (facenet-pytorch requires equal sizes).
        landmarks : bool

        Returns
        -------
        boxes, probs[, points]
            One image: ``(N, 4)``, ``(N,)``, ``(N, 5, 2)`` arrays (largest first if
            ``select_largest``, else most probable first), or ``None``, ``array([None])``,
            ``None`` without a face. A batch: object arrays with one such entry per image.
        """
        images, batch, _ = self._load(img)
        boxes, probs, points = self._detect_loaded(images, batch)
        return (boxes, probs, points) if landmarks else (boxes, probs)

    def select_boxes(self, all_boxes, all_probs, all_points, imgs, method="probability", threshold=0.9,
                     center_weight=2.0):
        """One face per image, by ``method`` (see the class); the output of :meth:`detect` in.

        Returns ``(boxes (1, 4), prob, points (1, 5, 2))`` for one image (``None`` x 3 without a
        face), or arrays over the batch. For ``"largest_over_threshold"`` the probability and
        points returned are those of the chosen box (facenet-pytorch 2.6 indexes them with the
        order of the filtered boxes).
        """
        if method not in SELECTION_METHODS:
            raise ValueError(f"method must be one of {SELECTION_METHODS}, got {method!r}")
        batch = _is_batch(imgs)
        if not batch:
            imgs, all_boxes, all_probs, all_points = [imgs], [all_boxes], [all_probs], [all_points]
        chosen_boxes, chosen_probs, chosen_points = [], [], []
        for boxes, probs, points, img in zip(all_boxes, all_probs, all_points, imgs):
            pick = None
            if boxes is not None:
                boxes, probs, points = (np.asarray(v) for v in (boxes, probs, points))  # dtype kept, as theirs
                pick = self._pick(boxes, probs, img, method, threshold, center_weight)
            if pick is None:
                chosen_boxes.append(None)
                chosen_probs.append([None])
                chosen_points.append(None)
            else:
                chosen_boxes.append(boxes[[pick]])
                chosen_probs.append(probs[[pick]])
                chosen_points.append(points[[pick]])
        if not batch:
            return chosen_boxes[0], chosen_probs[0][0], chosen_points[0]
        return tuple(_stacked(v) for v in (chosen_boxes, chosen_probs, chosen_points))

    @staticmethod
    def _pick(boxes, probs, img, method, threshold, center_weight):
        """Index of the selected face, or None."""
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        if method == "probability":
            return int(np.argsort(probs)[::-1][0])
        if method == "largest":
            return int(np.argsort(areas)[::-1][0])
        if method == "largest_over_threshold":
            over = np.flatnonzero(probs > threshold)
            return None if len(over) == 0 else int(over[np.argsort(areas[over])[::-1][0]])
        width, height = img.size if isinstance(img, Image.Image) else (img.shape[1], img.shape[0])
        centres = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)
        offsets = ((centres - (width / 2, height / 2)) ** 2).sum(axis=1)
        return int(np.argsort(areas - offsets * center_weight)[::-1][0])

    # ------------------------------------------------------------------ cropped faces
    def extract(self, img, batch_boxes, save_path):
        """Crops of ``batch_boxes`` (one box per image, or all with ``keep_all``); see :meth:`forward`."""
        images, batch, inputs = self._load(img)
        return self._extract_loaded(images, batch, inputs, batch_boxes, save_path)

    def _extract_loaded(self, images, batch, inputs, batch_boxes, save_path):
        if not batch:
            batch_boxes = [batch_boxes]
        if save_path is None:
            save_path = [None] * len(images)
        elif isinstance(save_path, (str, os.PathLike)):
            save_path = [save_path]
        if len(save_path) != len(images):
            raise ValueError(f"save_path must give one path per image: {len(images)} image(s), "
                             f"{len(save_path)} path(s)")
        faces = []
        for image, source, boxes, path in zip(images, inputs, batch_boxes, save_path):
            if boxes is None:
                faces.append(None)
                continue
            boxes = boxes if self.keep_all else boxes[[0]]
            crops = []
            for i, box in enumerate(boxes):
                face_path = path
                if path is not None and i > 0:
                    stem, ext = os.path.splitext(str(path))
                    face_path = f"{stem}_{i + 1}{ext}"
                crop = extract_face(image, box, self.image_size, self.margin, None)
                if face_path is not None:
                    _save_crop(crop.transpose(1, 2, 0).astype(np.uint8), face_path, source)
                crops.append(fixed_image_standardization(crop) if self.post_process else crop)
            faces.append(np.stack(crops) if self.keep_all else crops[0])
        return faces if batch else faces[0]

    def forward(self, img, save_path=None, return_prob=False):
        """Detect, select (unless ``keep_all``) and crop: the faces as arrays.

        Returns
        -------
        faces[, probs]
            One image: ``(3, S, S)`` float32 (``(N, 3, S, S)`` with ``keep_all``) or ``None``
            without a face; a batch: a list of those. ``return_prob=True`` adds the
            probabilities (of the selected face, or all with ``keep_all``).
            ``save_path`` (one path, or one per image of a batch) saves each crop before
            post-processing: the first face to the path, the others to ``name_2.ext``, ...
        """
        images, batch, inputs = self._load(img)
        boxes, probs, points = self._detect_loaded(images, batch)
        if not self.keep_all:
            picked_on = images if batch else images[0]
            boxes, probs, points = self.select_boxes(boxes, probs, points, picked_on, method=self.selection_method)
        faces = self._extract_loaded(images, batch, inputs, boxes, save_path)
        return (faces, probs) if return_prob else faces

    __call__ = forward
