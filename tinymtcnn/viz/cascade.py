"""The whole cascade in one picture: pyramid, P-Net, R-Net, O-Net, landmarks, with the counts."""
import numpy as np

from ..detect.result import Detections
from .detections import _grid, draw_detections, show_stages

#: Titles of the five panels of :func:`draw_cascade` start with these words.
CASCADE_PANELS = ("pyramid", "after P-Net", "after R-Net", "after O-Net", "landmarks")


def _draw_pyramid_outline(ax, image, pyramid):
    """The image at the size of the first level, each level's extent outlined from the top-left corner."""
    from matplotlib.patches import Rectangle

    (h0, w0) = pyramid[0][1]
    ax.imshow(image, extent=(-0.5, w0 - 0.5, h0 - 0.5, -0.5), interpolation="bilinear")
    for k, (_, (h, w)) in enumerate(pyramid):
        ax.add_patch(Rectangle((-0.5, -0.5), w, h, facecolor="none", edgecolor="red",
                               linewidth=1.2 if k == 0 else 0.8, alpha=1.0 if k == 0 else 0.7))
    ax.add_patch(Rectangle((-0.5, -0.5), 12, 12, facecolor="red", edgecolor="none", alpha=0.8))
    ax.set_xlim(-0.5, w0 - 0.5)
    ax.set_ylim(h0 - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])


def draw_cascade(trace, pnet_threshold=None, ax=None):
    """From pyramid to landmarks for one photo, with the candidate count at every stage.

    Five panels, joined by arrows: the pyramid (each level's extent outlined on the first
    level, P-Net's 12x12 window filled, the number of levels and of 12x12 windows P-Net
    scores), the candidates after P-Net, after R-Net and after O-Net (the faces, with
    scores), and the five landmarks of each face (zoomed on the faces). Every count comes
    from ``trace``, i.e. from the detector's own run.

    Parameters
    ----------
    trace : dict from :meth:`tinymtcnn.MTCNN.trace`
    pnet_threshold : float, optional
        The detector's first threshold (``detector.thresholds[0]``): the P-Net title then also
        gives the windows at or above it, before non-maximum suppression.
    ax : sequence of 5 Axes, optional

    Returns
    -------
    matplotlib Figure
        Panel titles start with the words of :data:`CASCADE_PANELS`.
    """
    from matplotlib.patches import ConnectionPatch

    image, pyramid, maps = trace["image"], trace["pyramid"], trace["pnet_maps"]
    faces = trace["onet"]
    fig, axes = _grid(5, ax, 5, panel_size=3.2)
    windows = sum(int(prob.size) for _, prob in maps)
    if pyramid:
        _draw_pyramid_outline(axes[0], image, pyramid)
        sides = f"{pyramid[0][1][0]}x{pyramid[0][1][1]} .. {pyramid[-1][1][0]}x{pyramid[-1][1][1]}"
    else:
        draw_detections(image, Detections.empty(), ax=axes[0], show_scores=False, show_landmarks=False)
        sides = "image smaller than min_face_size"
    axes[0].set_title(f"pyramid: {len(pyramid)} level(s), {windows:,} windows\n{sides}", fontsize="small")
    show_stages(image, trace, ax=axes[1:4])
    if pnet_threshold is not None:
        above = sum(int(np.count_nonzero(prob >= pnet_threshold)) for _, prob in maps)
        axes[1].set_title(f"{axes[1].get_title()}\n({above:,} windows >= {pnet_threshold:g} before NMS)",
                          fontsize="small")
    draw_detections(image, faces, ax=axes[4], show_scores=False, show_landmarks=True)
    axes[4].set_title(f"landmarks: {len(faces)} face(s) x 5 points", fontsize="small")
    if len(faces):
        (x1, y1), (x2, y2) = faces.boxes[:, :2].min(0), faces.boxes[:, 2:].max(0)
        pad = 0.15 * max(x2 - x1, y2 - y1)
        axes[4].set_xlim(x1 - pad - 0.5, x2 + pad - 0.5)
        axes[4].set_ylim(y2 + pad - 0.5, y1 - pad - 0.5)
    for left, right in zip(axes[:-1], axes[1:]):
        fig.add_artist(ConnectionPatch((1.02, 0.5), (-0.02, 0.5), "axes fraction", "axes fraction", axesA=left,
                                       axesB=right, arrowstyle="-|>", mutation_scale=14, color="#444444"))
    return fig
