"""Pictures of the networks: every layer with its output shape, read from the net object.

:func:`net_layout` runs one zero sample through the net's own modules and records what
each layer makes of it, so a picture always shows the net as built (change a layer and
the picture changes); :func:`draw_net` draws that layout with matplotlib.
"""
from typing import NamedTuple

import numpy as np

from ..layers._checks import check_number
from ..layers.modules import Conv2d, Dropout, Flatten, Linear, MaxPool2d, PReLU
from ..nets.base import Net

#: Fill colour of a block, by the kind of its first layer.
BLOCK_COLORS = {"input": "#ffffff", "conv": "#9ecae1", "pool": "#fdd0a2", "fc": "#a1d99b", "other": "#e0e0e0"}


class LayerBlock(NamedTuple):
    """One block of a net picture: a layer, or a convolution / fully connected layer and its PReLU."""

    names: tuple      # layer names, e.g. ("conv1", "PReLU1")
    operation: str    # e.g. "conv 3×3 → 10 + PReLU"
    shape: tuple      # output shape of one sample, e.g. (10, 10, 10) or (128,)
    params: int       # number of parameters in the block
    kind: str         # a key of BLOCK_COLORS


class NetLayout(NamedTuple):
    """What :func:`net_layout` found: the input, per-input branches (LNet), the trunk, the heads."""

    input_shape: tuple
    branches: list    # [[LayerBlock]], one list per branch; [] for P-, R- and O-Net
    trunk: list       # [LayerBlock]; starts with a "concat" block when there are branches
    heads: dict       # output key -> [LayerBlock]


def _describe(module):
    """``(operation, kind)`` of one module, from its parameters and settings."""
    if isinstance(module, Conv2d):
        out_ch, _, kh, kw = module.params["w"].shape
        step = f"/{module.stride}" if module.stride != 1 else ""
        pad = f" pad {module.pad}" if module.pad else ""
        return f"conv {kh}×{kw}{step}{pad} → {out_ch}", "conv"
    if isinstance(module, Linear):
        out_f, in_f = module.params["w"].shape
        return f"fc {in_f} → {out_f}", "fc"
    if isinstance(module, MaxPool2d):
        return f"max {module.kernel}×{module.kernel}/{module.stride}" + (" ceil" if module.ceil_mode else ""), "pool"
    if isinstance(module, Dropout):
        return f"dropout {module.p:g}", "other"
    if isinstance(module, PReLU):
        return "PReLU", "other"
    if isinstance(module, Flatten):
        return "flatten", "other"
    return type(module).__name__, "other"


def _run_blocks(layers, x):
    """Run ``layers`` (``[(name, module)]``) on ``x``; returns ``([LayerBlock], output)``."""
    blocks, i = [], 0
    while i < len(layers):
        name, module = layers[i]
        operation, kind = _describe(module)
        names, modules = [name], [module]
        x = module.infer(x)
        if isinstance(module, (Conv2d, Linear)) and i + 1 < len(layers) and isinstance(layers[i + 1][1], PReLU):
            names.append(layers[i + 1][0])
            modules.append(layers[i + 1][1])
            operation += " + PReLU"
            x = layers[i + 1][1].infer(x)
            i += 1
        params = int(sum(v.size for m in modules for v in m.params.values()))
        blocks.append(LayerBlock(tuple(names), operation, tuple(x.shape[:-1]), params, kind))
        i += 1
    return blocks, x


def net_layout(net, input_size=None):
    """Every layer of ``net`` with the shape of its output, found by running one zero sample.

    Parameters
    ----------
    net : tinymtcnn.nets.Net (PNet, RNet, ONet, LNet or a net built the same way)
    input_size : int, optional
        Side of the square input; default ``net.input_size`` (24, 48), or 12 (P-Net's window)
        for a fully convolutional net.

    Returns
    -------
    NetLayout

    Raises
    ------
    TypeError
        ``net`` is not a :class:`~tinymtcnn.nets.Net`, or ``input_size`` not an integer.
    ValueError
        ``input_size`` differs from the net's fixed input size, or is too small for the net.

    Notes
    -----
    The layers run their ``infer`` (no cache is kept), so a layout can be drawn between a
    training forward and backward. Shapes are per sample, channel first (the batch axis, last
    inside the nets, is left out).
    """
    if not isinstance(net, Net):
        raise TypeError(f"net must be a tinymtcnn.nets.Net (PNet, RNet, ONet, LNet), got {type(net).__name__}")
    if input_size is None:
        input_size = net.input_size or 12
    input_size = check_number("input_size", input_size, low=1, integer=True)
    if net.input_size is not None and input_size != net.input_size:
        raise ValueError(f"{type(net).__name__} takes {net.input_size}x{net.input_size} inputs, "
                         f"not input_size={input_size}")
    x = np.zeros((net.in_channels, input_size, input_size, 1), dtype=net.dtype)  # (C, H, W, N), N = 1
    try:
        branches, outputs = [], []
        groups = getattr(net, "branches", [])
        for k, layers in enumerate(groups):
            width = net.in_channels // len(groups)
            blocks, y = _run_blocks(layers, x[k * width:(k + 1) * width])
            branches.append(blocks)
            outputs.append(y)
        trunk = []
        if outputs:
            x = np.concatenate(outputs, axis=0)
            trunk.append(LayerBlock(("concat",), f"concatenate {len(outputs)}", tuple(x.shape[:-1]), 0, "other"))
        blocks, feats = _run_blocks(net.trunk, x)
        trunk += blocks
        heads = {key: _run_blocks(layers, feats)[0] for key, layers in net.heads.items()}
    except (ValueError, IndexError) as error:
        raise ValueError(f"{type(net).__name__} cannot take a {input_size}x{input_size} input: {error}") from error
    return NetLayout((net.in_channels, input_size, input_size), branches, trunk, heads)


def format_shape(shape):
    """``(10, 5, 5)`` -> ``"10×5×5"``; ``(128,)`` -> ``"128"``."""
    return "×".join(str(int(n)) for n in shape)


def _block_text(block):
    name, operation = "+".join(block.names), block.operation.replace(" + PReLU", "")
    return "\n".join([name] + ([operation] if operation != name else []) + [format_shape(block.shape)])


def draw_net(net, input_size=None, ax=None):
    """Draw ``net`` layer by layer: name, operation and output shape in each block.

    Blocks run left to right: the input, the branches (LNet: one row per landmark patch,
    joined by a concatenation), the trunk, then one row per output head. Colours tell the
    kind of layer (:data:`BLOCK_COLORS`); "+ PReLU" blocks are a layer and its PReLU.
    Each block's text has the gid ``"block:<names>"`` (e.g. ``"block:conv1+PReLU1"``).

    Parameters
    ----------
    net : tinymtcnn.nets.Net
    input_size : int, optional, as for :func:`net_layout`
    ax : matplotlib Axes, optional (a new figure sized to the net when None)

    Returns
    -------
    matplotlib Axes
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    layout = net_layout(net, input_size)
    n_rows = max(len(layout.branches), len(layout.heads), 1)
    branch_cols = max((len(b) for b in layout.branches), default=0)
    head_cols = max((len(h) for h in layout.heads.values()), default=0)
    n_cols = 1 + branch_cols + len(layout.trunk) + head_cols
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(1.5 * n_cols + 1.2, 1.25 * n_rows + 1.0))
    width, height, step, gap = 1.3, 0.95, 1.6, 1.3

    def rows(n):
        return [(n - 1) / 2 * gap - i * gap for i in range(n)]

    def box(col, y, text, kind, gid):
        x = col * step
        ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.02",
                                    facecolor=BLOCK_COLORS[kind], edgecolor="#333333", linewidth=0.8))
        ax.text(x, y, text, ha="center", va="center", fontsize=6.5, gid=gid, linespacing=1.4)
        return x, y

    def arrow(start, end):
        ax.add_patch(FancyArrowPatch((start[0] + width / 2, start[1]), (end[0] - width / 2, end[1]),
                                     arrowstyle="-|>", mutation_scale=8, linewidth=0.8, color="#555555"))

    last = [box(0, 0.0, f"input\n{format_shape(layout.input_shape)}", "input", "block:input")]
    if layout.branches:
        channels = layout.input_shape[0] // len(layout.branches)
        ends = []
        for k, (blocks, y) in enumerate(zip(layout.branches, rows(len(layout.branches)))):
            prev = last[0]
            for col, block in enumerate(blocks, start=1):
                here = box(col, y, _block_text(block), block.kind, "block:" + "+".join(block.names))
                arrow(prev, here)
                if col == 1:
                    ax.text(here[0] - width / 2 - 0.05, here[1] + 0.08, f"ch {k * channels}-{(k + 1) * channels - 1}",
                            ha="right", va="bottom", fontsize=5.5)
                prev = here
            ends.append(prev)
        last = ends
    col = 1 + branch_cols
    for block in layout.trunk:
        here = box(col, 0.0, _block_text(block), block.kind, "block:" + "+".join(block.names))
        for prev in last:
            arrow(prev, here)
        last, col = [here], col + 1
    for (key, blocks), y in zip(layout.heads.items(), rows(len(layout.heads))):
        prev = last[0]
        for k, block in enumerate(blocks):
            here = box(col + k, y, _block_text(block), block.kind, "block:" + "+".join(block.names))
            arrow(prev, here)
            prev = here
        label = key + ("\n(softmax: face_prob)" if key == "face_logits" else "")
        ax.text(prev[0] + width / 2 + 0.1, y, label, ha="left", va="center", fontsize=7, style="italic")
    top = rows(n_rows)[0] + height / 2 + 0.3
    ax.set_xlim(-width / 2 - 0.2, (n_cols - 1) * step + width / 2 + 1.6)
    ax.set_ylim(-top, top)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"{type(net).__name__}: input {format_shape(layout.input_shape)}, "
                 f"{net.num_params():,} parameters", fontsize=9)
    return ax
