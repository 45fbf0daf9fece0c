"""One P-Net pyramid level in one pass: resample, normalise and lay out channel-first.

Port of: detect_face.m (stage-1 loop: ``imResample`` of the ORIGINAL image, then
``(im_data - 127.5) * 0.0078125`` in single precision, then the transpose to Caffe's
layout). The resampling is :func:`tinymtcnn.kernels.resample.resample`'s, and the
normalisation :func:`tinymtcnn.detect.pyramid.normalize`'s, in float32::

    level[c, y, x] = (float32(resample(img)[y, x, c]) - 127.5f) * 0.0078125f        (C, out_h, out_w)

so the result equals ``normalize(resample(img, out_h, out_w)).transpose(2, 0, 1)`` bit for bit,
without the HWC float32 intermediate, the separate normalising passes and the strided reads
that a transposed view costs P-Net.

``pyramid_level_naive`` is the readable twin; ``pyramid_level`` the Numba kernel.
"""
import numpy as np

from .resample import LEVEL, NORM_MEAN, NORM_SCALE, _check_size, check_image, resample_naive, resample_windows


# --------------------------------------------------------------------------- plain twin
def pyramid_level_naive(img, out_h, out_w):
    """Readable twin: ``img (H, W, C)`` -> ``(C, out_h, out_w)`` float32, resampled then normalised."""
    x = resample_naive(img, out_h, out_w)
    x = (x - np.float32(NORM_MEAN)) * np.float32(NORM_SCALE)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


# --------------------------------------------------------------------------- Numba kernel
def pyramid_level(img, out_h, out_w):
    """Numba twin of :func:`pyramid_level_naive`: ``img (H, W, C)`` uint8 or float -> ``(C, out_h, out_w)``
    float32, C-contiguous: the resampler's row loop (:mod:`tinymtcnn.kernels.resample`) writing normalised,
    channel-first rows. Blocks of rows go to several threads when the level is big and more than one is allowed."""
    img = check_image(img)
    if img.ndim != 3:
        raise ValueError(f"image must have shape (H, W, C), got {img.shape}")
    out_h, out_w = _check_size(out_h, out_w)
    return resample_windows(img, [[1, 1, img.shape[1], img.shape[0]]], out_h, out_w, LEVEL)[0]
