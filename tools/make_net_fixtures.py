"""Write tests/fixtures/nets_reference.npz: outputs of the authors' original nets, run in cv2.dnn.

Dev tool (needs the dev venv, see tools/README.md, and ../shared/reference/mtcnn_caffe):
``/work/devenv/bin/python tools/make_net_fixtures.py``.

Every input is stored as uint8 natural-orientation images ``(N, H, W, C)``; a test rebuilds the float
input as ``(u8 - 127.5) * 0.0078125`` in NCHW natural orientation (``u8.transpose(0, 3, 1, 2)``).  The
nets themselves ran on the transposed blob ``(N, C, W, H)`` (spec 2.3 Option A, see
``reference_pipeline.to_caffe_blob``); P-Net's maps are transposed back, so every map is stored NCHW in
natural ``(y, x)`` orientation.  Keys are ``<net>/<input>/<Caffe blob>``:

* ``pnet/level{k}/input`` (1, H, W, 3), ``pnet/level{k}/prob1`` (1, 2, H', W'),
  ``pnet/level{k}/conv4-2`` (1, 4, H', W'), ``H' = ceil(H/2) - 5``;
* ``rnet/input`` (N, 24, 24, 3), ``rnet/prob1`` (N, 2), ``rnet/conv5-2`` (N, 4), ``rnet/conv5-3``
  (N, 10): det2's landmark head that det2.prototxt does not declare (read by appending the layer to a
  temporary prototxt, see ``reference_pipeline.CONV53_LAYER``); ``rnet/kind`` (N,) str;
* ``onet/input`` (N, 48, 48, 3), ``onet/prob1`` (N, 2), ``onet/conv6-2`` (N, 4), ``onet/conv6-3``
  (N, 10), ``onet/kind``;
* ``lnet/input`` (N, 24, 24, 15) (patch k = channels 3k..3k+2), ``lnet/fc5_1`` .. ``lnet/fc5_5``
  (N, 2), ``lnet/kind``.
"""
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_pipeline as rp  # noqa: E402

ASTRONAUT = rp.REPO / "tinymtcnn" / "assets" / "astronaut.png"
OUT = rp.REPO / "tests" / "fixtures" / "nets_reference.npz"
#: The astronaut's face (0-based x1, y1, x2, y2) and 5 landmarks, read off the reference detector.
FACE = (179, 60, 268, 174)
POINTS = ((204, 101), (246, 103), (224, 129), (202, 140), (245, 142))
#: P-Net inputs: natural (H, W) of the levels made from a non-square crop of the astronaut.
CROP = (120, 20, 330, 300)  # x1, y1, x2, y2 (PIL box): 210 wide, 280 high
LEVEL_SIZES = ((97, 73), (70, 53), (49, 38), (27, 21))


def u8_input(images):
    """uint8 ``(N, H, W, C)`` -> normalised float64, as a test rebuilds it."""
    return rp.normalise(images.astype(np.float64))


def pnet_levels(astro, rng):
    """Pyramid-like P-Net inputs: resized crops (odd and non-square) and two synthetic images."""
    crop = astro.crop(CROP)
    levels = [np.asarray(crop.resize((w, h), Image.BILINEAR)) for h, w in LEVEL_SIZES]
    levels.append(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))  # smallest input: 1x1 map
    yy, xx = np.mgrid[0:15, 0:23]  # odd, non-square gradient plus noise
    grad = np.stack([xx * 11, yy * 17, (xx + yy) * 6], axis=2) + rng.integers(0, 20, (15, 23, 3))
    levels.append(np.clip(grad, 0, 255).astype(np.uint8))
    return levels


def jitter_boxes(box, count, rng, amount):
    """Square-ish boxes around ``box`` with shifts and scale changes up to ``amount`` of its size."""
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    out = []
    for _ in range(count):
        s = side * (1 + rng.uniform(-amount, amount))
        dx, dy = rng.uniform(-amount, amount, 2) * side
        out.append((cx + dx - s / 2, cy + dy - s / 2, cx + dx + s / 2, cy + dy + s / 2))
    return out


def crop_set(astro, boxes, size, rng):
    """16 crops of ``size``: 8 face boxes (jittered), 4 background, 2 noise, 1 grey, 1 gradient."""
    boxes = list(boxes) + [(0, 0, 90, 90), (360, 60, 460, 160), (300, 400, 400, 500), (20, 300, 110, 390)]
    kinds = ["face"] * 8 + ["background"] * 4
    crops = [np.asarray(astro.crop(tuple(int(round(v)) for v in b)).resize((size, size), Image.BILINEAR))
             for b in boxes]
    crops += [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(2)]
    crops.append(np.full((size, size, 3), 128, np.uint8))
    ramp = np.linspace(0, 255, size).astype(np.uint8)
    crops.append(np.stack([np.tile(ramp, (size, 1)), np.tile(ramp[:, None], (1, size)),
                           np.full((size, size), 60, np.uint8)], axis=2))
    kinds += ["noise", "noise", "grey", "gradient"]
    return np.stack(crops), np.array(kinds)


def lnet_set(astro, rng):
    """15-channel det4 inputs: 10 sets of patches around the astronaut's landmarks, 4 noise, 2 mixed."""
    half = 14  # patch side about 0.25 * face size, as in spec 5.6
    sets, kinds = [], []
    for n in range(10):
        shift = rng.integers(-3, 4, (5, 2)) if n else np.zeros((5, 2), int)
        patches = [np.asarray(astro.crop((x - half + sx, y - half + sy, x + half + 1 + sx, y + half + 1 + sy))
                              .resize((24, 24), Image.BILINEAR)) for (x, y), (sx, sy) in zip(POINTS, shift)]
        sets.append(np.concatenate(patches, axis=2))
        kinds.append("landmarks")
    for _ in range(4):
        sets.append(rng.integers(0, 256, (24, 24, 15), dtype=np.uint8))
        kinds.append("noise")
    for _ in range(2):  # real patches in a shuffled order
        sets.append(np.concatenate([sets[0][..., 3 * k:3 * k + 3] for k in rng.permutation(5)], axis=2))
        kinds.append("shuffled")
    return np.stack(sets), np.array(kinds)


def describe(name, arr):
    print(f"  {name:22s} {str(arr.shape):20s} {arr.dtype}  range [{arr.min():+.6f}, {arr.max():+.6f}]")


def main():
    rng = np.random.default_rng(20160411)
    nets = rp.OriginalNets()
    astro = Image.open(ASTRONAUT).convert("RGB")
    data = {}
    print("P-Net (det1):")
    for k, level in enumerate(pnet_levels(astro, rng)):
        u8 = level[None]
        out = nets.forward(nets.nets[1], u8_input(u8), ("prob1", "conv4-2"))
        data[f"pnet/level{k}/input"] = u8
        for blob in ("prob1", "conv4-2"):
            data[f"pnet/level{k}/{blob}"] = np.ascontiguousarray(out[blob].swapaxes(-1, -2))
            describe(f"level{k}/{blob}", data[f"pnet/level{k}/{blob}"])
        wrong, _ = nets.pnet(u8_input(u8)[0], transpose=False)
        right = data[f"pnet/level{k}/prob1"][0, 1]
        if right.shape == wrong.shape:
            print(f"    non-transposed input: max |d prob| = {np.abs(right - wrong).max():.4f}")
        else:
            print(f"    non-transposed input: map shape {wrong.shape} instead of {right.shape}")
    face_boxes = [FACE] + jitter_boxes(FACE, 7, rng, 0.15)  # the same boxes for R-Net and O-Net
    for net, size, blobs in (("rnet", 24, ("prob1", "conv5-2")), ("onet", 48, ("prob1", "conv6-2", "conv6-3"))):
        print(f"{net}:")
        u8, kinds = crop_set(astro, face_boxes, size, rng)
        model = nets.nets[2 if net == "rnet" else 3]
        out = nets.forward(model, u8_input(u8), blobs)
        if net == "rnet":
            out["conv5-3"] = nets.forward(nets.rnet_conv53, u8_input(u8), ("conv5-3",))["conv5-3"]
            check = nets.forward(nets.rnet_conv53, u8_input(u8), blobs)
            assert all(np.array_equal(check[b], out[b]) for b in blobs), "extra conv5-3 changed det2"
        data[f"{net}/input"], data[f"{net}/kind"] = u8, kinds
        for blob, arr in out.items():
            data[f"{net}/{blob}"] = arr
            describe(blob, arr)
        wrong = nets.forward(model, u8_input(u8), ("prob1",), transpose=False)["prob1"][:, 1]
        print(f"    face prob, transposed (right):  {np.round(out['prob1'][:8, 1], 3)}")
        print(f"    face prob, non-transposed:      {np.round(wrong[:8], 3)}")
        print(f"    max |d prob| over all crops = {np.abs(wrong - out['prob1'][:, 1]).max():.4f}")
    print("lnet (det4):")
    u8, kinds = lnet_set(astro, rng)
    names = tuple(f"fc5_{k}" for k in range(1, 6))
    out = nets.forward(nets.nets[4], u8_input(u8), names)
    data["lnet/input"], data["lnet/kind"] = u8, kinds
    for blob, arr in out.items():
        data[f"lnet/{blob}"] = arr
        describe(blob, arr)
    wrong = nets.forward(nets.nets[4], u8_input(u8), names, transpose=False)
    print(f"    non-transposed input: max |d fc5_k| = {max(np.abs(wrong[b] - out[b]).max() for b in names):.4f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **data)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB, {len(data)} arrays)")


if __name__ == "__main__":
    main()
