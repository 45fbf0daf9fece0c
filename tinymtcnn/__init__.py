"""tinymtcnn: MTCNN face detection and 5-point alignment, from scratch in numpy + Numba.

    >>> from tinymtcnn import MTCNN
    >>> faces = MTCNN().detect("photo.jpg")   # doctest: +SKIP

The names below are imported on first use (PEP 562), so ``import tinymtcnn`` and the command
line start without loading numpy and Numba: a Ctrl-C in the first second ends quietly.
"""
import importlib
import importlib.util

__version__ = "0.1.0"

_LAZY = {"MTCNN": "detect.detector", "Detections": "detect.result", "get_num_threads": "threads",
         "set_num_threads": "threads", "load_net": "weights", "load_pretrained": "weights"}

__all__ = ["MTCNN", "Detections", "load_net", "load_pretrained", "set_num_threads", "get_num_threads",
           "__version__"]


def __getattr__(name):
    """``tinymtcnn.MTCNN`` and the other public names, and submodules (``tinymtcnn.threads``), on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    elif not name.startswith("__") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
