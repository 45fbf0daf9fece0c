"""Run as a script by tests/test_determinism.py, in a process of its own (so that the BLAS core
type and Numba's thread count can be set in its environment before numpy and Numba load).

Prints one JSON object: the BLAS kernel in use, and for 2..max threads the largest difference of
a convolution layer's forward and backward pass (its bands of output rows on the threads,
:mod:`tinymtcnn.layers.conv`) and of detections from the one-thread run.
"""
import json
import sys

import numpy as np
from PIL import Image
from threadpoolctl import threadpool_info

import tinymtcnn
from tinymtcnn import threads
from tinymtcnn.io import load_image
from tinymtcnn.layers.conv import conv2d_prelu_backward, conv2d_prelu_forward


def mosaic(size=1024):
    """Four rotated copies of the bundled photo: many candidates, so R-Net and O-Net batches are large."""
    photo = Image.fromarray(load_image(tinymtcnn.__path__[0] + "/assets/astronaut.png"))
    big = Image.new("RGB", (size, size))
    half = size // 2
    for i, angle in enumerate((0, 20, -30, 90)):
        big.paste(photo.rotate(angle).resize((half, half)), ((i % 2) * half, (i // 2) * half))
    return np.asarray(big)


def max_diff(a, b):
    if len(a) != len(b):
        return float("inf")
    return float(max(np.abs(a.boxes - b.boxes).max(initial=0), np.abs(a.scores - b.scores).max(initial=0),
                     np.abs(a.landmarks - b.landmarks).max(initial=0)))


def conv_layer(x, w, b, alpha, g):
    """R-Net's conv2 on a large batch, forward and backward: every array it gives."""
    act, pre, cache = conv2d_prelu_forward(x, w, b, alpha)
    return (act,) + conv2d_prelu_backward(g, cache, pre, alpha)


def main():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((28, 11, 11, 256)).astype(np.float32)  # (C, H, W, N)
    w, b = rng.standard_normal((48, 28, 3, 3)).astype(np.float32), rng.standard_normal(48).astype(np.float32)
    alpha, g = np.full(48, 0.25, np.float32), rng.standard_normal((48, 9, 9, 256)).astype(np.float32)
    image = mosaic()
    layers, detections = {}, {}
    for n in range(1, threads.max_threads() + 1):
        with threads.limit_threads(n, blas=1):
            layers[n] = conv_layer(x, w, b, alpha, g)
        detections[n] = tinymtcnn.MTCNN(num_threads=n, thresholds=(0.3, 0.3, 0.3)).detect(image)
    blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
    print(json.dumps({
        "architecture": blas[0].get("architecture") if blas else None,
        "faces": len(detections[1]),
        "conv": {n: max(float(np.abs(a - a1).max()) for a, a1 in zip(layers[n], layers[1])) for n in layers},
        "detect": {n: max_diff(detections[n], detections[1]) for n in detections},
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
