"""One procedural face for :mod:`tinymtcnn.train.synthetic`: design in the unit box frame, drawing.

The face box is ``[0, 1] x [0, 1]``: a skin-coloured head ellipse (centre ``(0.5, 0.45)``, semi-axes
``0.47 x 0.6``), hair, ears, neck and body, eyebrows, eyes, a nose and lips; the five landmarks are
the eye centres, the nose tip and the mouth corners. Yaw and pitch move the inner features inside the
head; roll rotates the whole face about the box centre.
"""
import math

import numpy as np
from PIL import Image, ImageDraw

SS = 2  # supersampling factor
SKIN_TONES = np.array([[255, 224, 196], [241, 194, 160], [224, 172, 130], [198, 134, 96],
                       [160, 104, 70], [112, 72, 48], [236, 188, 180]], dtype=np.float64)
HAIR_TONES = np.array([[20, 16, 14], [60, 40, 25], [110, 75, 40], [180, 140, 80], [140, 140, 140],
                       [200, 190, 170], [90, 30, 20]], dtype=np.float64)


def _colour(rng, lo=0, hi=255):
    return tuple(int(v) for v in rng.integers(lo, hi + 1, 3))


def _jitter(base, rng, amount):
    return tuple(int(np.clip(v + rng.normal(0, amount), 0, 255)) for v in base)


def _ellipse(cx, cy, ax, ay, n=48, start=0.0, stop=2 * math.pi):
    t = np.linspace(start, stop, n, endpoint=False)
    return np.stack([cx + ax * np.cos(t), cy + ay * np.sin(t)], axis=1)


class _Face:
    """One face: design in the box frame, then map to (supersampled) image coordinates."""

    def __init__(self, rng, cx, cy, side):
        self.rng = rng
        self.cx, self.cy, self.side = cx, cy, side
        self.roll = math.radians(rng.normal(0, 10)) if rng.random() < 0.8 else math.radians(rng.uniform(-30, 30))
        self.yaw = float(np.clip(rng.normal(0, 0.15), -0.35, 0.35))
        self.pitch = float(np.clip(rng.normal(0, 0.12), -0.3, 0.3))
        self.head_w = rng.uniform(0.43, 0.5)
        ed, ey = rng.uniform(0.15, 0.2), rng.uniform(0.37, 0.45)
        ny, mw, my = rng.uniform(0.58, 0.66), rng.uniform(0.1, 0.16), rng.uniform(0.76, 0.83)
        self.canon = np.array([[0.5 - ed, ey], [0.5 + ed, ey], [0.5, ny], [0.5 - mw, my], [0.5 + mw, my]])
        self.skin = _jitter(SKIN_TONES[rng.integers(len(SKIN_TONES))], rng, 12)
        self.hair = _jitter(HAIR_TONES[rng.integers(len(HAIR_TONES))], rng, 10)

    def inner(self, pts):
        """Yaw / pitch: move inner features (box frame) inside the head."""
        pts = np.array(pts, dtype=np.float64)
        x = pts[..., 0] - 0.5
        x = x * (1.0 - 0.35 * abs(self.yaw)) + self.yaw * 0.3 * (1.0 - 1.6 * x * x)
        y = pts[..., 1] + self.pitch * 0.12 * (1.0 - 2.0 * abs(pts[..., 1] - 0.5))
        return np.stack([x + 0.5, y], axis=-1)

    def to_image(self, pts, scale=1.0):
        """Box frame -> image pixels (roll about the box centre), times ``scale`` (supersampling)."""
        pts = np.asarray(pts, dtype=np.float64)
        c, s = math.cos(self.roll), math.sin(self.roll)
        u = (pts[..., 0] - 0.5) * self.side
        v = (pts[..., 1] - 0.5) * self.side
        x = self.cx + c * u - s * v
        y = self.cy + s * u + c * v
        return np.stack([x, y], axis=-1) * scale

    def landmarks(self):
        """(5, 2) in image pixels, pixel centres on integers."""
        return self.to_image(self.inner(self.canon))

    def box(self):
        h = self.side / 2
        return np.array([self.cx - h, self.cy - h, self.cx + h, self.cy + h])

    # -------------------------------------------------------------- drawing on the 2x canvas
    def _poly(self, draw, pts_box, fill, inner=False, outline=None, width=1):
        pts = self.to_image(self.inner(pts_box) if inner else pts_box, SS) + (SS - 1) / 2
        draw.polygon([tuple(p) for p in pts], fill=fill, outline=outline, width=width)

    def _line(self, draw, pts_box, fill, width_box):
        pts = self.to_image(self.inner(pts_box), SS) + (SS - 1) / 2
        draw.line([tuple(p) for p in pts], fill=fill, width=max(1, int(round(width_box * self.side * SS))))

    def draw(self, canvas):
        rng, draw = self.rng, ImageDraw.Draw(canvas)
        body = _colour(rng, 20, 235)
        self._poly(draw, _ellipse(0.5, 1.75, 1.0, 0.65), body)
        self._poly(draw, [(0.33, 0.85), (0.67, 0.85), (0.7, 1.3), (0.3, 1.3)], _jitter(self.skin, rng, 8))
        long_hair = rng.random() < 0.35
        if long_hair:
            self._poly(draw, _ellipse(0.5, 0.55, 0.6, 0.75), self.hair)
        for side in (-1, 1):
            self._poly(draw, _ellipse(0.5 + side * self.head_w, 0.47, 0.07, 0.12), self.skin)
        hw = self.head_w
        self._poly(draw, _ellipse(0.5, 0.45, hw, 0.6, n=64), self.skin)
        self._shade(canvas)
        draw = ImageDraw.Draw(canvas)
        if rng.random() < 0.9:  # hair cap over the top of the head
            line = rng.uniform(0.02, 0.22)
            t = np.linspace(math.pi, 2 * math.pi, 33)
            cap = np.stack([0.5 + (hw + 0.02) * np.cos(t), 0.45 + 0.62 * np.sin(t)], axis=1)
            cap = cap[cap[:, 1] < line + 0.05]
            fringe = [(0.5 + hw * 0.9, line + 0.05), (0.5, line + rng.uniform(-0.04, 0.06)), (0.5 - hw * 0.9, line + 0.05)]
            self._poly(draw, np.concatenate([cap, fringe]), self.hair)
        lm = self.canon
        if rng.random() < 0.15:  # beard, under the features
            jaw = _ellipse(0.5, 0.45, hw, 0.6, 40, 0.1 * math.pi, 0.9 * math.pi)
            chin = [(lm[4][0] + 0.04, lm[4][1] - 0.02), (lm[3][0] - 0.04, lm[3][1] - 0.02)]
            self._poly(draw, np.concatenate([jaw, chin]), self.hair)
        iris = _colour(rng, 10, 120)
        brow = tuple(int(v * 0.5) for v in self.hair)
        eye_w, eye_h = rng.uniform(0.06, 0.09), rng.uniform(0.025, 0.045)
        for k in (0, 1):
            ex, ey = lm[k]
            self._line(draw, [(ex - 0.08, ey - 0.07), (ex, ey - 0.095 + self.rng.normal(0, 0.01)), (ex + 0.08, ey - 0.07)],
                       brow, rng.uniform(0.015, 0.035))
            self._poly(draw, _ellipse(ex, ey, eye_w, eye_h, 24), (245, 245, 240), inner=True)
            self._poly(draw, _ellipse(ex, ey, eye_h * 0.95, eye_h * 0.95, 16), iris, inner=True)
            self._poly(draw, _ellipse(ex, ey, eye_h * 0.45, eye_h * 0.45, 12), (5, 5, 5), inner=True)
        nx, ny = lm[2]
        nose = tuple(int(v * 0.72) for v in self.skin)
        self._line(draw, [(nx - 0.01, ny - 0.16), (nx - 0.03, ny - 0.04), (nx, ny)], nose, 0.018)
        self._poly(draw, _ellipse(nx - 0.035, ny + 0.005, 0.018, 0.012, 10), nose, inner=True)
        self._poly(draw, _ellipse(nx + 0.035, ny + 0.005, 0.018, 0.012, 10), nose, inner=True)
        (lx, ly), (rx, ry) = lm[3], lm[4]
        mx, open_ = (lx + rx) / 2, rng.uniform(0.0, 0.05) if rng.random() < 0.3 else 0.0
        smile = rng.uniform(-0.01, 0.04)
        lip = _jitter((170, 70, 70), rng, 25)
        upper = [(lx, ly), (mx - 0.04, ly - 0.03), (mx, ly - 0.02), (mx + 0.04, ly - 0.03), (rx, ry)]
        lower = [(rx, ry), (mx + 0.03, ly + smile + 0.03 + open_), (mx - 0.03, ly + smile + 0.03 + open_)]
        self._poly(draw, upper + lower, lip, inner=True)
        if open_ > 0.015:
            self._poly(draw, [(lx + 0.03, ly + 0.003), (mx, ly + smile + open_ * 0.8), (rx - 0.03, ry + 0.003)],
                       (40, 10, 10), inner=True)
        if rng.random() < 0.15:  # glasses
            frame = _colour(rng, 0, 90)
            for k in (0, 1):
                ring = _ellipse(lm[k][0], lm[k][1], 0.11, 0.08, 24)
                pts = self.to_image(self.inner(ring), SS) + (SS - 1) / 2
                draw.line([tuple(p) for p in np.concatenate([pts, pts[:1]])], fill=frame,
                          width=max(1, int(0.015 * self.side * SS)))

    def _shade(self, canvas):
        """Multiply the head by a linear light gradient (per-face lighting direction)."""
        strength, angle = self.rng.uniform(-0.55, 0.55), self.rng.uniform(0, 2 * math.pi)
        box = self.box() * SS
        x0, y0 = max(int(box[0] - self.side * SS * 0.3), 0), max(int(box[1] - self.side * SS * 0.3), 0)
        x1 = min(int(box[2] + self.side * SS * 0.3), canvas.width)
        y1 = min(int(box[3] + self.side * SS * 0.3), canvas.height)
        if x1 <= x0 or y1 <= y0:
            return
        mask = Image.new("L", (x1 - x0, y1 - y0), 0)
        pts = self.to_image(_ellipse(0.5, 0.45, self.head_w, 0.6, 64), SS) - (x0, y0)
        ImageDraw.Draw(mask).polygon([tuple(p) for p in pts], fill=255)
        region = np.asarray(canvas.crop((x0, y0, x1, y1)), dtype=np.float64)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        d = ((xx - self.cx * SS) * math.cos(angle) + (yy - self.cy * SS) * math.sin(angle)) / (self.side * SS)
        gain = np.clip(1.0 + strength * d, 0.3, 1.6)[..., None]
        m = (np.asarray(mask) > 0)[..., None]
        out = np.where(m, np.clip(region * gain, 0, 255), region).astype(np.uint8)
        canvas.paste(Image.fromarray(out), (x0, y0))
