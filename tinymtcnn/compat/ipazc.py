"""ipazc/mtcnn 1.0's ``MTCNN`` on tinymtcnn: change ``from mtcnn import MTCNN`` to
``from tinymtcnn.compat.ipazc import MTCNN``.

    >>> from tinymtcnn.compat.ipazc import MTCNN
    >>> MTCNN().detect_faces(img)            # doctest: +SKIP
    [{'box': [x, y, w, h], 'confidence': 0.99..., 'keypoints': {'nose': [x, y], ...}}]

Same arguments and defaults (O-Net threshold 0.8, minimum face 20 px, boxes and landmarks
clipped as the package does), the same list of dicts with the same key names, types and
order (most confident first), ``[]`` for an image without a face, a list of lists for a list
of images. Boxes keep mtcnn's numbering, which is the authors' (its P-Net boxes start at
``2u + 1`` as theirs): 1-based ``x1, y1`` (tinymtcnn's 0-based ``x1, y1`` plus 1), ``x2, y2``
and the keypoints as tinymtcnn's, ``w = x2 - x1``. The detections come from
:class:`tinymtcnn.MTCNN`, the authors' pipeline, not from mtcnn 1.0's TF resampler and crops,
pyramid, box generation and "fast" NMS (docs/differences.md): expect box corners a few pixels
from mtcnn's (up to 6 px measured, docs/migration.md), and its NMS thresholds
(``nms_pnet1`` ...) are the authors' fixed ones.
"""
import io
import warnings

import numpy as np
from PIL import Image

from ..detect.detector import MTCNN as Detector
from ..io import load_image
from ..layers._checks import check_number
from . import as_image_source, warn_if_not_cpu

STAGES = ("face_detection_only", "face_and_landmarks_detection")
BOX_FORMATS = ("xywh", "xyxy")
OUTPUT_TYPES = ("json", "numpy")
#: mtcnn 1.0's stage settings and their defaults (``detect_faces(**kwargs)``).
SETTINGS = {"min_face_size": 20, "min_size": 12, "scale_factor": 0.709, "threshold_pnet": 0.6,
            "threshold_rnet": 0.7, "threshold_onet": 0.8}
#: NMS overlaps of mtcnn 1.0; tinymtcnn keeps the authors' (0.5, 0.7, 0.7, 0.7 'min').
NMS_SETTINGS = {"nms_pnet1": 0.5, "nms_pnet2": 0.7, "nms_rnet": 0.7, "nms_onet": 0.7}
#: mtcnn 1.0's key order; each name's index in tinymtcnn's landmarks (left = image left).
KEYPOINTS = (("nose", 2), ("mouth_right", 4), ("right_eye", 1), ("left_eye", 0), ("mouth_left", 3))


def _load(image):
    """A path, encoded bytes, PIL image or array (RGB) as (H, W, 3) uint8."""
    if isinstance(image, (bytes, bytearray)):
        try:
            image = Image.open(io.BytesIO(image))
        except Exception as exc:  # Pillow raises several kinds for data that is not an image
            raise ValueError(f"bytes given as an image could not be decoded ({len(image)} bytes): {exc}") from None
    return load_image(as_image_source(image))


def _their_numbering(boxes):
    """tinymtcnn's 0-based boxes ``(K, 4)`` in mtcnn 1.0's numbering: ``x1 + 1, y1 + 1, x2, y2``.

    mtcnn numbers boxes as the authors do (P-Net cell ``u`` spans ``2u + 1 .. 2u + 12``, as
    generateBoundingBox.m; regression and landmark decoding are M's formulas), so on the same
    pipeline its ``x1, y1`` are tinymtcnn's plus 1 and its ``x2, y2`` and keypoints are equal.
    """
    boxes = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    boxes[:, :2] += 1
    return boxes


class MTCNN:
    """mtcnn 1.0's ``MTCNN`` interface on tinymtcnn's detector.

    Parameters
    ----------
    stages : {"face_and_landmarks_detection", "face_detection_only"}
        The second gives boxes after R-Net, without keypoints (custom stage objects are not
        supported).
    device : str
        Ignored (a warning unless it names the CPU): tinymtcnn runs on the CPU.
    num_threads : int or None
        Threads of the detector (tinymtcnn's; keyword only).
    """

    def __init__(self, stages="face_and_landmarks_detection", device="CPU:0", *, num_threads=None):
        if not isinstance(stages, str) or stages not in STAGES:
            raise ValueError(f"stages must be one of {STAGES}, got {stages!r}")
        warn_if_not_cpu(device, ("cpu", "cpu:0", "/cpu:0", "/device:cpu:0"))
        self._stages, self._device = stages, device
        self.num_threads = num_threads
        self._detectors = {}

    @property
    def device(self):
        return self._device

    @property
    def stages(self):
        return self._stages

    def __repr__(self):
        return f"tinymtcnn.compat.ipazc.MTCNN(stages={self._stages!r})"

    def _detector(self, settings):
        """The detector for these settings (the nets are loaded once and shared)."""
        key = (settings["min_face_size"], settings["scale_factor"], settings["threshold_pnet"],
               settings["threshold_rnet"], settings["threshold_onet"])
        if key not in self._detectors:
            shared = next(iter(self._detectors.values())).nets if self._detectors else None
            self._detectors[key] = Detector(min_face_size=key[0], scale_factor=key[1], thresholds=key[2:],
                                            landmarks="onet", weights=shared, num_threads=self.num_threads)
        return self._detectors[key]

    @staticmethod
    def _settings(kwargs):
        unknown = sorted(set(kwargs) - set(SETTINGS) - set(NMS_SETTINGS))
        if unknown:
            raise TypeError(f"detect_faces() got unknown keyword(s) {', '.join(unknown)}; "
                            f"known: {', '.join(list(SETTINGS) + list(NMS_SETTINGS))}")
        changed = [k for k, v in NMS_SETTINGS.items() if k in kwargs and kwargs[k] != v]
        if changed:
            warnings.warn(f"{', '.join(changed)} ignored: tinymtcnn keeps the authors' NMS overlaps "
                          f"(0.5 and 0.7 'union' in stage 1, 0.7 'union' after R-Net, 0.7 'min' after O-Net)",
                          UserWarning, stacklevel=3)
        if kwargs.get("min_size", 12) != 12:
            raise ValueError(f"min_size must be 12 (P-Net's input size), got {kwargs['min_size']!r}")
        settings = {k: kwargs.get(k, v) for k, v in SETTINGS.items()}
        check_number("min_face_size", settings["min_face_size"], low=1)
        check_number("scale_factor", settings["scale_factor"], low=0, high=1, low_open=True, high_open=True)
        for name in ("threshold_pnet", "threshold_rnet", "threshold_onet"):
            check_number(name, settings[name], low=0, high=1)
        return settings

    def _rows(self, image, settings):
        """``(K, 16)`` (or ``(K, 6)``) rows of mtcnn 1.0's array: image id 0, x1, y1, x2, y2, score,
        5 landmark x, 5 landmark y, most confident first; in mtcnn's numbering (:func:`_their_numbering`)."""
        detector = self._detector(settings)
        if self._stages == "face_detection_only":
            boxes, scores = detector.trace(image)["rnet"]
            order = np.argsort(-scores, kind="stable")
            return np.column_stack([np.zeros(len(scores)), _their_numbering(boxes[order]), scores[order]])
        faces = detector.detect(image)
        return np.column_stack([np.zeros(len(faces)), _their_numbering(faces.boxes), faces.scores,
                                faces.landmarks[:, :, 0], faces.landmarks[:, :, 1]])

    def detect_faces(self, image, fit_to_image=True, limit_boundaries_landmarks=False, box_format="xywh",
                     output_type="json", postprocess=True, batch_stack_justification="center", **kwargs):
        """Faces of one image (a list of dicts) or of a list of images (a list of such lists).

        Parameters
        ----------
        image : path, bytes (an encoded file), PIL image, RGB array, or a list of those
        fit_to_image : bool
            Clip boxes to the image (``x`` to ``[0, W-1]``, ``y`` to ``[0, H-1]``).
        limit_boundaries_landmarks : bool
            Clip the keypoints too.
        box_format : {"xywh", "xyxy"}
        output_type : {"json", "numpy"}
            ``"numpy"``: one float array ``(K, 16)`` over all images, rows ``[image index,
            box (4), confidence, 5 x, 5 y]`` (``(K, 6)`` for ``face_detection_only``), unrounded.
        postprocess : bool
            False: no clipping.
        batch_stack_justification : str
            Accepted for compatibility; images are run one by one, never padded.
        **kwargs
            ``min_face_size=20``, ``scale_factor=0.709``, ``threshold_pnet=0.6``,
            ``threshold_rnet=0.7``, ``threshold_onet=0.8``; ``min_size`` must be 12; ``nms_*``
            other than the defaults give a warning (not used).

        Returns
        -------
        list
            ``{"box": [x, y, w, h] (int), "confidence": float, "keypoints": {"nose": [x, y],
            "mouth_right", "right_eye", "left_eye", "mouth_left"}}`` per face, best first
            (``[]`` without a face); ``left_eye`` is the eye on the image's left.
        """
        if box_format not in BOX_FORMATS:
            raise ValueError(f"box_format must be one of {BOX_FORMATS}, got {box_format!r}")
        if output_type not in OUTPUT_TYPES:
            raise ValueError(f"output_type must be one of {OUTPUT_TYPES}, got {output_type!r}")
        settings = self._settings(kwargs)
        is_batch = isinstance(image, list)
        images = [_load(im) for im in (image if is_batch else [image])]
        per_image = []
        for index, img in enumerate(images):
            rows = self._rows(img, settings)
            rows[:, 0] = index
            if postprocess and fit_to_image:
                height, width = img.shape[:2]
                rows[:, [1, 3]] = np.clip(rows[:, [1, 3]], 0, width - 1)
                rows[:, [2, 4]] = np.clip(rows[:, [2, 4]], 0, height - 1)
                if limit_boundaries_landmarks and rows.shape[1] == 16:
                    rows[:, 6:11] = np.clip(rows[:, 6:11], 0, width - 1)
                    rows[:, 11:16] = np.clip(rows[:, 11:16], 0, height - 1)
            per_image.append(rows)
        if output_type == "numpy":
            width = 6 if self._stages == "face_detection_only" else 16
            result = np.concatenate([np.zeros((0, width))] + per_image, axis=0)
            if box_format == "xywh":
                result[:, 3:5] -= result[:, 1:3]
            return result
        result = [[self._as_dict(row, box_format) for row in rows] for rows in per_image]
        return result if is_batch else result[0]

    predict = detect_faces

    @staticmethod
    def _as_dict(row, box_format):
        x1, y1, x2, y2 = row[1:5]
        far = (x2 - x1, y2 - y1) if box_format == "xywh" else (x2, y2)
        face = {"box": np.round([x1, y1, *far]).astype(int).tolist(), "confidence": np.float64(row[5])}
        if len(row) == 16:
            points = row[6:16].round().astype(int)
            face["keypoints"] = {name: [points[i], points[5 + i]] for name, i in KEYPOINTS}
        return face
