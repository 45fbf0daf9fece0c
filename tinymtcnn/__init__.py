"""tinymtcnn: MTCNN face detection and 5-point alignment, from scratch in numpy + Numba.

    >>> from tinymtcnn import MTCNN
    >>> faces = MTCNN().detect("photo.jpg")   # doctest: +SKIP
"""
__version__ = "0.1.0"

from .detect.detector import MTCNN  # noqa: E402
from .detect.result import Detections  # noqa: E402
from .threads import get_num_threads, set_num_threads  # noqa: E402
from .weights import load_net, load_pretrained  # noqa: E402

__all__ = ["MTCNN", "Detections", "load_net", "load_pretrained", "set_num_threads", "get_num_threads",
           "__version__"]
