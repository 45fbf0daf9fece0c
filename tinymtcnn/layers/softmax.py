"""Softmax and the numerically stable softmax cross-entropy.

``softmax(x, axis)``: ``exp(x - max) / sum(exp(x - max))`` along ``axis``.

``softmax_cross_entropy(logits (N, K), labels (N,) int)``: per sample
``L_n = -log softmax(logits_n)[labels_n] = logsumexp(logits_n) - logits_n[label]``
and ``dL_n/dlogits_n = softmax(logits_n) - onehot(label)``.
"""
import numpy as np

from ._checks import check_array


def softmax(x, axis=1):
    """Stable softmax of ``x`` along ``axis`` (any shape)."""
    check_array("x", x)
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x, axis=1):
    """Stable ``log(softmax(x))``."""
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def softmax_cross_entropy(logits, labels, *, reduction="mean"):
    """Cross-entropy of softmax(logits) against integer labels, with its gradient.

    Parameters
    ----------
    logits : ndarray (N, K), float
    labels : ndarray (N,), int in ``[0, K)``
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns the per-sample losses ``(N,)`` and per-sample gradients.

    Returns
    -------
    loss : float or ndarray (N,)
    dlogits : ndarray (N, K), gradient of the returned (reduced) loss.
    """
    check_array("logits", logits, 2)
    labels = np.asarray(labels)
    if labels.shape != (logits.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be an int array of shape ({logits.shape[0]},), got {labels.dtype} {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= logits.shape[1]):
        raise ValueError(f"labels must lie in [0, {logits.shape[1]}), got {labels.min()}..{labels.max()}")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    n = logits.shape[0]
    logp = log_softmax(logits, axis=1)
    losses = -logp[np.arange(n), labels]
    grad = np.exp(logp)
    grad[np.arange(n), labels] -= 1.0
    if reduction == "none":
        return losses, grad
    if reduction == "sum":
        return losses.sum(), grad
    return losses.mean() if n else 0.0, grad / max(n, 1)
