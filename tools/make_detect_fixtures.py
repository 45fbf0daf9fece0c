"""Write the detection fixtures of the float64 reference pipeline (tools/reference_pipeline.py).

Dev tool (needs the dev venv, see tools/README.md, and ../shared):
``/work/devenv/bin/python tools/make_detect_fixtures.py``.

* ``tests/fixtures/detect_reference.json``: images the repository can rebuild - the astronaut
  (``tinymtcnn/assets/astronaut.png``) and numpy-only transforms of it (see ``RECIPES``).
* ``tests/fixtures/detect_reference_shared.json``: ``../shared/reference/mtcnn_caffe/test{1,2}.jpg`` and
  every image of ``../shared/data/faces_dev/images`` (numbers only; tests marked ``shared`` read the
  pixels from ``../shared``).

Per case: file (or recipe), image size, ``image_sha256`` of the decoded ``(H, W, 3)`` uint8 RGB bytes (so a
test can tell a different decode from a different detector), parameters, ``boxes`` (N, 4) in M's
1-based convention, ``scores`` (N,), ``landmarks`` {mode: (N, 5, 2)} for the three landmark modes,
``stage1_boxes`` / ``stage2_boxes`` (K, 5: x1 y1 x2 y2 score; see ``reference_pipeline.detect``),
``seconds`` per mode, and ``float32_agrees``: whether the same run with M's single-precision box arithmetic
gives the same number of faces and boxes within 1e-3 px (False marks images a float32 port may not match
exactly).
"""
import hashlib
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import PIL

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_pipeline as rp  # noqa: E402

FIXTURES = rp.REPO / "tests" / "fixtures"
ASTRONAUT = rp.REPO / "tinymtcnn" / "assets" / "astronaut.png"
DEFAULTS = {"minsize": 20, "factor": 0.709, "thresholds": [0.6, 0.7, 0.7]}


def nearest_resize(img, height, width):
    """``img[(arange(height) * H) // height][:, (arange(width) * W) // width]`` (exact, numpy only)."""
    rows = (np.arange(height) * img.shape[0]) // height
    cols = (np.arange(width) * img.shape[1]) // width
    return img[rows][:, cols]


def gray(img):
    """``(299 R + 587 G + 114 B + 500) // 1000`` in int64, repeated over 3 channels, uint8."""
    rgb = img.astype(np.int64)
    lum = (rgb[..., 0] * 299 + rgb[..., 1] * 587 + rgb[..., 2] * 114 + 500) // 1000
    return np.repeat(lum[..., None], 3, axis=2).astype(np.uint8)


#: name -> (recipe text, function of the astronaut array, detect parameters).
RECIPES = {
    "astronaut": ("astronaut", lambda a: a, DEFAULTS),
    "astronaut_mirrored": ("astronaut[:, ::-1]", lambda a: a[:, ::-1], DEFAULTS),
    "astronaut_371x297": ("nearest_resize(astronaut, 371, 297)", lambda a: nearest_resize(a, 371, 297),
                          DEFAULTS),
    "astronaut_371x297_minsize10": ("nearest_resize(astronaut, 371, 297); minsize 10 (first levels enlarge)",
                                    lambda a: nearest_resize(a, 371, 297), dict(DEFAULTS, minsize=10)),
    "astronaut_gray_150x130": ("gray(nearest_resize(astronaut, 150, 130))",
                               lambda a: gray(nearest_resize(a, 150, 130)), DEFAULTS),
    "gray_40x30": ("np.full((40, 30, 3), 128, np.uint8)", lambda a: np.full((40, 30, 3), 128, np.uint8),
                   DEFAULTS),
    "gray_16x19": ("np.full((16, 19, 3), 128, np.uint8)  (min side < minsize: no pyramid level)",
                   lambda a: np.full((16, 19, 3), 128, np.uint8), DEFAULTS),
}
RECIPE_HELP = ("astronaut = uint8 RGB of tinymtcnn/assets/astronaut.png decoded by Pillow; "
               "nearest_resize(img, h, w) = img[(arange(h) * H) // h][:, (arange(w) * W) // w]; "
               "gray(img) = repeat((299 R + 587 G + 114 B + 500) // 1000 (int64), 3 channels) as uint8")


def run_case(nets, img, params):
    """Reference results of one image in all landmark modes, as JSON-ready lists."""
    kwargs = dict(minsize=params["minsize"], factor=params["factor"], thresholds=tuple(params["thresholds"]))
    case = {"height": int(img.shape[0]), "width": int(img.shape[1]),
            "image_sha256": hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest(),
            "params": params, "landmarks": {}, "seconds": {}}
    for mode in rp.LANDMARK_MODES:
        start = time.perf_counter()
        result = rp.detect(img, nets, landmarks=mode, **kwargs)
        case["seconds"][mode] = round(time.perf_counter() - start, 4)
        case["landmarks"][mode] = result["landmarks"].tolist()
    for key in ("boxes", "scores", "stage1_boxes", "stage2_boxes"):
        case[key] = result[key].tolist()
    single = rp.detect(img, nets, box_dtype=np.float32, **kwargs)
    case["float32_agrees"] = bool(single["boxes"].shape == result["boxes"].shape and np.allclose(
        single["boxes"], result["boxes"], rtol=0, atol=1e-3))
    return case


def write_json(path, doc):
    """Write ``doc`` with one line per case (compact, still diff-friendly); floats round-trip exactly."""
    cases = doc.pop("cases")
    head = json.dumps(doc, indent=1)[:-2]
    body = ",\n  ".join(json.dumps(case, separators=(",", ":")) for case in cases)
    path.write_text(f'{head},\n "cases": [\n  {body}\n ]\n}}\n')
    json.loads(path.read_text())


def header():
    return {"generator": "tools/make_detect_fixtures.py (reference: tools/reference_pipeline.py)",
            "versions": {"opencv": cv2.__version__, "numpy": np.__version__, "pillow": PIL.__version__},
            "conventions": "boxes (N,4) x1,y1,x2,y2 1-based inclusive (authors' MATLAB); landmarks (N,5,2) "
                           "x,y decoded with M's -1 (0-based pixels), order left eye, right eye, nose, "
                           "mouth left, mouth right; detection order = final NMS order",
            "landmark_modes": {"onet": "spec 5.4 (M-v1-orig / M-v2 stages 1-3)",
                               "mirror": "spec 5.5 (M-v1 HEAD, mirror-averaged)",
                               "refine": "spec 5.6 (M-v2 det4 refinement)"}}


def summary(name, case):
    print(f"{name:34s} {case['width']:4d}x{case['height']:<4d} faces {len(case['boxes']):2d}  "
          f"stage1 {len(case['stage1_boxes']):4d}  stage2 {len(case['stage2_boxes']):3d}  "
          f"{case['seconds']['onet']:.2f}s  f32 {'ok' if case['float32_agrees'] else 'DIFFERS'}")


def main():
    nets = rp.OriginalNets()
    astronaut = rp.load_rgb(ASTRONAUT)
    local = dict(header(), recipe_help=RECIPE_HELP, cases=[])
    for name, (recipe, make, params) in RECIPES.items():
        case = dict(name=name, recipe=recipe, **run_case(nets, np.ascontiguousarray(make(astronaut)), params))
        local["cases"].append(case)
        summary(name, case)
    write_json(FIXTURES / "detect_reference.json", local)
    files = [rp.SHARED / "reference" / "mtcnn_caffe" / f"test{k}.jpg" for k in (1, 2)]
    files += sorted((rp.SHARED / "data" / "faces_dev" / "images").iterdir())
    shared = dict(header(), root="../shared (paths below are relative to it); decoded with "
                                 "PIL.Image.open(path).convert('RGB')", cases=[])
    for path in files:
        case = dict(file=str(path.relative_to(rp.SHARED)), **run_case(nets, rp.load_rgb(path), DEFAULTS))
        shared["cases"].append(case)
        summary(path.name, case)
    total = sum(len(c["boxes"]) for c in shared["cases"])
    print(f"shared: {len(files)} images, {total} faces; "
          f"float32 differs on {sum(not c['float32_agrees'] for c in shared['cases'])}")
    write_json(FIXTURES / "detect_reference_shared.json", shared)


if __name__ == "__main__":
    main()
