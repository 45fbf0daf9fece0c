"""Optimisers and learning-rate schedules; parameters are updated IN PLACE.

An optimiser is built on ``net.params`` (a dict of the net's own arrays) and each
``step(net.grads)`` changes those arrays in place, so the net sees the new values
without any copying back. ``net.grads`` must be read again after every backward pass
(the layers replace their gradient arrays).

Weight decay is the classic L2 penalty ``(wd/2) ||w||^2`` added to the loss, i.e.
``g <- g + wd * w`` before the update (A: 0.0005, spec §8.4). By default it applies
only to convolution / fully-connected **weights** (keys ending in ``.w``), not to
biases and PReLU slopes: decaying a slope pulls the PReLU toward a ReLU, and decaying
biases has no regularising value. Pass ``decay=lambda key: True`` to decay everything.

SGD with momentum (Caffe/TF form, spec §8.5)::

    v <- mu v + g ;  w <- w - lr v               (nesterov: w <- w - lr (g + mu v))

Adam (Kingma & Ba 2015), with bias correction::

    m <- b1 m + (1-b1) g ;  v <- b2 v + (1-b2) g^2
    w <- w - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

Schedules map a (fractional) epoch to a learning rate: :class:`StepLR`
(``lr * gamma^(number of milestones passed)``, A: x0.1 at epochs 6, 14, 20) and
:class:`CosineLR` (linear warm-up, then ``min + (base - min)(1 + cos(pi t))/2``).
"""
import math

import numpy as np


def decay_weights_only(key):
    """Default weight-decay filter: True for ``"<layer>.w"`` keys (conv / FC weights)."""
    return key.endswith(".w")


class Optimizer:
    """Base class: holds the parameter dict, the learning rate and per-parameter state."""

    SLOTS = ()  # names of the per-parameter state arrays

    def __init__(self, params, lr, weight_decay=0.0, decay=decay_weights_only):
        if not isinstance(params, dict) or not params:
            raise TypeError("params must be a non-empty dict of arrays (net.params)")
        if not (lr > 0 and math.isfinite(lr)):
            raise ValueError(f"learning rate must be a finite positive number, got {lr!r}")
        if not (weight_decay >= 0 and math.isfinite(weight_decay)):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
        self.params = params
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.decay = decay
        self.state = {}
        self.steps = 0

    def _grad(self, key, grads):
        if key not in grads:
            raise ValueError(f"no gradient for parameter {key!r}")
        g = np.asarray(grads[key])
        p = self.params[key]
        if g.shape != p.shape:
            raise ValueError(f"gradient of {key!r} has shape {g.shape}, parameter has {p.shape}")
        g = g.astype(p.dtype, copy=False)
        if self.weight_decay and self.decay(key):
            g = g + self.weight_decay * p
        return g

    def step(self, grads):
        """Update every parameter in place from ``grads`` (a dict with the same keys)."""
        self.steps += 1
        for key, p in self.params.items():
            self._update(key, p, self._grad(key, grads))

    def _update(self, key, p, g):
        raise NotImplementedError

    def state_dict(self):
        """Flat dict of numpy arrays (for ``np.savez``): hyper-parameters and per-parameter state."""
        out = {"__steps__": np.array(self.steps), "__lr__": np.array(self.lr)}
        for key, slots in self.state.items():
            for slot, arr in slots.items():
                out[f"{slot}::{key}"] = arr
        return out

    def load_state_dict(self, state):
        """Restore what :meth:`state_dict` returned (arrays are copied into fresh state).

        Raises ``ValueError`` naming the entry (and changes nothing) when ``state`` is not a state of
        this optimiser: a missing step count or learning rate, an unknown slot (e.g. SGD's
        ``velocity`` given to Adam) or parameter, a mis-shaped or non-finite array.
        """
        for name in ("__steps__", "__lr__"):
            if name not in state or np.shape(state[name]) != ():
                raise ValueError(f"optimizer state has no scalar {name!r}")
        new = {}
        for name, arr in state.items():
            if name.startswith("__"):
                continue
            slot, _, key = name.partition("::")
            if slot not in self.SLOTS:
                raise ValueError(f"optimizer state {name!r}: slot {slot!r} is not one of "
                                 f"{type(self).__name__}'s {self.SLOTS}")
            if key not in self.params:
                raise ValueError(f"optimizer state for unknown parameter {key!r}")
            if np.shape(arr) != self.params[key].shape or not np.all(np.isfinite(arr)):
                raise ValueError(f"optimizer state {name!r}: expected finite numbers of shape "
                                 f"{self.params[key].shape}, got shape {np.shape(arr)}")
            new.setdefault(key, {})[slot] = np.array(arr, dtype=self.params[key].dtype)
        self.steps, self.lr, self.state = int(state["__steps__"]), float(state["__lr__"]), new


class SGD(Optimizer):
    """Stochastic gradient descent with (optionally Nesterov) momentum and L2 weight decay."""

    SLOTS = ("velocity",)

    def __init__(self, params, lr=0.01, momentum=0.9, weight_decay=0.0, nesterov=False,
                 decay=decay_weights_only):
        super().__init__(params, lr, weight_decay, decay)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _update(self, key, p, g):
        if self.momentum == 0.0:
            p -= self.lr * g
            return
        v = self.state.setdefault(key, {}).setdefault("velocity", np.zeros_like(p))
        v *= self.momentum
        v += g
        p -= self.lr * (g + self.momentum * v if self.nesterov else v)


class Adam(Optimizer):
    """Adam with bias correction; weight decay as L2 in the gradient (not decoupled AdamW)."""

    SLOTS = ("m", "v")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decay=decay_weights_only):
        super().__init__(params, lr, weight_decay, decay)
        self.beta1, self.beta2 = (float(b) for b in betas)
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError(f"betas must lie in [0, 1), got {betas!r}")
        self.eps = float(eps)

    def _update(self, key, p, g):
        slots = self.state.setdefault(key, {})
        m = slots.setdefault("m", np.zeros_like(p))
        v = slots.setdefault("v", np.zeros_like(p))
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * g * g
        m_hat = m / (1 - self.beta1 ** self.steps)
        v_hat = v / (1 - self.beta2 ** self.steps)
        p -= (self.lr * m_hat / (np.sqrt(v_hat) + self.eps)).astype(p.dtype, copy=False)


def make_optimizer(name, params, *, lr, momentum=0.9, weight_decay=0.0):
    """``"sgd"`` -> :class:`SGD` (momentum ``momentum``), ``"adam"`` -> :class:`Adam`."""
    name = str(name).lower()
    if name == "sgd":
        return SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return Adam(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; use 'sgd' or 'adam'")


class StepLR:
    """``base_lr * gamma ** (number of milestones <= epoch)``; A: milestones (6, 14, 20), gamma 0.1."""

    def __init__(self, base_lr, milestones=(6, 14, 20), gamma=0.1):
        self.base_lr, self.milestones, self.gamma = float(base_lr), sorted(milestones), float(gamma)

    def __call__(self, epoch):
        return self.base_lr * self.gamma ** sum(epoch >= m for m in self.milestones)


class CosineLR:
    """Linear warm-up over ``warmup`` epochs, then cosine decay from ``base_lr`` to ``min_lr`` at ``total``."""

    def __init__(self, base_lr, total, warmup=0.0, min_lr=0.0):
        if total <= 0:
            raise ValueError(f"total epochs must be positive, got {total!r}")
        self.base_lr, self.total, self.warmup, self.min_lr = float(base_lr), float(total), float(warmup), float(min_lr)

    def __call__(self, epoch):
        if self.warmup > 0 and epoch < self.warmup:
            return self.base_lr * (epoch + 1e-3) / self.warmup
        span = max(self.total - self.warmup, 1e-12)
        t = min(max((epoch - self.warmup) / span, 0.0), 1.0)
        return self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * t))


def make_schedule(name, base_lr, epochs, *, milestones=None, gamma=0.1, warmup=0.0):
    """``"step"`` (milestones default: A's 6/14/20 scaled to ``epochs`` out of 30), ``"cosine"``, ``"constant"``."""
    name = str(name).lower()
    if name == "step":
        if milestones is None:
            milestones = sorted({max(1, round(epochs * m / 30)) for m in (6, 14, 20)})
        return StepLR(base_lr, milestones, gamma)
    if name == "cosine":
        return CosineLR(base_lr, epochs, warmup=warmup)
    if name == "constant":
        return StepLR(base_lr, (), 1.0)
    raise ValueError(f"unknown schedule {name!r}; use 'step', 'cosine' or 'constant'")
