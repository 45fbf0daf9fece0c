"""``Trainer``: mini-batch training of one MTCNN net on a :class:`~.samples.SampleSet`.

    >>> t = Trainer("pnet", "runs/demo", TrainConfig(epochs=5))        # doctest: +SKIP
    >>> history = t.fit(train_samples, val_samples)                    # doctest: +SKIP

Per epoch: shuffled mini-batches (random horizontal flips of every sample with their targets,
``flip=True``), the joint loss with OHEM (:func:`~.losses.joint_loss`), the gradient rescaled to a
global L2 norm of at most ``clip_norm`` (10; not in the paper, it keeps the first O-Net steps at
high learning rates finite), one optimiser step per batch with the scheduled learning rate, then
validation metrics, a log line and two files written atomically (temporary file + ``os.replace``):

* ``OUT/<kind>.npz``: the weights, readable by ``tinymtcnn.weights.load_net(kind, path)`` and by
  ``MTCNN(weights=OUT)`` (P-Net and R-Net carry a landmark head for joint training; ``load_net``
  drops it unless ``landmark_head=True``);
* ``OUT/<kind>.ckpt.npz``: weights, optimiser state, epoch, history, random state and config, so
  ``fit(..., resume=True)`` continues exactly where an interrupted run stopped.
"""
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..nets import build_net
from ..weights import save_net
from .losses import TASK_WEIGHTS, joint_loss
from .metrics import evaluate_samples, format_record  # noqa: F401 (also importable from here, as before)
from .optim import make_optimizer, make_schedule
from .checkpoint import check_loadable, naming_write_failures, read_checkpoint, write_checkpoint
from ..threads import limit_threads

INPUT_SIZE = {"pnet": 12, "rnet": 24, "onet": 48}


@dataclass
class TrainConfig:
    """Hyper-parameters (defaults: the paper/A where they exist, spec §8.4-8.5; ``lr`` for SGD)."""

    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    warmup: float = 0.0
    ohem: Optional[float] = 0.7
    task_weights: Optional[tuple] = None  # None: TASK_WEIGHTS[kind]
    flip: bool = True
    dropout: Optional[float] = None  # O-Net's dropout before prelu5; None: the net's default (0.25)
    clip_norm: Optional[float] = 10.0  # rescale the gradient when its global L2 norm exceeds this
    num_threads: Optional[int] = None  # Numba/product threads while training (None: all); BLAS runs single-threaded
    seed: int = 0
    trainable: Optional[tuple] = None  # names of the layers that train (e.g. ("conv6-3",)); None: all
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        """``ValueError`` naming the field for a count < 1 or a rate that is not a finite number in range."""
        def number(name, low, high=np.inf, *, whole=False, optional=False, open_low=False):
            v = getattr(self, name)
            if optional and v is None:
                return
            ok = isinstance(v, (int, np.integer) if whole else (int, float, np.number)) and not isinstance(v, bool)
            if not (ok and np.isfinite(v) and (v > low if open_low else v >= low) and v <= high):
                bound = f"{'>' if open_low else '>='} {low}" + (f" and <= {high}" if high < np.inf else "")
                raise ValueError(f"TrainConfig.{name} must be a {'whole' if whole else 'finite'} number {bound}, "
                                 f"got {v!r}")

        for name in ("epochs", "batch_size"):
            number(name, 1, whole=True)
        number("num_threads", 1, whole=True, optional=True)
        number("seed", 0, whole=True)
        number("lr", 0, open_low=True)
        number("clip_norm", 0, open_low=True, optional=True)
        number("ohem", 0, 1, open_low=True, optional=True)
        number("momentum", 0, 0.999)  # dropout is checked by O-Net's Dropout layer
        for name in ("weight_decay", "warmup"):
            number(name, 0)
        if self.trainable is not None:
            if isinstance(self.trainable, str) or not all(isinstance(n, str) for n in self.trainable) \
                    or not len(self.trainable):
                raise ValueError(f"TrainConfig.trainable must be None or a non-empty tuple of layer names, "
                                 f"got {self.trainable!r}")
            self.trainable = tuple(self.trainable)


def make_net(kind, seed=0, *, dropout=None):
    """A freshly initialised net (Xavier weights, zero biases, PReLU 0.25); P/R-Net with a landmark head;
    ``dropout`` sets O-Net's dropout probability (None: the net's default)."""
    if kind not in INPUT_SIZE:
        raise ValueError(f"unknown net kind {kind!r}; use pnet, rnet or onet")
    options = {} if dropout is None else {"dropout": dropout}
    return build_net(kind, landmark_head=True, rng=np.random.default_rng(seed), **options)


class Trainer:
    """Train one net of kind ``"pnet"``, ``"rnet"`` or ``"onet"``, writing into ``out_dir``."""

    def __init__(self, kind, out_dir, config=None, *, net=None, log=print, progress=True):
        if kind not in INPUT_SIZE:
            raise ValueError(f"unknown net kind {kind!r}; use pnet, rnet or onet")
        self.kind, self.out_dir = kind, Path(out_dir)
        self.config = TrainConfig() if config is None else config
        self.net = make_net(kind, self.config.seed, dropout=self.config.dropout) if net is None else net
        self.task_weights = tuple(self.config.task_weights or TASK_WEIGHTS[kind])
        self.trained_layers = self._trained_layers()
        # what backward needs, decided once: the trunk, and the heads whose gradient reaches a trained layer
        self.trunk_trains = any(n in self.trained_layers for n, _ in self.net.trunk)
        self.trained_heads = {key for key, layers in self.net.heads.items()
                              if self.trunk_trains or any(n in self.trained_layers for n, _ in layers)}
        self.optimizer = self._make_optimizer()
        self.schedule = make_schedule(self.config.schedule, self.config.lr, self.config.epochs,
                                      warmup=self.config.warmup)
        self.rng = np.random.default_rng([self.config.seed, 1])
        self.epoch = 0
        self.history = []
        self.log, self.progress = log, progress

    def _trained_layers(self):
        """The names of the layers with parameters that train: all, or ``config.trainable`` (checked)."""
        layers = [n for n, m in self.net.named_modules() if m.params]
        if self.config.trainable is None:
            return tuple(layers)
        unknown = [n for n in self.config.trainable if n not in layers]
        if unknown:
            raise ValueError(f"TrainConfig.trainable names {unknown}, which {self.kind} does not have; "
                             f"its layers with parameters are {layers}")
        return tuple(self.config.trainable)

    def _trained(self, flat):
        """The entries of a flat ``"<layer>.<key>"`` dict that belong to trained layers."""
        if self.config.trainable is None:
            return flat
        return {k: v for k, v in flat.items() if k.rpartition(".")[0] in self.trained_layers}

    def _make_optimizer(self):
        return make_optimizer(self.config.optimizer, self._trained(self.net.params), lr=self.config.lr,
                              momentum=self.config.momentum, weight_decay=self.config.weight_decay)

    @property
    def weights_path(self):
        return self.out_dir / f"{self.kind}.npz"

    @property
    def checkpoint_path(self):
        return self.out_dir / f"{self.kind}.ckpt.npz"

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self):
        """Write the weights and the checkpoint of the current epoch, each atomically.

        Refuses (:class:`TrainingDiverged`) to write weights that are not finite, so a diverged run
        never replaces the last good files; an ``OSError`` (e.g. a full disk) names the file and leaves
        the previous one in place.
        """
        bad = _first_non_finite(self.net.params)
        if bad is not None:
            raise TrainingDiverged(f"{self.kind}: not saving epoch {self.epoch}: parameter {bad} is not finite; "
                                   f"{self.checkpoint_path} is left as it was")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        meta = {"kind": self.kind, "epoch": self.epoch, "history": self.history, "config": asdict(self.config),
                "rng": self.rng.bit_generator.state}
        with naming_write_failures(self.weights_path):
            save_net(self.net, self.weights_path, source=f"tinymtcnn train {self.kind}, epoch {self.epoch}")
        with naming_write_failures(self.checkpoint_path):
            write_checkpoint(self.checkpoint_path, self.net.params, self.optimizer.state_dict(), meta)

    def load_checkpoint(self, path=None):
        """Restore net, optimiser, epoch, history and random state; returns True if a checkpoint existed.

        A damaged or foreign file raises :class:`~.checkpoint.CheckpointError` (a ``ValueError``) naming
        it and saying what to do; nothing is changed then.
        """
        path = Path(path) if path is not None else self.checkpoint_path
        if not path.is_file():
            return False
        ckpt = read_checkpoint(path, self.kind)
        meta = ckpt["meta"]

        def apply():  # everything is checked before the net is changed
            optimizer = self._make_optimizer()
            optimizer.load_state_dict(ckpt["optimizer"])
            type(self.rng.bit_generator)().state = meta["rng"]
            self.net.load_params(ckpt["params"])  # checks every key and shape before it copies
            optimizer.params = self._trained(self.net.params)  # load_params replaced the arrays
            self.optimizer = optimizer
            self.rng.bit_generator.state = meta["rng"]

        check_loadable(path, apply)
        self.epoch, self.history = meta["epoch"], list(meta["history"])
        return True

    # ------------------------------------------------------------------ training
    def train_step(self, batch, lr):
        """One forward/backward/update on a batch dict; returns ``(total, parts)``."""
        self.optimizer.lr = lr
        out = self.net.forward(batch["images"])
        total, parts, grads = joint_loss(out, batch, weights=self.task_weights, ohem=self.config.ohem)
        self.net.zero_grad()
        grads = {k: g for k, g in grads.items() if k in self.trained_heads}  # frozen heads need nothing
        self.net.backward(grads, input_grad=False, trunk=self.trunk_trains)  # the images need no gradient
        grads = self._trained(self.net.grads)
        clip = self.config.clip_norm
        if clip:
            norm = float(np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads.values())))
            parts["grad_norm"] = norm
            if norm > clip:
                grads = {k: g * (clip / norm) for k, g in grads.items()}
        self.optimizer.step(grads)
        return total, parts

    def fit(self, train, val=None, *, resume=False):
        """Train for ``config.epochs`` epochs (continuing from the checkpoint with ``resume``); returns history.

        Runs inside ``limit_threads(config.num_threads, blas=1)``: the kernels and the large
        products of the convolutions use ``num_threads`` threads, BLAS itself one.
        """
        if len(train) == 0:
            raise ValueError("no training samples")
        if train.size != INPUT_SIZE[self.kind]:
            raise ValueError(f"{self.kind} needs {INPUT_SIZE[self.kind]}x{INPUT_SIZE[self.kind]} samples, "
                             f"got {train.size}x{train.size}")
        if resume and self.load_checkpoint():
            self.log(f"{self.kind}: resumed from {self.checkpoint_path} after epoch {self.epoch}")
        with limit_threads(self.config.num_threads, blas=1):  # BLAS threads spin; see tinymtcnn.threads
            self._fit_epochs(train, val)
        self.net.eval()
        return self.history

    def _fit_epochs(self, train, val):
        from tqdm import tqdm

        bs = self.config.batch_size
        n_batches = max(1, len(train) // bs)
        while self.epoch < self.config.epochs:
            start, cpu = time.perf_counter(), time.process_time()
            self.net.train()
            order = self.rng.permutation(len(train))
            sums, count = {"loss": 0.0, "cls": 0.0, "box": 0.0, "landmark": 0.0}, 0
            bar = tqdm(range(n_batches), desc=f"{self.kind} {self.epoch + 1}/{self.config.epochs}", unit="batch",
                       disable=not self.progress, leave=False)
            for b in bar:
                idx = np.sort(order[b * bs:(b + 1) * bs])
                flip = self.rng.random(len(idx)) < 0.5 if self.config.flip else None
                lr = self.schedule(self.epoch + b / n_batches)
                with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below instead
                    total, parts = self.train_step(train.batch(idx, flip=flip), lr)
                what = _divergence(total, parts, self.net.params)
                if what:
                    raise TrainingDiverged(self._diverged_message(what, f"step {b + 1}/{n_batches}", lr))
                for k, v in (("loss", total), ("cls", parts["cls"]), ("box", parts["box"]),
                             ("landmark", parts["landmark"])):
                    sums[k] += v
                count += 1
                if b % 20 == 0:
                    bar.set_postfix(loss=f"{sums['loss'] / count:.4f}", lr=f"{lr:.2g}")
            bar.close()
            checked = None
            if val is not None and len(val):
                with np.errstate(over="ignore", invalid="ignore"):
                    checked = self.evaluate(val)
                if not np.isfinite(checked["loss"]):  # finite but huge weights: not worth saving either
                    raise TrainingDiverged(self._diverged_message(f"the validation loss became {checked['loss']}",
                                                                  "validation after the last step", lr))
            self.epoch += 1
            record = {"epoch": self.epoch, "lr": lr, "seconds": 0.0,
                      "train": {k: v / max(count, 1) for k, v in sums.items()}}
            if checked is not None:
                record["val"] = checked
            record["seconds"] = round(time.perf_counter() - start, 2)
            record["cpu_seconds"] = round(time.process_time() - cpu, 2)
            self.history.append(record)
            self.save_checkpoint()
            self.log(format_record(self.kind, record, self.config.epochs))

    def _diverged_message(self, what, where, lr):
        kept = (f"{self.checkpoint_path} (after epoch {self.epoch}) is kept as it was"
                if self.checkpoint_path.is_file() else "no checkpoint was written")
        return (f"{self.kind} diverged at epoch {self.epoch + 1}/{self.config.epochs}, {where}: "
                f"{what} at learning rate {lr:.3g}. The learning rate is probably too high: try a lower one "
                f"(--lr {lr / 10:.3g}), a warm-up or gradient clipping; {kept}")

    def evaluate(self, samples, batch_size=512):
        """Validation metrics (see :func:`evaluate_samples`)."""
        return evaluate_samples(self.net, samples, weights=self.task_weights, batch_size=batch_size)


class TrainingDiverged(FloatingPointError):
    """The loss, the gradient or the weights stopped being finite; the last good files are kept."""


def _first_non_finite(params):
    """Name of the first parameter array holding NaN or inf, else None."""
    return next((k for k, p in params.items() if not np.all(np.isfinite(p))), None)


def _divergence(total, parts, params):
    """What went non-finite in a training step ("the loss became nan", ...), or "" when all is finite."""
    if not np.isfinite(total):
        return f"the loss became {total}"
    if not np.isfinite(parts.get("grad_norm", 0.0)):
        return f"the gradient norm became {parts['grad_norm']}"
    bad = _first_non_finite(params)
    return f"the weights of {bad} became NaN or inf" if bad is not None else ""
