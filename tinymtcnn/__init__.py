"""tinymtcnn: MTCNN face detection and 5-point alignment, from scratch in numpy + Numba."""
__version__ = "0.1.0"
