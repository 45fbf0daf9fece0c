"""Pictures of detections and of the cascade's stages; :func:`annotate_image` for the CLI.

Coordinates: boxes cover pixel columns ``x1 <= x < x2`` (rows alike) and landmarks
are 0-based pixel positions, with ``imshow``'s pixel centres at integers; a box is
therefore drawn from ``x1 - 0.5`` to ``x2 - 0.5``.
"""
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..detect.pyramid import level_size, pyramid_scales
from ..detect.result import LANDMARK_NAMES, Detections
from ..io import load_image

#: One colour per landmark, in the order of :data:`LANDMARK_NAMES`; the legends use them.
LANDMARK_COLORS = {
    "left_eye": "#e41a1c",     # red
    "right_eye": "#377eb8",    # blue
    "nose": "#4daf4a",         # green
    "mouth_left": "#984ea3",   # purple
    "mouth_right": "#ff7f00",  # orange
}
BOX_COLOR = "#00e5ff"
STAGE_COLORS = {"pnet": "#ffd400", "rnet": "#ff7f00", "onet": BOX_COLOR}


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 6))
    return ax


def _grid(n_panels, ax, cols, panel_size=3.0):
    """``(figure, list of n_panels axes)``: the caller's axes, or a new grid (extra cells hidden)."""
    if ax is not None:
        axes = list(np.ravel(ax))
        if len(axes) < n_panels:
            raise ValueError(f"need {n_panels} axes, got {len(axes)}")
        return axes[0].figure, axes[:n_panels]
    import matplotlib.pyplot as plt

    cols = max(1, min(cols, n_panels))
    rows = max(1, -(-n_panels // cols))
    fig, grid = plt.subplots(rows, cols, figsize=(panel_size * cols, panel_size * rows), squeeze=False)
    axes = list(grid.ravel())
    for extra in axes[n_panels:]:
        extra.set_visible(False)
    return fig, axes[:n_panels]


def _draw_boxes(ax, boxes, color, linewidth=1.5, alpha=1.0):
    from matplotlib.collections import PolyCollection

    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4) - 0.5
    x1, y1, x2, y2 = boxes.T
    verts = np.stack([np.stack([x1, y1], 1), np.stack([x2, y1], 1), np.stack([x2, y2], 1), np.stack([x1, y2], 1)], 1)
    ax.add_collection(PolyCollection(verts, facecolors="none", edgecolors=color, linewidths=linewidth, alpha=alpha))


def _draw_landmarks(ax, landmarks, size=20, legend=True):
    landmarks = np.asarray(landmarks, dtype=float).reshape(-1, 5, 2)
    for k, name in enumerate(LANDMARK_NAMES):
        ax.scatter(landmarks[:, k, 0], landmarks[:, k, 1], s=size, c=LANDMARK_COLORS[name],
                   edgecolors="white", linewidths=0.5, label=name.replace("_", " "), zorder=3)
    if legend and len(landmarks):
        ax.legend(loc="lower right", fontsize="x-small", framealpha=0.7)


def _show_image(ax, image, title=None):
    ax.imshow(image, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize="small")


def draw_detections(image, detections, ax=None, show_scores=True, show_landmarks=True):
    """Draw the image with its face boxes, scores and landmarks.

    Parameters
    ----------
    image : anything :func:`tinymtcnn.io.load_image` accepts
    detections : Detections
    ax : matplotlib Axes, optional (a new figure when None)
    show_scores, show_landmarks : bool
        Write each score above its box; draw the five points (legend in the corner).

    Returns
    -------
    matplotlib Axes
    """
    image = load_image(image)
    ax = _axes(ax)
    _show_image(ax, image, title=f"{len(detections)} face(s)")
    _draw_boxes(ax, detections.boxes, BOX_COLOR, linewidth=2)
    if show_scores:
        for (x1, y1, _, _), s in zip(detections.boxes, detections.scores):
            ax.text(x1 - 0.5, y1 - 1.5, f"{s:.3f}", color="black", fontsize="x-small", va="bottom",
                    bbox=dict(facecolor=BOX_COLOR, edgecolor="none", pad=1))
    if show_landmarks:
        _draw_landmarks(ax, detections.landmarks)
    ax.set_xlim(-0.5, image.shape[1] - 0.5)
    ax.set_ylim(image.shape[0] - 0.5, -0.5)
    return ax


def show_pyramid(image, min_face_size=20, scale_factor=0.709, ax=None, cols=4):
    """Grid of the P-Net pyramid levels, each drawn at its true size relative to the first.

    Every panel has the same axis limits (the largest level), so the shrinking is
    visible; the title gives the scale ``s`` and the level size ``ceil(H*s) x ceil(W*s)``.
    The square in the corner is P-Net's 12x12 window: at level ``s`` it sees a face of
    ``12 / s`` pixels in the original image.

    Parameters
    ----------
    image : anything :func:`tinymtcnn.io.load_image` accepts
    min_face_size, scale_factor : as for :class:`tinymtcnn.MTCNN`
    ax : sequence of Axes, optional (at least one per level)
    cols : int, columns of the new grid

    Returns
    -------
    matplotlib Figure
    """
    from matplotlib.patches import Rectangle

    from ..kernels.resample import resample

    image = load_image(image)
    h, w = image.shape[:2]
    scales = pyramid_scales(h, w, min_face_size, scale_factor)
    if not scales:
        raise ValueError(f"image {h}x{w} is smaller than min_face_size={min_face_size}: the pyramid is empty")
    fig, axes = _grid(len(scales), ax, cols)
    top_h, top_w = level_size(h, w, scales[0])
    for a, s in zip(axes, scales):
        lh, lw = level_size(h, w, s)
        level = np.clip(np.rint(resample(image, lh, lw)), 0, 255).astype(np.uint8)
        _show_image(a, level, title=f"s={s:.4f}  {lh}x{lw}\n12 px = {12 / s:.0f} px face")
        a.add_patch(Rectangle((-0.5, -0.5), 12, 12, facecolor="none", edgecolor="red", linewidth=1.5))
        a.set_xlim(-0.5, max(top_w, lw) - 0.5)
        a.set_ylim(max(top_h, lh) - 0.5, -0.5)
    fig.suptitle(f"pyramid: {len(scales)} levels (min_face_size={min_face_size:g}, factor={scale_factor:g})")
    return fig


def show_heatmaps(trace, ax=None, cols=4):
    """P-Net face-probability maps, one panel per pyramid level (``trace["pnet_maps"]``).

    Parameters
    ----------
    trace : dict from :meth:`tinymtcnn.MTCNN.trace`
    ax : sequence of Axes, optional (at least one per level)
    cols : int, columns of the new grid

    Returns
    -------
    matplotlib Figure
        Colour scale 0..1 (shared colour bar); each cell of a map is a 12x12 window at
        stride 2 of its level.
    """
    maps = trace["pnet_maps"]
    if not maps:
        raise ValueError("trace has no P-Net maps (the image is smaller than min_face_size)")
    fig, axes = _grid(len(maps), ax, cols)
    im = None
    for a, (s, prob) in zip(axes, maps):
        im = a.imshow(prob, vmin=0.0, vmax=1.0, cmap="viridis", interpolation="nearest")
        a.set_xticks([])
        a.set_yticks([])
        a.set_title(f"s={s:.4f}  {prob.shape[0]}x{prob.shape[1]}  max {float(np.max(prob)):.2f}",
                    fontsize="small")
    fig.colorbar(im, ax=axes, shrink=0.8, label="P-Net face probability")
    return fig


def show_stages(image, trace, ax=None):
    """Candidates after P-Net, R-Net and O-Net side by side, with their counts in the titles.

    Parameters
    ----------
    image : anything :func:`tinymtcnn.io.load_image` accepts (the traced image)
    trace : dict from :meth:`tinymtcnn.MTCNN.trace`
    ax : sequence of 3 Axes, optional

    Returns
    -------
    matplotlib Figure
    """
    image = load_image(image)
    fig, axes = _grid(3, ax, 3, panel_size=4.0)
    for a, stage, label in zip(axes[:2], ("pnet", "rnet"), ("P-Net", "R-Net")):
        boxes, _ = trace[stage]
        _show_image(a, image, title=f"after {label}: {len(boxes)} candidate(s)")
        _draw_boxes(a, boxes, STAGE_COLORS[stage], linewidth=1.0, alpha=0.8)
    faces = trace["onet"]
    draw_detections(image, faces, ax=axes[2], show_scores=True, show_landmarks=True)
    axes[2].set_title(f"after O-Net: {len(faces)} face(s)", fontsize="small")
    for a in axes:
        a.set_xlim(-0.5, image.shape[1] - 0.5)
        a.set_ylim(image.shape[0] - 0.5, -0.5)
    return fig


def _font(size):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: fixed-size bitmap font
        return ImageFont.load_default()


def annotate_image(image, detections):
    """The image with boxes, scores and the five landmarks drawn in, as a PIL image (Pillow only).

    Line width and point radius grow with the image (``max(1, round(min(H, W) / 250))``);
    landmark colours are :data:`LANDMARK_COLORS`.

    Parameters
    ----------
    image : anything :func:`tinymtcnn.io.load_image` accepts
    detections : Detections

    Returns
    -------
    PIL.Image.Image, mode RGB, same size as the image
    """
    if not isinstance(detections, Detections):
        raise TypeError(f"detections must be a Detections, got {type(detections).__name__}")
    arr = load_image(image)
    h, w = arr.shape[:2]
    img = Image.fromarray(arr.copy())
    draw = ImageDraw.Draw(img)
    width = max(1, round(min(h, w) / 250))
    radius = width + 1
    font = _font(max(10, 4 * width + 6))
    for (x1, y1, x2, y2), score, points in zip(detections.boxes, detections.scores, detections.landmarks):
        # the box covers columns x1 <= x < x2: PIL's inclusive corners are (x1, y1) .. (x2 - 1, y2 - 1)
        rect = [x1, y1, max(x1, x2 - 1), max(y1, y2 - 1)]
        draw.rectangle(rect, outline=BOX_COLOR, width=width)
        label = f"{score:.3f}"
        tx0, ty0, tx1, ty1 = draw.textbbox((0, 0), label, font=font)
        tw, th = tx1 - tx0, ty1 - ty0
        tx = min(max(x1, 0), max(w - tw - 2, 0))
        ty = y1 - th - 4 if y1 - th - 4 >= 0 else max(y1, 0) + width
        draw.rectangle([tx, ty, tx + tw + 2, ty + th + 3], fill=BOX_COLOR)
        draw.text((tx + 1 - tx0, ty + 1 - ty0), label, fill="black", font=font)
        for name, (px, py) in zip(LANDMARK_NAMES, points):
            draw.ellipse([px - radius, py - radius, px + radius, py + radius], fill=LANDMARK_COLORS[name],
                         outline="white")
    return img
