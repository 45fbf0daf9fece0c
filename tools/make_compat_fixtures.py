"""Record what facenet-pytorch 2.6 and mtcnn 1.0 (ipazc) return, for tests/test_compat.py.

    python -m venv /tmp/compatvenv
    /tmp/compatvenv/bin/pip install torch==2.14.1 torchvision==0.29.1 'numpy<2' requests tqdm
    /tmp/compatvenv/bin/pip install --no-deps facenet-pytorch==2.6.0 mtcnn==1.0.0
    /tmp/compatvenv/bin/pip install 'pillow==10.2.0' joblib lz4 tensorflow-cpu
    python tools/make_compat_fixtures.py --venv /tmp/compatvenv

The packages live in their own virtual environment, never beside tinymtcnn (facenet-pytorch
2.6 pins torch<=2.3, torchvision<0.18, numpy<2, Pillow<10.3; it is installed with ``--no-deps``
beside torch 2.14.1 / torchvision 0.29.1, the releases this machine's pip has on disk, and
its other pins kept). The photos are made
here from ``tinymtcnn/assets/astronaut.png`` with numpy only (:func:`compat_photos`, also
used by the tests), handed to a worker process in the venv as ``.npy`` files, and the
answers written to ``tests/fixtures/compat_facenet.json`` and ``compat_ipazc.json``
together with the type of every returned object (:func:`describe`).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ASTRONAUT = REPO / "tinymtcnn" / "assets" / "astronaut.png"
FIXTURES = REPO / "tests" / "fixtures"


# ---------------------------------------------------------------------------- photos (numpy only)
def _half(a):
    """2x2 box average, rounded: a 2x smaller picture."""
    h, w = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2
    return np.rint(a[:h, :w].reshape(h // 2, 2, w // 2, 2, 3).astype(np.float64).mean(axis=(1, 3))).astype(np.uint8)


def _nearest(a, height, width):
    """Nearest-neighbour resize by indexing."""
    return a[(np.arange(height) * a.shape[0]) // height][:, (np.arange(width) * a.shape[1]) // width]


def _background(height, width):
    """A smooth colour gradient with faint stripes: nothing a detector takes for a face."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 40 + 170 * x / width
    g = 60 + 150 * y / height
    b = 128 + 30 * np.sin(x / 37.0) * np.cos(y / 53.0)
    return np.rint(np.stack([r, g, b], axis=2)).astype(np.uint8)


def compat_photos(astronaut):
    """The test photos, ``{name: (H, W, 3) uint8}``, from the astronaut ``(512, 512, 3)`` array.

    ``astronaut`` (1 face), ``astronaut_small`` (256 px), ``astronaut_large`` (768 px),
    ``group`` (four copies of three sizes, one mirrored, one at the right edge, on a gradient,
    1024 x 640) and ``faceless`` (the gradient alone, 512 x 512, the astronaut's size for
    facenet-pytorch's equal-size batches).
    """
    a = np.ascontiguousarray(astronaut)
    small = _half(a)
    group = _background(640, 1024)
    group[40:296, 20:276] = small
    group[64:576, 300:812] = a[:, ::-1]
    group[330:458, 640:768] = _half(small)
    group[300:556, 1024 - 180:1024] = small[:, :180]
    return {"astronaut": a, "astronaut_small": small, "astronaut_large": _nearest(a, 768, 768),
            "group": group, "faceless": _background(512, 512)}


# ---------------------------------------------------------------------------- JSON of any answer
def plain(v):
    """``v`` as JSON: arrays and tensors become nested lists, numpy scalars numbers (floats rounded to
    5 decimals), None stays."""
    if isinstance(v, float):
        return round(v, 5)
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if hasattr(v, "detach"):  # torch.Tensor
        v = v.detach().cpu().numpy()
    if isinstance(v, np.ndarray):
        return [plain(x) for x in v] if v.ndim else plain(v.item())
    if isinstance(v, np.generic):
        return plain(v.item())
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    raise TypeError(f"cannot write {type(v).__name__} as JSON")


def describe(v):
    """The structure of ``v``: type names, dtypes, shapes, key names, recursively.

    A torch ``Tensor`` is described as ``ndarray`` (tinymtcnn returns numpy arrays where
    facenet-pytorch returns tensors), with the numpy name of its dtype.
    """
    if v is None:
        return None
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy()
    if isinstance(v, np.ndarray):
        d = {"type": "ndarray", "dtype": str(v.dtype), "shape": list(v.shape)}
        if v.dtype == object and v.size:
            d["items"] = [describe(x) for x in v.ravel()[:8]]
        return d
    if isinstance(v, dict):
        return {"type": "dict", "keys": list(v), "items": {k: describe(x) for k, x in v.items()}}
    if isinstance(v, (list, tuple)):
        return {"type": type(v).__name__, "len": len(v), "items": [describe(x) for x in v[:8]]}
    return {"type": type(v).__name__}


def pooled(face, cells=8):
    """A (3, S, S) crop averaged over ``cells x cells`` blocks: a small summary of a crop."""
    face = np.asarray(face.detach().cpu().numpy() if hasattr(face, "detach") else face, dtype=np.float64)
    c, s, _ = face.shape
    k = s // cells
    return np.round(face[:, :k * cells, :k * cells].reshape(c, cells, k, cells, k).mean(axis=(2, 4)), 3)


# ---------------------------------------------------------------------------- what is recorded
def _outcome(fn):
    """``fn()``'s answer, or the name and message of what it raised."""
    try:
        return {"value": fn()}
    except Exception as exc:  # recorded as the package's behaviour
        return {"error": type(exc).__name__, "message": str(exc)[:200]}


def facenet_cases(MTCNN, photos, pil, tmp):
    """The calls recorded for facenet-pytorch (``MTCNN`` is its class or the compat one)."""
    def entry(fn):
        out = _outcome(fn)
        if "value" in out:
            out = {"answer": plain(out["value"]), "structure": describe(out["value"])}
        return out

    default, by_prob, keep = MTCNN(), MTCNN(select_largest=False), MTCNN(keep_all=True)
    cases = {}
    for name, img in photos.items():
        cases[f"detect/{name}"] = entry(lambda: default.detect(pil(img), landmarks=True))
    cases["detect_no_landmarks/astronaut"] = entry(lambda: default.detect(pil(photos["astronaut"])))
    cases["detect_by_probability/group"] = entry(lambda: by_prob.detect(pil(photos["group"]), landmarks=True))
    cases["detect_array/astronaut"] = entry(lambda: default.detect(photos["astronaut"], landmarks=True))
    pair = [pil(photos["astronaut"]), pil(photos["faceless"])]
    cases["detect_batch/astronaut+faceless"] = entry(lambda: default.detect(pair, landmarks=True))
    cases["detect_batch/astronaut+astronaut"] = entry(lambda: default.detect([pair[0], pair[0]], landmarks=True))
    summary = lambda faces: None if faces is None else pooled(faces)  # noqa: E731
    for name in ("astronaut", "group", "faceless"):
        out = _outcome(lambda: default(pil(photos[name]), return_prob=True))
        if "value" in out:
            faces, prob = out["value"]
            out = {"structure": describe(out["value"]), "prob": plain(prob), "pooled": plain(summary(faces))}
        cases[f"forward/{name}"] = out
    out = _outcome(lambda: keep(pil(photos["group"]), return_prob=True))
    if "value" in out:
        faces, probs = out["value"]
        out = {"structure": describe(out["value"]), "prob": plain(probs), "pooled": [plain(pooled(f)) for f in faces]}
    cases["forward_keep_all/group"] = out
    for method in ("probability", "largest", "largest_over_threshold", "center_weighted_size"):
        m = MTCNN(selection_method=method)
        out = _outcome(lambda: m(pil(photos["group"]), return_prob=True))
        if "value" in out:
            out = {"structure": describe(out["value"]), "prob": plain(out["value"][1]),
                   "pooled": plain(pooled(out["value"][0]))}
        cases[f"forward_{method}/group"] = out
    cases["forward_batch/astronaut+faceless"] = entry(lambda: [describe(f) for f in default(pair)])
    cases["forward_batch_keep_all/astronaut+faceless"] = entry(lambda: [describe(f) for f in keep(pair)])
    margin = MTCNN(image_size=112, margin=20, post_process=False)
    out = _outcome(lambda: margin(pil(photos["astronaut"])))
    if "value" in out:
        out = {"structure": describe(out["value"]), "pooled": plain(pooled(out["value"]))}
    cases["forward_size112_margin20_raw/astronaut"] = out
    save = Path(tmp) / "saved" / "face.png"
    keep(pil(photos["group"]), save_path=str(save))
    cases["save_path_keep_all/group"] = {"files": sorted(p.name for p in save.parent.iterdir())}
    return cases


def ipazc_cases(MTCNN, photos):
    """The calls recorded for ipazc's mtcnn (its class or the compat one)."""
    def entry(fn):
        out = _outcome(fn)
        if "value" in out:
            out = {"answer": plain(out["value"]), "structure": describe(out["value"])}
        return out

    det, boxes_only = MTCNN(), MTCNN(stages="face_detection_only")
    cases = {}
    for name, img in photos.items():
        cases[f"detect_faces/{name}"] = entry(lambda: det.detect_faces(img))
    three = [photos["astronaut"], photos["astronaut_small"], photos["faceless"]]
    cases["detect_faces_batch/astronaut+small+faceless"] = entry(lambda: det.detect_faces(three))
    cases["detect_faces_xyxy/group"] = entry(lambda: det.detect_faces(photos["group"], box_format="xyxy"))
    cases["detect_faces_landmarks_clipped/group"] = entry(
        lambda: det.detect_faces(photos["group"], limit_boundaries_landmarks=True))
    cases["detect_faces_numpy/astronaut"] = entry(lambda: det.detect_faces(photos["astronaut"], output_type="numpy"))
    cases["detect_faces_threshold_onet_0.7/group"] = entry(
        lambda: det.detect_faces(photos["group"], threshold_onet=0.7))
    cases["face_detection_only/astronaut"] = entry(lambda: boxes_only.detect_faces(photos["astronaut"]))
    return cases


# ---------------------------------------------------------------------------- comparing answers
LANDMARK_KEYS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def faces_in(package, answer, box_format="xywh"):
    """``(boxes (N, 4) x1, y1, x2, y2, landmarks (N, 5, 2) or None)`` of one image's JSON answer:
    facenet-pytorch's ``detect`` tuple or mtcnn's list of dicts."""
    if package == "facenet":
        boxes = answer[0]
        points = answer[2] if len(answer) == 3 else None
        if boxes is None:
            return np.zeros((0, 4)), None if len(answer) < 3 else np.zeros((0, 5, 2))
        return np.array(boxes, dtype=float), None if points is None else np.array(points, dtype=float)
    boxes = np.array([f["box"] for f in answer], dtype=float).reshape(-1, 4)
    if box_format == "xywh":
        boxes[:, 2:] += boxes[:, :2]
    if answer and "keypoints" not in answer[0]:
        return boxes, None
    points = np.array([[f["keypoints"][k] for k in LANDMARK_KEYS] for f in answer], dtype=float)
    return boxes, points.reshape(-1, 5, 2)


def match_faces(theirs, ours):
    """Pairs ``(i, j)`` of theirs[i] and ours[j], boxes ``(N, 4)``: greedy, nearest centres first."""
    ct = (theirs[:, :2] + theirs[:, 2:]) / 2
    co = (ours[:, :2] + ours[:, 2:]) / 2
    dist = np.linalg.norm(ct[:, None] - co[None], axis=2) if len(ct) and len(co) else np.zeros((len(ct), len(co)))
    pairs = []
    while dist.size and np.isfinite(dist).any():
        i, j = np.unravel_index(np.argmin(dist), dist.shape)
        pairs.append((int(i), int(j)))
        dist[i, :], dist[:, j] = np.inf, np.inf
    return sorted(pairs)


def differences(theirs, ours):
    """``(faces theirs, faces ours, max |box corner| difference, max |landmark| difference)`` over
    matched faces, from two :func:`faces_in` results (differences None when nothing matched)."""
    (tb, tl), (ob, ol) = theirs, ours
    pairs = match_faces(tb, ob)
    box = max((np.abs(tb[i] - ob[j]).max() for i, j in pairs), default=None)
    lmk = None
    if tl is not None and ol is not None:
        lmk = max((np.abs(tl[i] - ol[j]).max() for i, j in pairs), default=None)
    return len(tb), len(ob), box, lmk


def comparison_rows(theirs, ours):
    """``[(package, photo, faces theirs, faces ours, max box diff, max landmark diff)]`` of the
    single-photo detections in two ``{"facenet": cases, "ipazc": cases}`` records."""
    rows = []
    for package, prefix in (("facenet", "detect/"), ("ipazc", "detect_faces/")):
        for case, answer in theirs[package].items():
            if case.startswith(prefix):
                rows.append((package, case[len(prefix):], *differences(
                    faces_in(package, answer["answer"]), faces_in(package, ours[package][case]["answer"]))))
    return rows


# ---------------------------------------------------------------------------- worker (in the venv)
def worker(package, folder):
    import importlib.metadata as md

    photos = {p.stem: np.load(p) for p in sorted(Path(folder).glob("*.npy"))}
    if package == "facenet":
        from facenet_pytorch import MTCNN
        from PIL import Image

        with tempfile.TemporaryDirectory() as tmp:
            cases = facenet_cases(MTCNN, photos, Image.fromarray, tmp)
        versions = {d: md.version(d) for d in ("facenet-pytorch", "torch", "torchvision", "numpy", "pillow")}
    else:
        from mtcnn import MTCNN

        cases = ipazc_cases(MTCNN, photos)
        versions = {d: md.version(d) for d in ("mtcnn", "tensorflow-cpu", "numpy")}
    print(json.dumps({"versions": versions, "cases": cases}))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--venv", type=Path, default=Path("/tmp/compatvenv"), help="the venv with both packages")
    ap.add_argument("--worker", choices=["facenet", "ipazc"], help=argparse.SUPPRESS)
    ap.add_argument("--photos", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.photos)
    from tinymtcnn.atomic import atomic_write_text
    from tinymtcnn.io import load_image

    python = args.venv / "bin" / "python"
    if not python.exists():
        sys.exit(f"no Python at {python}; make the venv first (see this script's docstring)")
    photos = compat_photos(load_image(ASTRONAUT))
    with tempfile.TemporaryDirectory() as folder:
        for name, img in photos.items():
            np.save(Path(folder) / f"{name}.npy", img)
        for package in ("facenet", "ipazc"):
            out = subprocess.run([str(python), __file__, "--worker", package, "--photos", folder],
                                 capture_output=True, text=True,
                                 env={**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"})
            if out.returncode != 0:
                sys.exit(f"{package} worker failed:\n{out.stderr[-3000:]}")
            record = json.loads(out.stdout.strip().splitlines()[-1])
            target = FIXTURES / f"compat_{package}.json"
            atomic_write_text(target, as_json_lines(record))
            print(f"{target.relative_to(REPO)}: {len(record['cases'])} cases, {record['versions']}")
    print_comparison(photos)


def as_json_lines(record):
    """``record`` (versions, cases) as JSON with one line per case: small, and diffs by case."""
    cases = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in record["cases"].items())
    return f'{{"versions": {json.dumps(record["versions"])},\n "cases": {{\n{cases}\n}}}}\n'


def print_comparison(photos):
    """The table of docs/migration.md: the recorded answers next to the compat classes'."""
    from PIL import Image

    from tinymtcnn.compat import facenet, ipazc

    theirs = {k: json.loads((FIXTURES / f"compat_{k}.json").read_text())["cases"] for k in ("facenet", "ipazc")}
    with tempfile.TemporaryDirectory() as tmp:
        ours = {"facenet": facenet_cases(facenet.MTCNN, photos, Image.fromarray, tmp),
                "ipazc": ipazc_cases(ipazc.MTCNN, photos)}
    ours = json.loads(json.dumps(ours, default=lambda v: v.item() if hasattr(v, "item") else v.tolist()))
    print("\n| package | photo | faces theirs / ours | max box corner difference | max landmark difference |")
    print("|---|---|---|---|---|")
    for package, photo, n_theirs, n_ours, box, lmk in comparison_rows(theirs, ours):
        px = lambda v: "-" if v is None else f"{v:.1f} px"  # noqa: E731
        print(f"| {package} | {photo} | {n_theirs} / {n_ours} | {px(box)} | {px(lmk)} |")


if __name__ == "__main__":
    main()
