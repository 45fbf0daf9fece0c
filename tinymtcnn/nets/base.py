"""``Net``: a trunk of layers feeding named heads, with a hand-written backward pass.

A net is a list of ``(caffe_layer_name, module)`` pairs for the shared trunk and,
for every output, a short list of head layers. ``forward(x)`` returns a dict of
head outputs; ``backward(grads)`` takes a dict with the gradient of the loss
with respect to some of those outputs and runs the chain rule back through the
heads (their gradients add up where they meet) and the trunk, filling every
module's ``grads``.

``net.params`` / ``net.grads`` are flat dicts keyed ``"<layer>.<key>"`` (for
example ``"conv1.w"``, ``"PReLU1.alpha"``), the same names the weight files use.
"""
import threading

import numpy as np

from ..kernels._jit import get_num_threads
from ..kernels.chwn import bias_prelu_rows, im2col_chwn, maxpool_chwn
from ..kernels.conv_direct import pnet_output_size, pnet_trunk
from ..layers.modules import Conv2d, Dropout, Flatten, Linear, MaxPool2d, PReLU
from ..layers.pool import pool_output_size
from ..layers.softmax import softmax
from ..threads import matmul


class Net:
    """Base class of PNet, RNet, ONet and LNet (see the module docstring)."""

    input_size = None  # fixed input side (24, 48) or None for fully convolutional nets

    def __init__(self, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        self.trunk = []  # [(name, module)]
        self.heads = {}  # output key -> [(name, module)]
        self.training = False

    # ------------------------------------------------------------------ structure
    def named_modules(self):
        """Every ``(layer_name, module)`` pair, trunk first, then the heads in order."""
        yield from self.trunk
        for layers in self.heads.values():
            yield from layers

    @property
    def params(self):
        """Flat dict ``"<layer>.<key>" -> array`` (the arrays themselves, not copies)."""
        return {f"{n}.{k}": v for n, m in self.named_modules() for k, v in m.params.items()}

    @property
    def grads(self):
        """Flat dict of gradients, same keys as ``params``."""
        return {f"{n}.{k}": m.grads[k] for n, m in self.named_modules() for k in m.params}

    def num_params(self):
        """Total number of scalar parameters."""
        return int(sum(v.size for v in self.params.values()))

    def zero_grad(self):
        for _, m in self.named_modules():
            m.zero_grad()

    def train(self, mode=True):
        """Switch dropout on (``mode=True``) or off; returns ``self``."""
        self.training = mode
        for _, m in self.named_modules():
            m.training = mode
        return self

    def eval(self):
        return self.train(False)

    def load_params(self, params, *, strict=True):
        """Copy arrays from a flat dict into the net (cast to the net's dtype).

        Raises ``ValueError`` naming every missing key or mis-shaped array; with
        ``strict=True`` unknown keys are an error as well.
        """
        own = self.params
        missing = sorted(set(own) - set(params))
        wrong = [f"{k}: expected {own[k].shape}, got {np.shape(params[k])}"
                 for k in own if k in params and np.shape(params[k]) != own[k].shape]
        extra = sorted(set(params) - set(own)) if strict else []
        if missing or wrong or extra:
            parts = []
            if missing:
                parts.append(f"missing {missing}")
            if wrong:
                parts.append("mis-shaped " + "; ".join(wrong))
            if extra:
                parts.append(f"unexpected {extra}")
            raise ValueError(f"cannot load weights into {type(self).__name__}: " + ", ".join(parts))
        for n, m in self.named_modules():
            for k in m.params:
                arr = np.asarray(params[f"{n}.{k}"])
                if not np.all(np.isfinite(arr)):
                    raise ValueError(f"weights for {n}.{k} contain NaN or inf")
                m.params[k] = arr.astype(self.dtype, copy=True)
        self.zero_grad()
        return self

    def to(self, dtype):
        """Cast every parameter to ``dtype`` in place (e.g. float64 for gradient checks)."""
        self.dtype = np.dtype(dtype)
        for _, m in self.named_modules():
            for k in m.params:
                m.params[k] = m.params[k].astype(self.dtype)
        self.zero_grad()
        return self

    # ------------------------------------------------------------------ passes
    def _check_input(self, x):
        if not isinstance(x, np.ndarray) or x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__} expects an (N, {self.in_channels}, H, W) array, "
                             f"got {getattr(x, 'shape', type(x).__name__)}")
        if self.input_size is not None and x.shape[2:] != (self.input_size, self.input_size):
            raise ValueError(f"{type(self).__name__} expects {self.input_size}x{self.input_size} inputs, "
                             f"got {x.shape[2]}x{x.shape[3]}")
        return x.astype(self.dtype, copy=False)

    def forward_trunk(self, x):
        for _, m in self.trunk:
            x = m.forward(x)
        return x

    def forward(self, x):
        """Run the net. Returns a dict with ``face_logits`` (N, 2, ...), ``face_prob`` (N, ...),
        ``box_reg`` (N, 4, ...) and, where the net has that head, ``landmarks`` (N, 10, ...)."""
        x = self._check_input(x)
        if x.shape[0] == 0:  # an empty batch: the shapes of a one-sample pass, with N = 0
            return {k: v[:0] for k, v in self.forward(np.zeros((1,) + x.shape[1:], self.dtype)).items()}
        feats = self.forward_trunk(x)
        out = {}
        for key, layers in self.heads.items():
            y = feats
            for _, m in layers:
                y = m.forward(y)
            out[key] = y
        if "face_logits" in out:
            out["face_prob"] = softmax(out["face_logits"], axis=1)[:, 1]
        return out

    def backward(self, grads):
        """Back-propagate ``{output key: dL/doutput}`` (heads left out get no gradient); returns dL/dx."""
        unknown = set(grads) - set(self.heads)
        if unknown:
            raise ValueError(f"no head named {sorted(unknown)}; heads are {list(self.heads)}"
                             " (train face classification through 'face_logits')")
        dfeat = None
        for key, g in grads.items():
            for _, m in reversed(self.heads[key]):
                g = m.backward(g)
            dfeat = g if dfeat is None else dfeat + g
        for _, m in reversed(self.trunk):
            dfeat = m.backward(dfeat)
        return dfeat

    __call__ = forward

    # ------------------------------------------------------------------ inference
    def infer(self, x):
        """Inference only: the outputs of :meth:`forward` (same keys and shapes, equal to float32
        rounding), faster, and keeping nothing for :meth:`backward`.

        A P-Net-shaped net runs fused, in horizontal strips of bounded memory
        (:func:`~tinymtcnn.kernels.conv_direct.pnet_trunk`); other nets run on batch-innermost
        ``(C, H, W, N)`` arrays with one matrix product per layer (:mod:`tinymtcnn.kernels.chwn`). In
        training mode, or for a net with its own ``forward_trunk`` (LNet), this is ``forward``.
        """
        if self.training or type(self).forward_trunk is not Net.forward_trunk:
            return self.forward(x)
        x = self._check_input(x)
        # fused strips for pyramid levels; a batch of small crops (training, mining) goes as a batch
        fused = _pnet_fused_weights(self) if x.dtype == np.float32 and len(x) <= 4 else None
        if fused is not None and min(pnet_output_size(*x.shape[2:])) >= 1:
            weights, widths = fused
            h, w = pnet_output_size(*x.shape[2:])
            parallel = get_num_threads() > 1 and h * w >= 1 << 14  # ~4 ms of work: worth a thread wake-up
            maps = [pnet_trunk(xi, *weights, parallel=parallel) for xi in x]
            maps = maps[0][None] if len(maps) == 1 else np.stack(maps)
            out, start = {}, 0
            for key, width in widths:
                out[key] = maps[:, start:start + width]
                start += width
        else:
            feats = _infer_layers(self.trunk, np.ascontiguousarray(x.transpose(1, 2, 3, 0)), ("a", "b"))
            out = {key: _own(_to_nchw(_infer_layers(layers, feats, ("c", "d")))) for key, layers in self.heads.items()}
        if "face_logits" in out:
            out["face_prob"] = softmax(out["face_logits"], axis=1)[:, 1]
        return out

    def __repr__(self):
        lines = [f"{type(self).__name__}("]
        lines += [f"  {n}: {m!r}" for n, m in self.trunk]
        for key, layers in self.heads.items():
            lines.append(f"  [{key}] " + " -> ".join(f"{n}: {m!r}" for n, m in layers))
        lines.append(f")  # {self.num_params():,} parameters")
        return "\n".join(lines)


# ---------------------------------------------------------------------- inference helpers
def _is_conv(m, k):
    return isinstance(m, Conv2d) and m.params["w"].shape[2:] == (k, k) and m.stride == 1 and m.pad == 0


def _pnet_fused_weights(net):
    """``(weights for pnet_trunk, [(head key, channels)])`` when ``net`` has P-Net's layers, else None."""
    mods = [m for _, m in net.trunk]
    kinds = [Conv2d, PReLU, MaxPool2d, Conv2d, PReLU, Conv2d, PReLU]
    if len(mods) != len(kinds) or not all(isinstance(m, k) for m, k in zip(mods, kinds)):
        return None
    c1, p1, pool, c2, p2, c3, p3 = mods
    if not (_is_conv(c1, 3) and _is_conv(c2, 3) and _is_conv(c3, 3) and c1.params["w"].shape[1] == 3
            and (pool.kernel, pool.stride, pool.ceil_mode) == (2, 2, True)):
        return None
    heads = []
    for key, layers in net.heads.items():
        if len(layers) != 1 or not _is_conv(layers[0][1], 1):
            return None
        heads.append((key, layers[0][1]))
    wh = np.concatenate([m.params["w"][:, :, 0, 0] for _, m in heads])
    bh = np.concatenate([m.params["b"] for _, m in heads])
    weights = (c1.params["w"], c1.params["b"], p1.params["alpha"], c2.params["w"], c2.params["b"],
               p2.params["alpha"], c3.params["w"], c3.params["b"], p3.params["alpha"], wh, bh)
    return weights, [(key, m.params["w"].shape[0]) for key, m in heads]


class _Scratch(threading.local):
    """Grow-only scratch arrays, one set per thread: fresh multi-MB arrays on every call would
    cost a page fault per 4 KB (as much time as the products themselves on R-Net batches)."""

    def __init__(self):
        self.buffers = {}

    def array(self, slot, shape, dtype):
        size = int(np.prod(shape))
        buf = self.buffers.get(slot)
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = self.buffers[slot] = np.empty(size, dtype=dtype)
        return buf[:size].reshape(shape)


_scratch = _Scratch()


def _own(x):
    """``x`` itself when it owns its memory, else a copy (outputs must not live in scratch)."""
    return x if x.flags.owndata else x.copy()


def _to_nchw(x):
    """Batch-innermost ``(C, H, W, N)`` -> ``(N, C, H, W)``; 2-D ``(N, F)`` arrays pass through."""
    return np.ascontiguousarray(x.transpose(3, 0, 1, 2)) if x.ndim == 4 else x


def _infer_layers(layers, x, slots):
    """Run ``layers`` on ``x``: ``(C, H, W, N)`` (batch innermost) or ``(N, F)``; a PReLU after a
    convolution or linear layer is applied in the same pass. Same formulas as the modules'
    ``forward``; unknown modules run their own ``forward`` on an NCHW copy. Activations go to the
    two scratch ``slots`` in turn, so the result may live in one of them."""
    slot, other = slots
    mods = [m for _, m in layers]
    i = 0
    while i < len(mods):
        m = mods[i]
        nxt = mods[i + 1] if i + 1 < len(mods) else None
        alpha = nxt.params["alpha"] if isinstance(nxt, PReLU) else None
        if isinstance(m, Conv2d) and x.ndim == 4 and m.stride == 1 and m.pad == 0:
            w = m.params["w"].astype(x.dtype, copy=False)
            f, c, kh, kw = w.shape
            _, h, wd, n = x.shape
            oh, ow = h - kh + 1, wd - kw + 1
            cols = (x.reshape(c, -1) if kh == kw == 1 else
                    im2col_chwn(x, kh, kw, out=_scratch.array("cols", (c * kh * kw, oh * ow * n), x.dtype)))
            y = matmul(w.reshape(f, -1), cols, out=_scratch.array(slot, (f, oh * ow * n), x.dtype))
            x = bias_prelu_rows(y, m.params["b"], alpha).reshape(f, oh, ow, n)
            slot, other = other, slot
            i += 1 if alpha is None else 2
            continue
        if isinstance(m, Linear) and x.ndim == 2:
            y = x @ m.params["w"].astype(x.dtype, copy=False).T
            y += m.params["b"].astype(x.dtype, copy=False)
            if alpha is not None:
                y = np.where(y > 0, y, alpha.astype(x.dtype, copy=False)[None] * y)
            x = y
            i += 1 if alpha is None else 2
            continue
        if isinstance(m, MaxPool2d) and x.ndim == 4:
            c, h, wd, n = x.shape
            shape = (c, pool_output_size(h, m.kernel, m.stride, m.ceil_mode),
                     pool_output_size(wd, m.kernel, m.stride, m.ceil_mode), n)
            x = maxpool_chwn(x, m.kernel, m.stride, m.ceil_mode, out=_scratch.array(slot, shape, x.dtype))
            slot, other = other, slot
        elif isinstance(m, Flatten) and x.ndim == 4:
            x = x.reshape(-1, x.shape[3]).T  # (N, C*H*W) in C order, as Caffe; a transposed view
        elif isinstance(m, PReLU):
            a = m.params["alpha"].astype(x.dtype, copy=False)
            a = a[:, None, None, None] if x.ndim == 4 else a[None]
            x = np.where(x > 0, x, a * x)
        elif not isinstance(m, Dropout):  # Dropout is the identity outside training
            y = m.forward(_to_nchw(x))
            x = np.ascontiguousarray(y.transpose(1, 2, 3, 0)) if y.ndim == 4 else y
        i += 1
    return x
