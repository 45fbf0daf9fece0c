"""Thin layer classes around the forward/backward function pairs.

Each module holds ``params`` and ``grads`` dicts with the same keys (``w``/``b``
for Conv2d and Linear, ``alpha`` for PReLU), keeps the cache of its last
forward pass, and has ``forward(x)`` / ``backward(dout) -> dx``. ``backward``
*adds* into ``grads`` (call ``zero_grad`` between steps), so a layer used twice
accumulates like a shared weight should. ``infer(x)`` returns what ``forward(x)`` returns and keeps
nothing (no cache: inference, and safe for several threads sharing one module); a max-pool then
skips the positions of its maxima. Modules with parameters also take
``backward(dout, input_grad=False)``: only the parameter gradients, returning None
(the first layer of a net in training; a convolution then skips ``W.T @ G`` and col2im).

``naive=True`` makes a module use the readable loop twin of its layer.
"""
import numpy as np

from . import conv, linear, pool, prelu


def init_weight(shape, fan_in, fan_out, *, scheme="xavier", rng=None, dtype=np.float32):
    """Random weights. ``"xavier"``: Caffe's filler, U(-sqrt(3/fan_in), +sqrt(3/fan_in));
    ``"glorot"``: U(±sqrt(6/(fan_in+fan_out))); ``"he"``: N(0, 2/fan_in)."""
    rng = np.random.default_rng() if rng is None else rng
    if scheme == "xavier":
        lim = np.sqrt(3.0 / fan_in)
        return rng.uniform(-lim, lim, shape).astype(dtype)
    if scheme == "glorot":
        lim = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-lim, lim, shape).astype(dtype)
    if scheme == "he":
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)
    raise ValueError(f"unknown init scheme {scheme!r}; use 'xavier', 'glorot' or 'he'")


class Module:
    """Base class: ``params``/``grads`` dicts, one cache, ``forward``/``backward``."""

    def __init__(self, naive=False):
        self.params = {}
        self.grads = {}
        self.cache = None
        self.naive = naive
        self.training = False

    def __call__(self, x):
        return self.forward(x)

    def infer(self, x):
        """``forward(x)``'s output, keeping no cache (no ``backward`` can follow)."""
        raise NotImplementedError(f"{type(self).__name__} has no infer()")

    def zero_grad(self):
        for k, v in self.params.items():
            self.grads[k] = np.zeros_like(v)

    def _accumulate(self, **grads):
        """Add each gradient into ``grads`` (set it when there is none yet). A gradient whose shape is
        not the held one's is a bug upstream: ``ValueError`` naming both, never a silent replacement."""
        for k, g in grads.items():
            held = self.grads.get(k)
            if held is None:
                self.grads[k] = g
            elif held.shape != g.shape:
                raise ValueError(f"{type(self).__name__}: gradient {k!r} has shape {g.shape}, the one held "
                                 f"has {held.shape} (call zero_grad() after changing the parameters)")
            else:
                self.grads[k] = held + g

    def _need_cache(self):
        if self.cache is None:
            raise RuntimeError(f"{self!r}: backward() called before forward()")
        return self.cache

    def extra_repr(self):
        return ""

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"


class Conv2d(Module):
    """Convolution layer; ``params = {"w": (F, C, KH, KW), "b": (F,)}``."""

    def __init__(self, in_channels, out_channels, kernel_size, *, stride=1, pad=0,
                 init="xavier", rng=None, dtype=np.float32, naive=False):
        super().__init__(naive)
        kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else tuple(kernel_size)
        self.stride, self.pad = stride, pad
        fan_in, fan_out = in_channels * kh * kw, out_channels * kh * kw
        self.params["w"] = init_weight((out_channels, in_channels, kh, kw), fan_in, fan_out,
                                       scheme=init, rng=rng, dtype=dtype)
        self.params["b"] = np.zeros(out_channels, dtype=dtype)
        self.zero_grad()

    def forward(self, x):
        f = conv.conv2d_forward_naive if self.naive else conv.conv2d_forward
        out, self.cache = f(x, self.params["w"], self.params["b"], stride=self.stride, pad=self.pad)
        return out

    def infer(self, x):
        f = conv.conv2d_forward_naive if self.naive else conv.conv2d_forward
        return f(x, self.params["w"], self.params["b"], stride=self.stride, pad=self.pad)[0]

    def backward(self, dout, input_grad=True):
        if self.naive:
            dx, dw, db = conv.conv2d_backward_naive(dout, self._need_cache())
        else:
            dx, dw, db = conv.conv2d_backward(dout, self._need_cache(), input_grad=input_grad)
        self._accumulate(w=dw, b=db)
        return dx if input_grad else None

    def extra_repr(self):
        fo, ci, kh, kw = self.params["w"].shape
        return f"{ci}, {fo}, kernel_size=({kh}, {kw}), stride={self.stride}, pad={self.pad}"


class PReLU(Module):
    """Per-channel PReLU; ``params = {"alpha": (C,)}``, initialised to 0.25 as in Caffe."""

    def __init__(self, channels, *, init=0.25, dtype=np.float32, naive=False):
        super().__init__(naive)
        self.params["alpha"] = np.full(channels, init, dtype=dtype)
        self.zero_grad()

    def forward(self, x):
        f = prelu.prelu_forward_naive if self.naive else prelu.prelu_forward
        out, self.cache = f(x, self.params["alpha"])
        return out

    def infer(self, x):
        f = prelu.prelu_forward_naive if self.naive else prelu.prelu_forward
        return f(x, self.params["alpha"])[0]

    def backward(self, dout, input_grad=True):
        f = prelu.prelu_backward_naive if self.naive else prelu.prelu_backward
        dx, dalpha = f(dout, self._need_cache())
        self._accumulate(alpha=dalpha)
        return dx if input_grad else None

    def extra_repr(self):
        return f"{self.params['alpha'].shape[0]}"


class MaxPool2d(Module):
    """Max pooling, Caffe ceil mode by default; no parameters."""

    def __init__(self, kernel, stride, *, ceil_mode=True, naive=False):
        super().__init__(naive)
        self.kernel, self.stride, self.ceil_mode = kernel, stride, ceil_mode

    def forward(self, x):
        f = pool.maxpool2d_forward_naive if self.naive else pool.maxpool2d_forward
        out, self.cache = f(x, kernel=self.kernel, stride=self.stride, ceil_mode=self.ceil_mode)
        return out

    def infer(self, x):
        if self.naive:
            return pool.maxpool2d_forward_naive(x, kernel=self.kernel, stride=self.stride, ceil_mode=self.ceil_mode)[0]
        return pool.maxpool2d_values(x, kernel=self.kernel, stride=self.stride, ceil_mode=self.ceil_mode)

    def backward(self, dout):
        f = pool.maxpool2d_backward_naive if self.naive else pool.maxpool2d_backward
        return f(dout, self._need_cache())

    def extra_repr(self):
        return f"kernel={self.kernel}, stride={self.stride}, ceil_mode={self.ceil_mode}"


def fusable(conv_module, prelu_module):
    """Whether a Conv2d followed by a PReLU can run as one fused step (both fast, not naive)."""
    return (isinstance(conv_module, Conv2d) and isinstance(prelu_module, PReLU)
            and not conv_module.naive and not prelu_module.naive)


def conv_prelu_forward(conv_module, prelu_module, x, *, record=True):
    """``prelu_module(conv_module(x))`` as one product with the bias and PReLU in the same pass
    (:func:`tinymtcnn.layers.conv.conv2d_prelu_forward`). ``record=True`` fills both modules' caches
    as their own ``forward`` would, so their ``backward`` (or :func:`conv_prelu_backward`) works
    after it; ``record=False`` keeps nothing (their ``infer``)."""
    alpha = prelu_module.params["alpha"]
    act, pre, cache = conv.conv2d_prelu_forward(
        x, conv_module.params["w"], conv_module.params["b"], alpha.astype(x.dtype, copy=False),
        stride=conv_module.stride, pad=conv_module.pad, keep_pre=record)
    if record:
        conv_module.cache = cache
        prelu_module.cache = prelu.PReLUCache(pre, alpha)
    return act


def conv_prelu_backward(conv_module, prelu_module, dout, input_grad=True):
    """``conv_module.backward(prelu_module.backward(dout))``, the PReLU's part in the same pass as ``db``;
    adds into both modules' ``grads``."""
    pre, alpha = prelu_module._need_cache()
    dx, dw, db, dalpha = conv.conv2d_prelu_backward(dout, conv_module._need_cache(), pre,
                                                    alpha.astype(pre.dtype, copy=False), input_grad=input_grad)
    conv_module._accumulate(w=dw, b=db)
    prelu_module._accumulate(alpha=dalpha)
    return dx


class Linear(Module):
    """Fully connected layer; ``params = {"w": (O, I), "b": (O,)}`` (Caffe layout)."""

    def __init__(self, in_features, out_features, *, init="xavier", rng=None, dtype=np.float32, naive=False):
        super().__init__(naive)
        self.params["w"] = init_weight((out_features, in_features), in_features, out_features,
                                       scheme=init, rng=rng, dtype=dtype)
        self.params["b"] = np.zeros(out_features, dtype=dtype)
        self.zero_grad()

    def forward(self, x):
        f = linear.linear_forward_naive if self.naive else linear.linear_forward
        out, self.cache = f(x, self.params["w"], self.params["b"])
        return out

    def infer(self, x):
        f = linear.linear_forward_naive if self.naive else linear.linear_forward
        return f(x, self.params["w"], self.params["b"])[0]

    def backward(self, dout, input_grad=True):
        f = linear.linear_backward_naive if self.naive else linear.linear_backward
        dx, dw, db = f(dout, self._need_cache())
        self._accumulate(w=dw, b=db)
        return dx if input_grad else None

    def extra_repr(self):
        o, i = self.params["w"].shape
        return f"{i}, {o}"


class Flatten(Module):
    """(C, H, W, N) -> (C*H*W, N): each sample's column in C order (c, y, x), as Caffe's InnerProduct
    reads its input; a reshape, no copy."""

    def forward(self, x):
        self.cache = x.shape
        return self.infer(x)

    def infer(self, x):
        return x.reshape(int(np.prod(x.shape[:-1])), x.shape[-1])  # also for an empty batch

    def backward(self, dout):
        return dout.reshape(self._need_cache())


class Dropout(Module):
    """Inverted dropout with drop probability ``p``; the identity unless ``training`` is True."""

    def __init__(self, p, *, rng=None):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.rng = np.random.default_rng() if rng is None else rng

    def _mask(self, x):
        """None (the identity) outside training, else a fresh scaled keep-mask shaped like ``x``."""
        if not self.training or self.p == 0.0:
            return None
        return (self.rng.random(x.shape) >= self.p).astype(x.dtype) / (1.0 - self.p)

    def forward(self, x):
        self.cache = self._mask(x)
        return x if self.cache is None else x * self.cache

    def infer(self, x):
        keep = self._mask(x)
        return x if keep is None else x * keep

    def backward(self, dout):
        return dout if self.cache is None else dout * self.cache

    def extra_repr(self):
        return f"p={self.p}"
