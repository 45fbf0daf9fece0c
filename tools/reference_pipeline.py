"""Independent float64 reference of the authors' MTCNN pipeline (dev tool, needs OpenCV).

Port of: ``MTCNNv2/detect_face.m`` (stages 1-3 = ``MTCNNv1/detect_face.m`` before ``58e8adb``), with
``generateBoundingBox.m``, ``nms.m``, ``rerec.m``, ``pad.m``, ``bbreg.m`` from
kpzhang93/MTCNN_face_detection_alignment and ``imResample.m`` / ``imResampleMex.cpp`` from
pdollar/toolbox; the behaviour is the one written down in ``../shared/spec/MTCNN_SPEC.md`` sections 2-6.

The four original Caffe nets run in ``cv2.dnn`` (fusion and Winograd off) in the orientation the
released weights need (spec section 2.3, Option A): a natural ``(N, H, W, C)`` image is fed as the
Caffe blob ``X[n, c, i, j] = img[n, j, i, c]``.  Everything else is plain numpy in float64.
This file deliberately does not import ``tinymtcnn``: it is the oracle the package is checked against.

Coordinates follow M: boxes are 1-based inclusive pixel indices ``(x1, y1, x2, y2)`` and landmarks are
decoded with M's ``-1``, so they are 0-based pixel positions.  Run as a script to print the faces found
in one image: ``/work/devenv/bin/python tools/reference_pipeline.py IMAGE [--landmarks mirror]``.
"""
import math
import os
import sys
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TINYMTCNN_SHARED", REPO.parent / "shared"))
MODEL_DIR = SHARED / "reference" / "mtcnn_caffe"
#: det2.caffemodel holds an InnerProduct "conv5-3" (128 -> 10) that det2.prototxt does not declare;
#: appending this layer to a temporary copy of the prototxt makes cv2.dnn load and run it.
CONV53_LAYER = ('\nlayer {\n  name: "conv5-3"\n  type: "InnerProduct"\n  bottom: "conv4"\n'
                '  top: "conv5-3"\n  inner_product_param { num_output: 10 }\n}\n')
LANDMARK_MODES = ("onet", "mirror", "refine")


def to_caffe_blob(images):
    """Natural ``(N, H, W, C)`` images -> the transposed Caffe blob ``(N, C, W, H)`` float32.

    ``X[n, c, i, j] = images[n, j, i, c]``: Caffe-H runs along image x, Caffe-W along image y (spec 2.1).
    """
    return np.ascontiguousarray(np.asarray(images).transpose(0, 3, 2, 1), dtype=np.float32)


class OriginalNets:
    """The authors' det1-det4 in ``cv2.dnn``, fed in the orientation of spec section 2.3 Option A.

    Parameters
    ----------
    model_dir : path holding ``det{1,2,3,4}.{prototxt,caffemodel}``.
    """

    def __init__(self, model_dir=MODEL_DIR):
        model_dir = Path(model_dir)
        if not (model_dir / "det1.caffemodel").is_file():
            raise FileNotFoundError(f"no det1.caffemodel in {model_dir}")
        self.nets = {}
        for k in (1, 2, 3, 4):
            self.nets[k] = self._load(model_dir / f"det{k}.prototxt", model_dir / f"det{k}.caffemodel")
        tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"det2_conv53_{os.getpid()}.prototxt"
        tmp.write_text((model_dir / "det2.prototxt").read_text() + CONV53_LAYER)
        try:
            self.rnet_conv53 = self._load(tmp, model_dir / "det2.caffemodel")
        finally:
            tmp.unlink()

    @staticmethod
    def _load(prototxt, caffemodel):
        net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        net.enableFusion(False)
        net.enableWinograd(False)
        return net

    def forward(self, net, images, blobs, transpose=True):
        """Run ``net`` on natural ``(N, H, W, C)`` float images; return ``{blob: float32 array}``.

        ``transpose=False`` feeds the plain ``(N, C, H, W)`` layout (wrong; only for the check that
        the orientation matters).  Map outputs (P-Net) are returned as Caffe gives them.
        """
        blob = to_caffe_blob(images) if transpose else np.ascontiguousarray(
            np.asarray(images).transpose(0, 3, 1, 2), dtype=np.float32)
        net.setInput(blob)
        return {name: out.copy() for name, out in zip(blobs, net.forward(list(blobs)))}

    def pnet(self, level, transpose=True):
        """P-Net on one normalised level ``(h, w, 3)`` -> ``prob (h', w')``, ``reg (4, h', w')``, (y, x) order."""
        out = self.forward(self.nets[1], level[None], ("prob1", "conv4-2"), transpose)
        swap = (lambda a: a.swapaxes(-1, -2)) if transpose else (lambda a: a)
        return swap(out["prob1"][0, 1]), swap(out["conv4-2"][0])

    def rnet(self, crops):
        """R-Net on ``(N, 24, 24, 3)`` normalised crops -> ``prob (N,)``, ``reg (N, 4)``."""
        out = self.forward(self.nets[2], crops, ("prob1", "conv5-2"))
        return out["prob1"][:, 1], out["conv5-2"]

    def onet(self, crops):
        """O-Net on ``(N, 48, 48, 3)`` crops -> ``prob (N,)``, ``reg (N, 4)``, ``lmk (N, 10)`` = x1..x5, y1..y5."""
        out = self.forward(self.nets[3], crops, ("prob1", "conv6-2", "conv6-3"))
        return out["prob1"][:, 1], out["conv6-2"], out["conv6-3"]

    def lnet(self, patches):
        """det4 on ``(N, 24, 24, 15)`` patches -> ``(N, 5, 2)`` offsets ``(ox, oy)`` from ``fc5_1 .. fc5_5``."""
        out = self.forward(self.nets[4], patches, tuple(f"fc5_{k}" for k in range(1, 6)))
        return np.stack([out[f"fc5_{k}"] for k in range(1, 6)], axis=1)


# ----------------------------------------------------------------------------------------------
# Resampling: port of imResampleMex.cpp (resampleCoef + resample), 'bilinear' method, norm = 1.
# ----------------------------------------------------------------------------------------------
@lru_cache(maxsize=4096)
def resample_weights(n_in, n_out):
    """Dense ``(n_out, n_in)`` weights of one axis of Piotr's ``imResample``.

    Shrinking (``n_in > n_out``): output ``k`` averages the source interval ``[k/s, (k+1)/s)``,
    ``s = n_out/n_in``, with fractional end weights; a tap whose weight is ``<= 1e-3*s`` is dropped
    and the weights are renormalised only when they sum to more than 1.
    Otherwise: bilinear with half-pixel centres ``(k + 0.5)/s - 0.5``, clamped at both edges.
    """
    weights = np.zeros((n_out, n_in))
    s = n_out / n_in
    inv = 1.0 / s
    if n_in > n_out:
        for k in range(n_out):
            a0f = k * inv
            a1f = a0f + inv
            a0, a1 = math.ceil(a0f), int(a1f)
            taps = []
            for a in range(a0 - 1, a1 + 1):
                wt = (a0 - a0f) * s if a == a0 - 1 else (a1f - a1) * s if a == a1 else s
                if wt > 1e-3 * s and a >= 0:
                    assert a < n_in
                    taps.append((a, wt))
            total = sum(wt for _, wt in taps)
            for a, wt in taps:
                weights[k, a] = wt / total if total > 1 else wt
    else:
        for k in range(n_out):
            af = (0.5 + k) * inv - 0.5
            a = math.floor(af)
            if 0 <= a < n_in - 1:
                weights[k, a] = 1.0 - (af - a)
                weights[k, a + 1] = af - a
            else:
                weights[k, min(max(a, 0), n_in - 1)] = 1.0
    weights.setflags(write=False)
    return weights


def im_resample(image, out_h, out_w):
    """Port of: imResample.m (``imResample(A, [out_h out_w], 'bilinear')``) and imResampleMex.cpp.

    ``B = r * Wy @ A @ Wx.T`` per channel with ``r = 1/(1 + 1e-6)`` (the MEX divides its ``norm`` by
    ``1 + 1e-6``); an image already of the target size is returned unchanged, as imResample.m does.
    """
    image = np.asarray(image, dtype=np.float64)
    h, w = image.shape[:2]
    if (h, w) == (out_h, out_w):
        return image.copy()
    wy, wx = resample_weights(h, out_h), resample_weights(w, out_w)
    rows = (wy @ image.reshape(h, -1)).reshape(out_h, w, -1)
    return np.einsum("owc,pw->opc", rows, wx, optimize=True) / (1.0 + 1e-6)


# ----------------------------------------------------------------------------------------------
# Boxes
# ----------------------------------------------------------------------------------------------
def pyramid_scales(h, w, minsize=20, factor=0.709):
    """Scales of M's pyramid (spec 4): ``m*factor^k`` while ``min(h, w)*m*factor^k >= 12``, ``m = 12/minsize``."""
    m = 12.0 / minsize
    minl = min(h, w) * m
    scales = []
    while minl >= 12:
        scales.append(m * factor ** len(scales))
        minl *= factor
    return scales


def generate_boxes(prob, reg, scale, threshold, dtype=np.float64):
    """Port of: MTCNNv2/generateBoundingBox.m.  Cells with ``prob >= threshold`` -> ``(K, 9)`` rows.

    Row = ``[x1 y1 x2 y2 score dx1 dy1 dx2 dy2]`` with ``x1 = fix((2u+1)/scale)``,
    ``x2 = fix((2u+12)/scale)`` (u = 0-based column, v row).  Order: MATLAB ``find`` on the transposed
    map, i.e. row-major over the natural ``(y, x)`` map (matters for NMS ties).
    """
    v, u = np.nonzero(prob >= threshold)
    x1 = np.trunc((2.0 * u + 1) / scale)
    y1 = np.trunc((2.0 * v + 1) / scale)
    x2 = np.trunc((2.0 * u + 12) / scale)
    y2 = np.trunc((2.0 * v + 12) / scale)
    cols = [x1, y1, x2, y2, prob[v, u]] + [reg[k, v, u] for k in range(4)]
    return np.stack(cols, axis=1).astype(dtype) if len(u) else np.zeros((0, 9), dtype)


def nms(boxes, threshold, mode):
    """Port of: nms.m.  Greedy NMS on rows ``[x1 y1 x2 y2 score ...]``; returns picked row indices.

    Areas and overlaps count pixels (``+1``); ``mode`` 'Union' (IoU) or 'Min'.  Scores are sorted
    ascending with a stable sort and the last is taken, so among ties the highest index goes first.
    A box is dropped when its overlap with the picked box is ``> threshold``.
    """
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.intp)
    x1, y1, x2, y2, s = (boxes[:, k] for k in range(5))
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(s, kind="stable")
    pick = []
    while len(order):
        i, rest = order[-1], order[:-1]
        pick.append(i)
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        if mode == "Min":
            o = inter / np.minimum(area[i], area[rest])
        else:
            o = inter / (area[i] + area[rest] - inter)
        order = rest[o <= threshold]
    return np.array(pick, dtype=np.intp)


def square_boxes(boxes):
    """Port of: rerec.m.  ``L = max(w, h)`` with ``w = x2-x1`` (no +1); keeps the centre; other columns kept."""
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def apply_regression(boxes, reg, plus_one=True):
    """Port of: bbreg.m (``plus_one``: ``w = x2-x1+1``) and the stage-1 inline update (``w = x2-x1``)."""
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0] + (1 if plus_one else 0)
    h = boxes[:, 3] - boxes[:, 1] + (1 if plus_one else 0)
    out[:, 0:4] = boxes[:, 0:4] + reg[:, 0:4] * np.stack([w, h, w, h], axis=1)
    return out


def crop_boxes(img, boxes, size):
    """Port of: pad.m + M's crop loop.  Integer 1-based boxes -> ``(N, size, size, 3)`` float64 pixels.

    Each box becomes a ``(y2-y1+1, x2-x1+1, 3)`` array of zeros with the in-image pixels copied in,
    then ``im_resample`` to ``size x size`` (not normalised).
    """
    h, w = img.shape[:2]
    out = np.zeros((len(boxes), size, size, img.shape[2]))
    for n, (x1, y1, x2, y2) in enumerate(np.asarray(boxes[:, :4], dtype=np.int64)):
        tmp = np.zeros((y2 - y1 + 1, x2 - x1 + 1, img.shape[2]))
        sx1, sy1, sx2, sy2 = max(x1, 1), max(y1, 1), min(x2, w), min(y2, h)
        if sx1 <= sx2 and sy1 <= sy2:
            tmp[sy1 - y1:sy2 - y1 + 1, sx1 - x1:sx2 - x1 + 1] = img[sy1 - 1:sy2, sx1 - 1:sx2]
        out[n] = im_resample(tmp, size, size)
    return out


def normalise(pixels):
    """``(x - 127.5) * 0.0078125`` (spec 3.1)."""
    return (pixels - 127.5) * 0.0078125


def decode_landmarks(boxes, lmk):
    """Spec 5.4 step 14: ``X_j = x1 + w*l_j - 1``, ``Y_j = y1 + h*l_{5+j} - 1``; -> ``(N, 5, 2)``."""
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    xs = boxes[:, 0:1] + w[:, None] * lmk[:, 0:5] - 1
    ys = boxes[:, 1:2] + h[:, None] * lmk[:, 5:10] - 1
    return np.stack([xs, ys], axis=2)


def mirror_landmarks(lmk_mirrored):
    """Spec 5.5: O-Net landmarks of a flipped crop -> the un-flipped crop's ``(N, 10)`` vector."""
    m = lmk_mirrored
    return np.concatenate([1 - m[:, [1, 0, 2, 4, 3]], m[:, [6, 5, 7, 9, 8]]], axis=1)


def refine_landmarks(img, nets, boxes, points):
    """Port of: the "extended stage" of MTCNNv2/detect_face.m (spec 5.6, det4).  Returns ``(N, 5, 2)``."""
    side = np.maximum(boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1)
    patch = np.trunc(0.25 * side)
    patch[np.mod(patch, 2) == 1] += 1
    stack = np.zeros((len(boxes), 24, 24, 15))
    for k in range(5):
        x = np.trunc(points[:, k, 0] - 0.5 * patch)
        y = np.trunc(points[:, k, 1] - 0.5 * patch)
        stack[..., 3 * k:3 * k + 3] = crop_boxes(img, np.stack([x, y, x + patch, y + patch], 1), 24)
    offs = nets.lnet(normalise(stack)).astype(np.float64)
    far = (np.abs(offs[..., 0] - 0.5) > 0.35) | (np.abs(offs[..., 1] - 0.5) > 0.35)
    offs[far] = 0.5
    return points - 0.5 * patch[:, None, None] + offs * patch[:, None, None]


def detect(img, nets, minsize=20, factor=0.709, thresholds=(0.6, 0.7, 0.7), landmarks="onet",
           box_dtype=np.float64):
    """Port of: MTCNNv2/detect_face.m (stages 1-3; ``landmarks`` picks the landmark variant).

    Parameters
    ----------
    img : (H, W, 3) uint8 RGB.
    nets : OriginalNets.
    landmarks : 'onet' (spec 5.4, M-v1-orig / M-v2 stages 1-3), 'mirror' (spec 5.5, M-v1 HEAD) or
        'refine' (spec 5.6, M-v2 det4).
    box_dtype : dtype of the box arithmetic; float64 by default.  M itself does it in single
        precision (MATLAB turns ``[double single]`` into single in generateBoundingBox.m).

    Returns
    -------
    dict with 'boxes' (N, 4) 1-based, 'scores' (N,), 'landmarks' (N, 5, 2) and the intermediate
    'stage1_boxes' (K1, 5) (after P-Net: NMS, regression, square, fix) and 'stage2_boxes' (K2, 5)
    (after R-Net: NMS, regression, square; before fix); column 4 is the stage's score.
    """
    if landmarks not in LANDMARK_MODES:
        raise ValueError(f"landmarks must be one of {LANDMARK_MODES}, got {landmarks!r}")
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"expected (H, W, 3) uint8 RGB, got {img.shape} {img.dtype}")
    h, w = img.shape[:2]
    pixels = img.astype(np.float64)
    result = {"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "landmarks": np.zeros((0, 5, 2)),
             "stage1_boxes": np.zeros((0, 5)), "stage2_boxes": np.zeros((0, 5))}
    # Stage 1: P-Net on every pyramid level.
    found = []
    for scale in pyramid_scales(h, w, minsize, factor):
        level = normalise(im_resample(pixels, math.ceil(h * scale), math.ceil(w * scale)))
        prob, reg = nets.pnet(level)
        boxes = generate_boxes(prob.astype(np.float64), reg.astype(np.float64), scale,
                               thresholds[0], box_dtype)
        found.append(boxes[nms(boxes, 0.5, "Union")])
    boxes = np.concatenate(found) if found else np.zeros((0, 9), box_dtype)
    if len(boxes) == 0:
        return result
    boxes = boxes[nms(boxes, 0.7, "Union")]
    boxes = square_boxes(apply_regression(boxes[:, :5], boxes[:, 5:9], plus_one=False))
    boxes[:, 0:4] = np.trunc(boxes[:, 0:4])
    result["stage1_boxes"] = boxes.astype(np.float64)
    # Stage 2: R-Net.
    prob, reg = nets.rnet(normalise(crop_boxes(pixels, boxes, 24)))
    keep = prob > thresholds[1]
    boxes = np.concatenate([boxes[keep, 0:4], prob[keep][:, None].astype(box_dtype)], axis=1)
    reg = reg[keep].astype(box_dtype)
    if len(boxes) == 0:
        return result
    pick = nms(boxes, 0.7, "Union")
    boxes = square_boxes(apply_regression(boxes[pick], reg[pick]))
    result["stage2_boxes"] = boxes.astype(np.float64)
    # Stage 3: O-Net.
    boxes = np.trunc(boxes)
    crops = normalise(crop_boxes(pixels, boxes, 48))
    prob, reg, lmk = nets.onet(crops)
    keep = prob > thresholds[2]
    boxes = np.concatenate([boxes[keep, 0:4], prob[keep][:, None].astype(box_dtype)], axis=1)
    reg, lmk, crops = reg[keep].astype(box_dtype), lmk[keep].astype(box_dtype), crops[keep]
    if len(boxes) == 0:
        return result
    final = apply_regression(boxes, reg)
    pick = nms(final, 0.7, "Min")
    final, boxes, lmk, crops = final[pick], boxes[pick], lmk[pick], crops[pick]
    if landmarks == "mirror":
        mirrored = nets.onet(crops[:, :, ::-1])[2].astype(box_dtype)
        lmk = (lmk + mirror_landmarks(mirrored)) / 2
    points = decode_landmarks(boxes, lmk)
    if landmarks == "refine":
        points = refine_landmarks(pixels, nets, final, points.astype(np.float64))
    return dict(result, boxes=final[:, 0:4].astype(np.float64), scores=final[:, 4].astype(np.float64),
                landmarks=np.asarray(points, dtype=np.float64))


def load_rgb(path):
    """Decode an image file with Pillow to ``(H, W, 3)`` uint8 RGB (grey and palette images converted)."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


if __name__ == "__main__":
    mode = sys.argv[sys.argv.index("--landmarks") + 1] if "--landmarks" in sys.argv else "onet"
    result = detect(load_rgb(sys.argv[1]), OriginalNets(), landmarks=mode)
    for box, score, pts in zip(result["boxes"], result["scores"], result["landmarks"]):
        print(np.round(box, 2), round(float(score), 5), np.round(pts, 1).tolist())
