"""The joint multi-task loss of MTCNN training (spec §8.3-8.4), forward and backward.

Sample labels (A's convention, spec §8.1)::

    1 positive   -> face classification + box regression
    0 negative   -> face classification
   -1 part face  -> box regression
   -2 landmark   -> landmark regression

For a batch of ``N`` samples with outputs ``z`` (face logits, ``(N, 2)``), ``b`` (box offsets,
``(N, 4)``) and ``m`` (landmarks, ``(N, 10)`` planar ``x1..x5, y1..y5``)::

    L_det  = (1/k) sum_{i in K} CE(z_i, y_i)        K = the k largest CE over pos+neg,
                                                    k = max(1, floor(ohem * n_cls))   (OHEM)
    L_box  = (1/n_box) sum_{i: y_i in {1, -1}} ||b_i - t_i||^2
    L_lmk  = (1/n_lmk) sum_{i: y_i = -2}       ||m_i - l_i||^2
    L      = a_det L_det + a_box L_box + a_lmk L_lmk

``CE(z, y) = logsumexp(z) - z_y`` is the paper's binary cross-entropy on ``p = softmax(z)_1``.
OHEM (paper §II-C-5) applies to the classification term only; ``ohem=None`` (or 1.0) keeps every
pos/neg sample. Box and landmark terms average over their valid samples (A's choice, no OHEM). A
term without valid samples is 0 with zero gradient. Gradients are those of ``L`` with respect to
each output; samples outside a term's mask, and OHEM-dropped samples, get exactly 0.
"""
import numpy as np

from ..layers.softmax import softmax_cross_entropy

POSITIVE, NEGATIVE, PART, LANDMARK = 1, 0, -1, -2
TASK_WEIGHTS = {"pnet": (1.0, 0.5, 0.5), "rnet": (1.0, 0.5, 0.5), "onet": (1.0, 0.5, 1.0)}
OHEM_KEEP = 0.7


def _flat(name, arr, n, width):
    """(N, C) or P-Net's (N, C, 1, 1) -> (N, C); anything else is an error."""
    arr = np.asarray(arr)
    if arr.ndim == 4 and arr.shape[2:] == (1, 1):
        arr = arr[:, :, 0, 0]
    if arr.shape != (n, width):
        raise ValueError(f"{name} must have shape ({n}, {width}) or ({n}, {width}, 1, 1), got {arr.shape}")
    return arr


def classification_loss(logits, labels, *, ohem=OHEM_KEEP):
    """Face/non-face cross-entropy over positives and negatives with online hard example mining.

    Parameters
    ----------
    logits : (N, 2) float
    labels : (N,) int, sample labels (only 0 and 1 count)
    ohem : float in (0, 1] or None
        Fraction of the pos+neg samples with the largest loss that is kept (0.7 in the paper).

    Returns
    -------
    loss : float, ``(1/k) sum_{i in K} CE_i``
    grad : (N, 2), ``(softmax(z_i) - onehot(y_i)) / k`` for kept samples, 0 elsewhere
    kept : (N,) bool, the samples in ``K``
    """
    labels = np.asarray(labels)
    # >>> TASK 6.1: joint loss with OHEM
    n = labels.shape[0]
    grad = np.zeros_like(logits)
    kept = np.zeros(n, dtype=bool)
    valid = np.flatnonzero((labels == POSITIVE) | (labels == NEGATIVE))
    if valid.size == 0:
        return 0.0, grad, kept
    losses, dlogits = softmax_cross_entropy(logits[valid], labels[valid].astype(np.int64), reduction="none")
    if ohem is None or ohem >= 1.0:
        k = valid.size
        order = np.arange(valid.size)
    else:
        if not 0.0 < ohem <= 1.0:
            raise ValueError(f"ohem must be in (0, 1] or None, got {ohem!r}")
        k = max(1, int(np.floor(ohem * valid.size)))
        order = np.argsort(-losses, kind="stable")[:k]  # hardest first; ties keep index order
    sel = valid[order]
    kept[sel] = True
    grad[sel] = dlogits[order] / k
    return float(losses[order].sum() / k), grad, kept
    # <<< TASK 6.1


def squared_l2_loss(pred, target, mask):
    """Mean over ``mask`` of ``||pred_i - target_i||^2``; returns ``(loss, grad (N, C))``.

    ``grad_i = 2 (pred_i - target_i) / n_valid`` for masked samples, 0 elsewhere.
    """
    grad = np.zeros_like(pred)
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return 0.0, grad
    diff = pred[idx] - np.asarray(target)[idx].astype(pred.dtype, copy=False)
    grad[idx] = 2.0 * diff / idx.size
    return float(np.sum(diff * diff) / idx.size), grad


def joint_loss(outputs, batch, *, weights=TASK_WEIGHTS["pnet"], ohem=OHEM_KEEP):
    """The weighted, masked MTCNN loss and its gradients for ``net.backward``.

    Parameters
    ----------
    outputs : dict from ``net.forward``: ``face_logits`` (N, 2[, 1, 1]), ``box_reg`` (N, 4[, 1, 1]),
        optionally ``landmarks`` (N, 10[, 1, 1]). P-Net's 1x1 maps on 12x12 samples are squeezed.
    batch : dict with ``labels`` (N,) int, ``boxes`` (N, 4) box targets, ``landmarks`` (N, 10)
        planar landmark targets (rows of samples that do not use a target are ignored).
    weights : (a_det, a_box, a_lmk), task weights (:data:`TASK_WEIGHTS`: P/R (1, .5, .5), O (1, .5, 1))
    ohem : float or None, fraction kept by OHEM in the classification term

    Returns
    -------
    total : float
    parts : dict ``{"cls", "box", "landmark"}`` of the unweighted terms plus counts
        ``n_cls``, ``n_kept``, ``n_box``, ``n_landmark``
    grads : dict keyed like ``outputs`` (``face_logits``, ``box_reg`` [, ``landmarks``]) with
        arrays of the outputs' own shapes: ``dL/doutput``. A net without a landmark head simply
        gets no landmark term (its landmark samples contribute nothing).
    """
    labels = np.asarray(batch["labels"])
    if labels.ndim != 1:
        raise ValueError(f"labels must have shape (N,), got {labels.shape}")
    n = labels.shape[0]
    a_det, a_box, a_lmk = (float(w) for w in weights)
    logits = _flat("face_logits", outputs["face_logits"], n, 2)
    reg = _flat("box_reg", outputs["box_reg"], n, 4)
    box_t = _flat("boxes", batch["boxes"], n, 4)

    # >>> TASK 6.1: joint loss with OHEM
    l_cls, g_cls, kept = classification_loss(logits, labels, ohem=ohem)
    box_mask = (labels == POSITIVE) | (labels == PART)
    l_box, g_box = squared_l2_loss(reg, box_t, box_mask)
    grads = {"face_logits": (a_det * g_cls).reshape(np.shape(outputs["face_logits"])),
             "box_reg": (a_box * g_box).reshape(np.shape(outputs["box_reg"]))}
    lmk_mask = labels == LANDMARK
    l_lmk = 0.0
    if "landmarks" in outputs:
        lmk = _flat("landmarks", outputs["landmarks"], n, 10)
        lmk_t = _flat("landmark targets", batch["landmarks"], n, 10)
        l_lmk, g_lmk = squared_l2_loss(lmk, lmk_t, lmk_mask)
        grads["landmarks"] = (a_lmk * g_lmk).reshape(np.shape(outputs["landmarks"]))
    total = a_det * l_cls + a_box * l_box + a_lmk * l_lmk
    parts = {"cls": l_cls, "box": l_box, "landmark": l_lmk,
             "n_cls": int(np.sum((labels == POSITIVE) | (labels == NEGATIVE))), "n_kept": int(kept.sum()),
             "n_box": int(box_mask.sum()), "n_landmark": int(lmk_mask.sum()) if "landmarks" in outputs else 0}
    return float(total), parts, grads
    # <<< TASK 6.1
