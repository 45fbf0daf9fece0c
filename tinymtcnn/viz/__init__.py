"""Pictures of detections, of the cascade's inner workings and of the networks.

matplotlib is imported lazily (``import tinymtcnn.viz`` is cheap) and no function
selects a backend, shows a window or calls ``plt.show``: everything works under Agg.
Functions drawing one picture take an optional ``ax`` and return it; the
multi-panel ones take an optional sequence of axes and return the figure.
:func:`annotate_image` needs only Pillow (the CLI uses it to write PNGs).

* detections and stages (:mod:`tinymtcnn.viz.detections`): :func:`draw_detections`,
  :func:`show_pyramid`, :func:`show_heatmaps`, :func:`show_stages`, :func:`annotate_image`;
* the whole cascade with its counts (:mod:`tinymtcnn.viz.cascade`): :func:`draw_cascade`;
* the networks, layer by layer with shapes (:mod:`tinymtcnn.viz.nets`): :func:`draw_net`,
  :func:`net_layout`.
"""
from .cascade import CASCADE_PANELS, draw_cascade
from .detections import (BOX_COLOR, LANDMARK_COLORS, STAGE_COLORS, annotate_image, draw_detections, show_heatmaps,
                         show_pyramid, show_stages)
from .nets import BLOCK_COLORS, LayerBlock, NetLayout, draw_net, format_shape, net_layout

__all__ = ["draw_detections", "show_pyramid", "show_heatmaps", "show_stages", "annotate_image", "draw_cascade",
           "draw_net", "net_layout", "format_shape", "LayerBlock", "NetLayout", "LANDMARK_COLORS", "BOX_COLOR",
           "STAGE_COLORS", "BLOCK_COLORS", "CASCADE_PANELS"]
