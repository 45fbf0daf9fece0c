"""Image preparation for evaluation: pad a face crop, cut a face out of a photo, resize with its points."""
import numpy as np


def pad_crop(crop, canvas=160, mode="edge"):
    """Centre an ``(h, w, 3)`` crop in a ``canvas x canvas`` image; returns ``(image, (dx, dy))``.

    ``mode``: ``"edge"`` replicates the border pixels, ``"grey"`` fills with 128. MTFL's 80x80
    crops are filled by the face, so the detector needs this border to see a face with context.
    """
    h, w = crop.shape[:2]
    if canvas < max(h, w):
        raise ValueError(f"canvas {canvas} is smaller than the crop {crop.shape}")
    top, left = (canvas - h) // 2, (canvas - w) // 2
    widths = ((top, canvas - h - top), (left, canvas - w - left), (0, 0))
    if mode == "edge":
        image = np.pad(crop, widths, mode="edge")
    elif mode == "grey":
        image = np.pad(crop, widths, mode="constant", constant_values=128)
    else:
        raise ValueError(f"pad mode must be 'edge' or 'grey', got {mode!r}")
    return np.ascontiguousarray(image), (left, top)


def cut_around(image, box, context=2.5):
    """A square cut of side ``context * max(w, h)`` centred on ``box``, edge-padded where it leaves the photo.

    Returns ``(cut, (dx, dy))``: a point ``(x, y)`` of the photo is ``(x - dx, y - dy)`` in the cut.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    side = int(round(context * max(x2 - x1, y2 - y1)))
    left, top = int(round((x1 + x2 - side) / 2)), int(round((y1 + y2 - side) / 2))
    h, w = image.shape[:2]
    pads = ((max(0, -top), max(0, top + side - h)), (max(0, -left), max(0, left + side - w)), (0, 0))
    padded = np.pad(image, pads, mode="edge")
    y0, x0 = top + pads[0][0], left + pads[1][0]
    return np.ascontiguousarray(padded[y0:y0 + side, x0:x0 + side]), (left, top)


def resize_with_points(image, points, scale):
    """Resize ``image`` by ``scale`` (PIL bilinear) and map ``points`` (..., 2) by the pixel-centre
    rule ``x' = (x + 0.5) * s - 0.5`` with the exact ratio ``s`` of the new to the old size."""
    from PIL import Image

    h, w = image.shape[:2]
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    if (new_w, new_h) == (w, h):
        return image, np.asarray(points, dtype=np.float64)
    out = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.BILINEAR))
    ratio = np.array([new_w / w, new_h / h])
    return np.ascontiguousarray(out), (np.asarray(points, dtype=np.float64) + 0.5) * ratio - 0.5
