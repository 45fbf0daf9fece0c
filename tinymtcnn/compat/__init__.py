"""Drop-in APIs of the two most used MTCNN packages, on tinymtcnn's own detector.

Change one import and keep the rest of the code:

    from facenet_pytorch import MTCNN        ->  from tinymtcnn.compat.facenet import MTCNN
    from mtcnn import MTCNN                  ->  from tinymtcnn.compat.ipazc import MTCNN

Both classes take their package's arguments and return their package's structures (key
names, ordering, ``None`` / empty-list conventions), checked against facenet-pytorch 2.6
and mtcnn 1.0 (``tests/test_compat.py``, fixtures from ``tools/make_compat_fixtures.py``).
Underneath runs :class:`tinymtcnn.MTCNN`, the authors' pipeline, not the packages' own
resampler, crops, clipping and NMS (``docs/differences.md``), so box corners differ from
theirs by a few pixels (up to 5.1 px from facenet-pytorch's and 6 px from mtcnn's on the test
photos; each difference over 3 px is traced in ``docs/migration.md``), landmarks by up to
3 px, and, near a threshold, a face may be found by one and not the other. Both number boxes
as the packages do: the authors' 1-based ``x1, y1`` (tinymtcnn's 0-based plus 1).
"""
import os
import warnings

import numpy as np
from PIL import Image


def warn_if_not_cpu(device, cpu_names):
    """Warn that ``device`` is ignored unless it names the CPU.

    ``cpu_names``: lower-case strings that mean the CPU (``None`` always does).
    """
    if device is None:
        return
    name = str(device).lower()
    if name not in cpu_names:
        warnings.warn(f"device={device!r} ignored: tinymtcnn runs on the CPU (numpy + Numba)",
                      UserWarning, stacklevel=3)


def as_image_source(image):
    """``image`` as something :func:`tinymtcnn.io.load_image` reads: tensors and other objects
    with ``__array__`` (a CPU ``torch.Tensor``, a ``tf.Tensor``) become numpy arrays."""
    if isinstance(image, (str, os.PathLike, np.ndarray, Image.Image)):
        return image
    if hasattr(image, "detach") and hasattr(image, "cpu"):  # torch.Tensor, maybe on a GPU
        return np.asarray(image.detach().cpu())
    if hasattr(image, "__array__"):
        return np.asarray(image)
    return image  # load_image names the type it refuses
