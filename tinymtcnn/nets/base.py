"""``Net``: a trunk of layers feeding named heads, with a hand-written backward pass.

A net is a list of ``(caffe_layer_name, module)`` pairs for the shared trunk and,
for every output, a short list of head layers. ``forward(x)`` returns a dict of
head outputs; ``backward(grads)`` takes a dict with the gradient of the loss
with respect to some of those outputs and runs the chain rule back through the
heads (their gradients add up where they meet) and the trunk, filling every
module's ``grads``.

``net.params`` / ``net.grads`` are flat dicts keyed ``"<layer>.<key>"`` (for
example ``"conv1.w"``, ``"PReLU1.alpha"``), the same names the weight files use.

Layout: a net takes and returns batch-first arrays (images ``(N, C, H, W)``, outputs ``(N, F)``
or ``(N, F, h, w)``, and their gradients likewise). Inside, every layer works on the package's
one internal layout, batch innermost: ``(C, H, W, N)``, and ``(F, N)`` after ``Flatten``
(``docs/engine_room.md`` says why). The conversion happens here, once at the way in
(:func:`batch_last`) and once at the way out (:func:`batch_first`).
"""
import numpy as np

from ..layers.modules import conv_prelu_backward, conv_prelu_forward, fusable
from ..layers.softmax import softmax
from .pnet_strips import pnet_strip_outputs


def batch_last(x):
    """A batch-first array ``(N, C, H, W)`` or ``(N, F)`` in the internal layout ``(C, H, W, N)`` /
    ``(F, N)`` (a C-contiguous copy)."""
    return np.ascontiguousarray(np.moveaxis(x, 0, -1))


def batch_first(x):
    """The inverse of :func:`batch_last`: ``(C, H, W, N)`` / ``(F, N)`` -> ``(N, C, H, W)`` / ``(N, F)``."""
    return np.ascontiguousarray(np.moveaxis(x, -1, 0))


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

    def forward_trunk(self, x, *, record=True):
        """Run the trunk; a convolution followed by a PReLU runs as one fused step. ``record=False``
        (inference) runs each module's ``infer``: the same computation, keeping no cache."""
        mods = [m for _, m in self.trunk]
        i = 0
        while i < len(mods):
            if i + 1 < len(mods) and fusable(mods[i], mods[i + 1]) and x.ndim == 4:
                x = conv_prelu_forward(mods[i], mods[i + 1], x, record=record)
                i += 2
            else:
                x = mods[i].forward(x) if record else mods[i].infer(x)
                i += 1
        return x

    def _outputs(self, x, record):
        """The one road through the layers: the trunk, then every head on its features."""
        if x.shape[0] == 0:  # an empty batch: the shapes of a one-sample pass, with N = 0
            return {k: v[:0] for k, v in self._outputs(np.zeros((1,) + x.shape[1:], self.dtype), False).items()}
        feats = self.forward_trunk(batch_last(x), record=record)
        out = {}
        for key, layers in self.heads.items():
            y = feats
            for _, m in layers:
                y = m.forward(y) if record else m.infer(y)
            out[key] = batch_first(y)
        return self._finish(out)

    def _finish(self, out):
        """Outputs derived from the heads' (``face_prob`` from ``face_logits``)."""
        if "face_logits" in out:
            out["face_prob"] = softmax(out["face_logits"], axis=1)[:, 1]
        return out

    def forward(self, x):
        """Run the net, keeping what :meth:`backward` needs. Returns a dict with ``face_logits``
        (N, 2, ...), ``face_prob`` (N, ...), ``box_reg`` (N, 4, ...) and, where the net has that head,
        ``landmarks`` (N, 10, ...)."""
        return self._outputs(self._check_input(x), True)

    def backward(self, grads, *, input_grad=True, trunk=True):
        """Back-propagate ``{output key: dL/doutput}`` (heads left out get no gradient), filling
        every module's ``grads``; returns dL/dx.

        ``input_grad=False`` (training: nothing needs the gradient of the images) returns None
        and stops at the first layer with parameters, which computes only its own gradients
        (for a convolution: no ``W.T @ G`` product and no col2im); the parameter gradients are
        the same. ``trunk=False`` (a frozen trunk: only heads train) stops after the heads and
        returns None; the trunk's gradients stay as they were.
        """
        if not trunk and input_grad:
            raise ValueError("trunk=False gives no input gradient: pass input_grad=False with it")
        unknown = set(grads) - set(self.heads)
        if unknown:
            hint = " (train face classification through 'face_logits')" if "face_logits" in self.heads else ""
            raise ValueError(f"no head named {sorted(unknown)}; heads are {list(self.heads)}{hint}")
        dfeat = None
        for key, g in grads.items():
            g = batch_last(np.asarray(g, dtype=self.dtype))
            for _, m in reversed(self.heads[key]):
                g = m.backward(g)
            dfeat = g if dfeat is None else dfeat + g
        if not trunk:
            return None
        dx = self.backward_trunk(dfeat, input_grad=input_grad)
        return None if dx is None else batch_first(dx)

    def backward_trunk(self, dfeat, *, input_grad=True):
        """The trunk's part of :meth:`backward`, in the internal layout: from dL/d(trunk output) to
        dL/dx ``(C, H, W, N)`` (None with ``input_grad=False``, which stops at the first layer with
        parameters)."""
        mods = [m for _, m in self.trunk]
        first = 0 if input_grad else next((i for i, m in enumerate(mods) if m.params), len(mods))
        i = len(mods) - 1
        while i >= first:
            keep = input_grad or i > first  # the gradient of the first layer's input is not needed
            if i - 1 >= first and fusable(mods[i - 1], mods[i]):  # a convolution and its PReLU
                keep = input_grad or i - 1 > first
                dfeat = conv_prelu_backward(mods[i - 1], mods[i], dfeat, input_grad=keep)
                i -= 2
            else:
                dfeat = mods[i].backward(dfeat) if keep else mods[i].backward(dfeat, input_grad=False)
                i -= 1
        return dfeat if input_grad else None

    __call__ = forward

    # ------------------------------------------------------------------ inference
    def infer(self, x):
        """Inference: the outputs of :meth:`forward` (same keys and shapes), keeping nothing for
        :meth:`backward`, so one net may serve several threads at once.

        The same road as :meth:`forward` (the layers' ``infer``: the same kernels, without caches; a
        max-pool skips the positions of its maxima), except for P-Net's one specialisation: a
        P-Net-shaped net on up to four float32 levels runs fused, in horizontal strips
        (:mod:`tinymtcnn.nets.pnet_strips`). In training mode (dropout on) this is ``forward``.
        """
        if self.training:
            return self.forward(x)
        x = self._check_input(x)
        out = pnet_strip_outputs(self, x)
        return self._outputs(x, False) if out is None else self._finish(out)

    def __repr__(self):
        lines = [f"{type(self).__name__}("]
        lines += [f"  {n}: {m!r}" for n, m in self.trunk]
        for key, layers in self.heads.items():
            lines.append(f"  [{key}] " + " -> ".join(f"{n}: {m!r}" for n, m in layers))
        lines.append(f")  # {self.num_params():,} parameters")
        return "\n".join(lines)
