"""``MTCNN``: the face detector a practitioner uses.

    >>> from tinymtcnn import MTCNN
    >>> faces = MTCNN().detect("photo.jpg")          # doctest: +SKIP
    >>> faces.boxes, faces.scores, faces.landmarks   # doctest: +SKIP

It runs the authors' cascade (:mod:`tinymtcnn.detect.stages`) with the authors'
weights and reports 0-based coordinates (see :class:`~tinymtcnn.detect.result.Detections`).
"""
import inspect
import os
from pathlib import Path

import numpy as np

from ..layers._checks import check_number
from ..nets.base import Net
from ..threads import get_num_threads, limit_threads
from .boxes import points_to_zero_based, to_zero_based
from .pyramid import MAX_MEMORY, MAX_PYRAMID_PIXELS, check_pyramid_cost, level_size
from .result import Detections
from .stages import output, propose, refine, refine_landmarks

LANDMARK_MODES = ("onet", "mirror", "refine", "auto", "tuned")

#: ``landmarks="auto"``: faces whose reported box is at most ``AUTO_MIRROR_MAX_SIDE`` pixels on its
#: longer side get the ``"mirror"`` points, faces of at least ``AUTO_REFINE_MIN_SIDE`` pixels get LNet's
#: refinement of the mirror points, and in between the two are blended linearly by the box side.
#: Fitted on the measurements of docs/landmark_modes.md (tools/landmark_size_bins.py).
AUTO_MIRROR_MAX_SIDE = 45
AUTO_REFINE_MIN_SIDE = 85


def auto_refine_weight(box_side):
    """The ``"auto"`` rule: weight of LNet's points (1 - weight: the mirrored O-Net points) for faces
    whose box's longer side (0-based, pixels) is ``box_side``: 0 up to :data:`AUTO_MIRROR_MAX_SIDE`,
    1 from :data:`AUTO_REFINE_MIN_SIDE`, linear in between."""
    side = np.asarray(box_side, dtype=np.float64)
    return np.clip((side - AUTO_MIRROR_MAX_SIDE) / (AUTO_REFINE_MIN_SIDE - AUTO_MIRROR_MAX_SIDE), 0.0, 1.0)


def _load_nets(weights, with_lnet):
    """Nets from ``weights``: None (the authors'), a directory of ``pnet.npz``/``rnet.npz``/``onet.npz``
    [``lnet.npz``], or a dict ``kind -> path or Net`` (kinds left out: the authors' nets).

    Raises ``ValueError`` for a missing directory or file (named), unknown dict keys and bad
    weight files (see :func:`tinymtcnn.weights.load_net`); ``TypeError`` for a dict value that
    is neither a path nor a net of the right class.
    """
    from ..nets import NET_CLASSES as classes
    from ..weights import load_net

    kinds = ("pnet", "rnet", "onet") + (("lnet",) if with_lnet else ())
    if weights is None:
        return {k: load_net(k) for k in kinds}
    if isinstance(weights, (str, os.PathLike)):
        folder = Path(weights)
        if not folder.is_dir():
            what = (f"is a file (for one net pass a dict, e.g. weights={{'onet': {str(folder)!r}}})"
                    if folder.is_file() else "does not exist")
            raise ValueError(f"weights must be a directory holding pnet.npz, rnet.npz, onet.npz; {folder} {what}")
        absent = [f"{k}.npz" for k in kinds[:3] if not (folder / f"{k}.npz").is_file()]
        if absent:
            held = sorted(f.name for f in folder.glob("*.npz")) or "no .npz file"
            raise ValueError(f"weights directory {folder} has no {', '.join(absent)} (it holds {held}); "
                             f"expected pnet.npz, rnet.npz, onet.npz")
        weights = {k: folder / f"{k}.npz" for k in kinds if (folder / f"{k}.npz").exists() or k != "lnet"}
    if not isinstance(weights, dict):
        raise TypeError(f"weights must be None, a directory or a dict, got {type(weights).__name__}")
    unknown = sorted(map(repr, set(weights) - set(classes)))
    if unknown:
        raise ValueError(f"unknown keys {', '.join(unknown)} in weights; expected some of {tuple(classes)}")
    nets = {}
    for k in kinds:
        src = weights.get(k)
        if src is None:
            nets[k] = load_net(k)  # e.g. the authors' LNet next to self-trained P/R/O-Nets
        elif isinstance(src, Net):
            if not isinstance(src, classes[k]):
                raise TypeError(f"weights[{k!r}] is {type(src).__name__}, expected {classes[k].__name__}")
            nets[k] = src
        elif isinstance(src, (str, os.PathLike)):
            nets[k] = load_net(k, src)
        else:
            raise TypeError(f"weights[{k!r}] must be a path to a .npz file or {classes[k].__name__}, "
                            f"got {type(src).__name__}")
    return nets


def _gives_onet(weights):
    """Whether ``weights`` (as :class:`MTCNN` takes it) replaces the authors' O-Net."""
    if weights is None:
        return False
    if isinstance(weights, dict):
        return weights.get("onet") is not None
    return True  # a directory always holds onet.npz


class MTCNN:
    """Joint face detection and 5-point alignment (Zhang et al. 2016), the authors' pipeline.

    Parameters
    ----------
    min_face_size : float >= 1
        Smallest face (in pixels) searched for; the first pyramid level maps it to
        12 px. Smaller values find smaller faces and cost more time and memory.
    thresholds : (float, float, float) in [0, 1]
        Face-probability thresholds of P-Net (``>=``), R-Net and O-Net (``>``).
    scale_factor : float in (0, 1)
        Ratio between pyramid levels (0.709 ~ 1/sqrt(2)); closer to 1 = more levels.
    landmarks : {"auto", "onet", "mirror", "refine", "tuned"}
        ``"onet"``: O-Net's landmarks (the 2016 release); ``"mirror"``: average with O-Net on
        the mirrored crop (the 2017 release); ``"refine"``: MTCNNv2's LNet (det4) moves each point.
        ``"auto"`` (default): per face by the box's size, ``"mirror"`` for small faces, LNet on
        the mirrored points for large ones, a blend of the two in between
        (:func:`auto_refine_weight`); measured in docs/landmark_modes.md. ``"tuned"`` (opt-in, **research
        use only**): ``"mirror"`` with O-Net's landmark head fine-tuned by this package on MTFL, a
        research-use data set; the most accurate mode measured on faces with an eye distance under
        about 28 px, less accurate than ``"auto"`` above that (docs/landmark_modes.md, "Tuned
        landmarks"). Boxes and scores are the authors'; it needs the authors' O-Net.
    weights : None, directory or dict
        None: the authors' weights shipped with the package. A directory with ``pnet.npz``,
        ``rnet.npz``, ``onet.npz`` (e.g. written by ``tinymtcnn train``), or a dict
        ``{"pnet": path_or_net, ...}``.
    num_threads : int or None
        Threads for this detector's kernels and BLAS; None: :func:`tinymtcnn.get_num_threads`
        (every core unless :func:`tinymtcnn.set_num_threads` said otherwise).
    max_memory : float
        Budget of stage-1 working memory in bytes (default 1.5e9; ``math.inf``: no limit).
    max_pyramid_pixels : float
        Budget of stage-1 work: the pixels of all pyramid levels plus 1,024 per level
        (default 2.5e8, about a minute on two cores; ``math.inf``: no limit).

    Raises
    ------
    TypeError
        A setting of the wrong type: a string, a bool, None where a number is expected.
    ValueError
        A setting out of range, NaN or inf (see each parameter).

    Notes
    -----
    Every ``detect``/``trace`` estimates stage 1's cost from the image size before building
    the pyramid (:func:`tinymtcnn.detect.pyramid.pyramid_cost`) and raises ``ValueError``
    when it exceeds ``max_memory`` or ``max_pyramid_pixels``; the message gives the estimate
    and the keyword that allows it. An 8000 x 6000 photo at the default settings is within
    both (about 0.83 GB, 35 M pixels).
    """

    def __init__(self, min_face_size=20, thresholds=(0.6, 0.7, 0.7), scale_factor=0.709, landmarks="auto",
                 weights=None, num_threads=None, max_memory=MAX_MEMORY, max_pyramid_pixels=MAX_PYRAMID_PIXELS):
        self.min_face_size = check_number("min_face_size", min_face_size, low=1)
        self.scale_factor = check_number("scale_factor", scale_factor, low=0, high=1, low_open=True, high_open=True)
        if isinstance(thresholds, (str, bytes)) or not hasattr(thresholds, "__iter__"):
            raise TypeError(f"thresholds must be a sequence of three numbers, got {type(thresholds).__name__} "
                            f"{thresholds!r}")
        thresholds = tuple(thresholds)
        if len(thresholds) != 3:
            raise ValueError(f"thresholds must be three numbers in [0, 1], got {thresholds!r}")
        self.thresholds = tuple(check_number(f"thresholds[{i}]", t, low=0, high=1) for i, t in enumerate(thresholds))
        if landmarks not in LANDMARK_MODES:
            raise ValueError(f"landmarks must be one of {LANDMARK_MODES}, got {landmarks!r}")
        if num_threads is not None:
            num_threads = check_number("num_threads", num_threads, low=1, integer=True)
        self.num_threads = num_threads
        self.max_memory = check_number("max_memory", max_memory, low=0, low_open=True, allow_inf=True)
        self.max_pyramid_pixels = check_number("max_pyramid_pixels", max_pyramid_pixels, low=0, low_open=True,
                                               allow_inf=True)
        self.landmarks = landmarks
        self.nets = _load_nets(weights, with_lnet=landmarks in ("refine", "auto"))
        if landmarks == "tuned":
            if _gives_onet(weights):
                raise ValueError('landmarks="tuned" fine-tunes the authors\' O-Net head; it cannot be used with '
                                 'weights that replace O-Net (use "mirror" or "auto" with your own nets)')
            from ..weights import with_tuned_landmark_head

            self.nets["onet"] = with_tuned_landmark_head(self.nets["onet"])
        self.weights = weights  # as given: what rebuilds these nets elsewhere (a Dask worker, eval.run)

    def settings(self):
        """The keyword arguments that rebuild this detector: ``MTCNN(**d.settings())`` is ``d`` again.

        One entry per parameter of ``MTCNN(...)``, read from the attribute of the same name, as
        checked (``thresholds`` a tuple of floats, ``num_threads`` None unless given, ``weights``
        as given: paths, or nets in memory). What :func:`tinymtcnn.eval.run.detector_settings` sends
        to Dask workers.
        """
        names = list(inspect.signature(MTCNN.__init__).parameters)[1:]  # every keyword, without self
        return {name: getattr(self, name) for name in names}

    def __repr__(self):
        return (f"MTCNN(min_face_size={self.min_face_size:g}, thresholds={self.thresholds}, "
                f"scale_factor={self.scale_factor}, landmarks={self.landmarks!r})")

    # ------------------------------------------------------------------ running
    def _check_cost(self, image):
        """Refuse ``image`` (already loaded) when stage 1 would exceed this detector's budgets."""
        check_pyramid_cost(image.shape[0], image.shape[1], self.min_face_size, self.scale_factor,
                           threads=self.num_threads or get_num_threads(), max_memory=self.max_memory,
                           max_pyramid_pixels=self.max_pyramid_pixels)

    def _cascade(self, image, on_level=None):
        with limit_threads(self.num_threads, blas=1):  # BLAS threads spin; see tinymtcnn.threads
            return self._run_stages(image, on_level)

    def _run_stages(self, image, on_level):
        t1, t2, t3 = self.thresholds
        s1 = propose(image, self.nets["pnet"], min_face_size=self.min_face_size, scale_factor=self.scale_factor,
                     threshold=t1, on_level=on_level)
        s2 = refine(image, s1.boxes, self.nets["rnet"], threshold=t2)
        s3 = output(image, s2.boxes, self.nets["onet"], threshold=t3,
                    mirror=self.landmarks in ("mirror", "auto", "tuned"), pixel_flip=self.landmarks == "tuned")
        landmarks = s3.landmarks
        if self.landmarks == "refine":
            landmarks = refine_landmarks(image, s3.boxes, landmarks, self.nets["lnet"])
        elif self.landmarks == "auto":
            landmarks = self._refine_large(image, s3.boxes, landmarks)
        order = np.argsort(-s3.scores, kind="stable")
        # the one conversion of the cascade's 1-based boxes and points to the public 0-based ones
        faces = Detections(to_zero_based(s3.boxes)[order], s3.scores[order], points_to_zero_based(landmarks)[order])
        return faces, s1, s2

    def _refine_large(self, image, boxes, landmarks):
        """``"auto"``: blend the mirror points with LNet's by :func:`auto_refine_weight`; boxes (K, 4) and
        landmarks (K, 5, 2) in M's 1-based convention, as the cascade's, and so is the result."""
        # the box's pixels, x2 - x1 + 1, written x2 - (x1 - 1): the public box's width, bit for bit
        weight = auto_refine_weight(np.maximum(boxes[:, 2] - (boxes[:, 0] - 1), boxes[:, 3] - (boxes[:, 1] - 1)))
        some = weight > 0
        if not some.any():
            return landmarks
        landmarks = landmarks.copy()
        refined = refine_landmarks(image, boxes[some], landmarks[some], self.nets["lnet"])
        w = weight[some][:, None, None]
        landmarks[some] = (1 - w) * landmarks[some] + w * refined
        return landmarks

    def detect(self, image):
        """Find the faces in one image.

        Parameters
        ----------
        image : path, PIL image or ndarray
            A file (decoded with Pillow, EXIF orientation applied), or an array
            H x W (gray), H x W x 3 (RGB) or H x W x 4 (RGBA); uint8, uint16 or float in [0, 1].

        Returns
        -------
        Detections
            ``boxes (N, 4)``, ``scores (N,)``, ``landmarks (N, 5, 2)``, 0-based, best first.

        Raises
        ------
        TypeError, ValueError
            An image :func:`tinymtcnn.io.load_image` refuses, or one too costly for this
            detector's budgets (``max_memory``, ``max_pyramid_pixels``).
        """
        from ..io import load_image

        img = load_image(image)
        self._check_cost(img)
        return self._cascade(img)[0]

    def detect_batch(self, images):
        """``[self.detect(im) for im in images]`` (the cascade runs image by image)."""
        return [self.detect(im) for im in images]

    def trace(self, image):
        """Run the cascade and keep what every stage produced, for pictures and teaching.

        Returns
        -------
        dict
            ``"image"`` (H, W, 3) uint8; ``"pyramid"``: list of ``(scale, (h, w))``;
            ``"pnet_maps"``: list of ``(scale, prob map (h', w'))``; ``"pnet"``, ``"rnet"``:
            ``(boxes (K, 4) 0-based, scores)`` after stages 1 and 2; ``"onet"``: the final
            :class:`Detections`.
        """
        from ..io import load_image

        img = load_image(image)
        self._check_cost(img)
        maps = []
        faces, s1, s2 = self._cascade(img, on_level=lambda s, level, prob: maps.append((s, prob)))
        return {
            "image": img,
            "pyramid": [(s, level_size(img.shape[0], img.shape[1], s)) for s, _ in maps],
            "pnet_maps": maps,
            "pnet": (to_zero_based(s1.boxes), s1.scores),
            "rnet": (to_zero_based(s2.boxes), s2.scores),
            "onet": faces,
        }
