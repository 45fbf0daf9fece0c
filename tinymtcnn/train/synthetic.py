"""Procedural faces: photos with exact face boxes and five landmarks, for teaching and tests.

Every photo is drawn with Pillow at twice its size and box-downsampled (antialiasing), from
``numpy.random.default_rng([seed, index])``: photo ``i`` of ``SyntheticFaces(n, seed)`` is the
same on every machine and can be regenerated on demand (nothing is stored).

A face is designed in a unit **box frame** (the face box is ``[0, 1] x [0, 1]``): a skin-coloured
head ellipse (centre ``(0.5, 0.45)``, semi-axes ``0.47 x 0.6``: forehead to chin, cheek to cheek),
hair, ears, neck and body, eyebrows, eyes (white, iris, pupil), a nose and lips. The five landmarks
are the eye centres, the nose tip and the mouth corners, jittered per face. Pose: yaw and pitch
move the inner features inside the head; roll rotates the whole face about the box centre. The face
box given as ground truth is the axis-aligned square ``[cx - F/2, cx + F/2)`` of side ``F`` (it
does not rotate with the face, as a human annotator's box would not).

Clutter: gradients, random rectangles, ellipses, polygons, lines and stripes, plus hard
distractors (featureless skin-coloured ellipses, dark dot pairs). Lighting: a per-face shading
gradient, a global illumination field and colour cast, blur and Gaussian noise.

Coordinates (the package's convention): boxes ``(x1, y1, x2, y2)`` 0-based, ``x2`` exclusive;
landmarks ``(x, y)`` 0-based with pixel ``i`` centred on ``i``.
"""
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .readers import Photo

from .synthetic_face import SKIN_TONES, SS, _colour, _Face, _jitter


def _background(rng, w, h):
    """Cluttered background at the supersampled size."""
    sw, sh = max(w // 8, 2), max(h // 8, 2)  # smooth gradient: computed small, enlarged
    xx = np.arange(sw, dtype=np.float32)[None, :] / max(sw, sh)
    yy = np.arange(sh, dtype=np.float32)[:, None] / max(sw, sh)
    a, b = np.array(_colour(rng), np.float32), np.array(_colour(rng), np.float32)
    t = np.clip(xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1) + rng.uniform(0, 0.5), 0, 1)[..., None]
    canvas = Image.fromarray((a * (1 - t) + b * t).astype(np.uint8)).resize((w, h), Image.BILINEAR)
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(8, 40))):
        kind = rng.integers(6)
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.02, 0.35) * max(w, h)
        col = _colour(rng)
        if kind == 0:
            draw.rectangle([x, y, x + r * rng.uniform(0.2, 2), y + r * rng.uniform(0.2, 2)], fill=col)
        elif kind == 1:
            draw.ellipse([x - r, y - r * rng.uniform(0.3, 1), x + r, y + r * rng.uniform(0.3, 1)], fill=col)
        elif kind == 2:
            pts = [(x + r * rng.uniform(-1, 1), y + r * rng.uniform(-1, 1)) for _ in range(int(rng.integers(3, 7)))]
            draw.polygon(pts, fill=col)
        elif kind == 3:
            draw.line([(x, y), (x + r * rng.uniform(-2, 2), y + r * rng.uniform(-2, 2))], fill=col,
                      width=int(rng.integers(1, 8)))
        elif kind == 4:  # stripes
            step = rng.uniform(3, 12) * SS
            for k in range(int(rng.integers(3, 10))):
                draw.line([(x + k * step, y), (x + k * step + r * 0.3, y + r)], fill=col, width=int(step / 2))
        else:  # hard distractors: featureless skin blob, or a pair of dark dots
            if rng.random() < 0.5:
                skin = _jitter(SKIN_TONES[rng.integers(len(SKIN_TONES))], rng, 15)
                draw.ellipse([x - r * 0.4, y - r * 0.5, x + r * 0.4, y + r * 0.5], fill=skin)
            else:
                d = r * 0.15
                for sx in (-1, 1):
                    draw.ellipse([x + sx * d - d * 0.3, y - d * 0.2, x + sx * d + d * 0.3, y + d * 0.2], fill=(15, 15, 15))
    return canvas


def _place_faces(rng, w, h, count, min_face, max_face):
    placed = []
    for _ in range(count * 20):
        if len(placed) == count:
            break
        hi = min(max_face, 0.8 * min(w, h))
        if hi <= min_face:
            break
        side = float(np.exp(rng.uniform(np.log(min_face), np.log(hi))))
        cx, cy = rng.uniform(side / 2, w - side / 2), rng.uniform(side / 2, h - side / 2)
        box = np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])
        if any(_overlap(box, b) > 0.0 for _, _, _, b in placed):
            continue
        placed.append((cx, cy, side, box))
    return placed


def _overlap(a, b):
    """Intersection over the smaller box, with a 15% margin around each box."""
    pad = lambda q: q + np.array([-1, -1, 1, 1]) * 0.15 * (q[2] - q[0])  # noqa: E731
    a, b = pad(a), pad(b)
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return iw * ih / min((a[2] - a[0]) ** 2, (b[2] - b[0]) ** 2)


def render_photo(rng, *, width=None, height=None, faces=(0, 4), min_face=14.0, max_face=160.0):
    """Draw one photo; returns ``(image (H, W, 3) uint8, boxes (K, 4), landmarks (K, 5, 2))``."""
    w = int(width if width is not None else rng.integers(128, 321))
    h = int(height if height is not None else rng.integers(128, 321))
    canvas = _background(rng, w * SS, h * SS)
    placed = _place_faces(rng, w, h, int(rng.integers(faces[0], faces[1] + 1)), min_face, max_face)
    placed.sort(key=lambda p: p[2])  # small faces first: big ones may cover their bodies
    boxes, lms = [], []
    for cx, cy, side, box in placed:
        face = _Face(rng, cx - 0.5, cy - 0.5, side)  # pixel centres: box [cx-F/2, cx+F/2) has centre cx-0.5
        face.draw(canvas)
        boxes.append(box)
        lms.append(face.landmarks())
    img = np.asarray(canvas.resize((w, h), Image.BOX), dtype=np.float32)
    xx = np.arange(w, dtype=np.float32)[None, :] / w - 0.5
    yy = np.arange(h, dtype=np.float32)[:, None] / h - 0.5
    ang = rng.uniform(0, 2 * math.pi)
    light = 1.0 + np.float32(rng.uniform(0, 0.35)) * (xx * np.float32(math.cos(ang)) + yy * np.float32(math.sin(ang)))
    gain = (rng.uniform(0.85, 1.15, 3) * rng.uniform(0.6, 1.3)).astype(np.float32)
    img = Image.fromarray(np.clip(img * light[..., None] * gain, 0, 255).astype(np.uint8))
    if rng.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    noise = rng.standard_normal((h, w, 3), dtype=np.float32) * np.float32(rng.uniform(0, 8))
    img = np.asarray(img, dtype=np.float32) + noise
    order = np.argsort([b[1] * 10000 + b[0] for b in boxes], kind="stable") if boxes else []
    boxes = np.array([boxes[i] for i in order], dtype=np.float64).reshape(-1, 4)
    lms = np.array([lms[i] for i in order], dtype=np.float64).reshape(-1, 5, 2)
    return np.clip(np.round(img), 0, 255).astype(np.uint8), boxes, lms


class SyntheticFaces:
    """``count`` procedural photos; ``ds[i]`` is a :class:`~tinymtcnn.train.readers.Photo`, deterministic
    in ``(seed, i)`` and regenerated on every access.

    Parameters
    ----------
    count : int
    seed : int
    faces : (min, max) faces per photo
    min_face, max_face : face box side range in pixels (log-uniform)
    size : (width, height) or None (random 128..320 each)
    """

    def __init__(self, count, seed=0, *, faces=(0, 4), min_face=14.0, max_face=160.0, size=None):
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        self.count, self.seed = int(count), int(seed)
        self.faces, self.min_face, self.max_face, self.size = tuple(faces), float(min_face), float(max_face), size

    def __len__(self):
        return self.count

    @property
    def fingerprint(self):
        return (f"synthetic:v1:n={self.count}:seed={self.seed}:faces={self.faces}:"
                f"min={self.min_face}:max={self.max_face}:size={self.size}")

    def __getitem__(self, i):
        if not -self.count <= i < self.count:
            raise IndexError(f"photo index {i} out of range for {self.count} photos")
        i %= self.count
        rng = np.random.default_rng([self.seed, i])
        w, h = self.size if self.size is not None else (None, None)
        image, boxes, lms = render_photo(rng, width=w, height=h, faces=self.faces,
                                         min_face=self.min_face, max_face=self.max_face)
        return Photo(image=image, boxes=boxes, landmarks=lms, name=f"synthetic-{self.seed}-{i:06d}")
