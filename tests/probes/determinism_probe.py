"""Run as a script by tests/test_determinism.py, in a process of its own (so that the BLAS core
type and Numba's thread count can be set in its environment before numpy and Numba load).

Prints one JSON object: the BLAS kernel in use, and for 2..max threads the largest difference of
a product (:func:`tinymtcnn.threads.matmul`) and of detections from the one-thread run.
"""
import json
import sys

import numpy as np
from PIL import Image
from threadpoolctl import threadpool_info

import tinymtcnn
from tinymtcnn import threads
from tinymtcnn.io import load_image


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


def main():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((128, 1152)).astype(np.float32)
    b = rng.standard_normal((1152, 600)).astype(np.float32)
    image = mosaic()
    products, detections = {}, {}
    for n in range(1, threads.max_threads() + 1):
        with threads.limit_threads(n, blas=1):
            products[n] = threads.matmul(a, b)
        detections[n] = tinymtcnn.MTCNN(num_threads=n, thresholds=(0.3, 0.3, 0.3)).detect(image)
    blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
    print(json.dumps({
        "architecture": blas[0].get("architecture") if blas else None,
        "faces": len(detections[1]),
        "matmul": {n: float(np.abs(products[n] - products[1]).max()) for n in products},
        "detect": {n: max_diff(detections[n], detections[1]) for n in detections},
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
