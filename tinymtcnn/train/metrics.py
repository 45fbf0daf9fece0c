"""Metrics of a net on a :class:`~.sampleset.SampleSet` and the trainer's per-epoch log line."""
import numpy as np

from .losses import LANDMARK, NEGATIVE, POSITIVE, TASK_WEIGHTS, joint_loss

SAMPLE_SIZE_EDGES = (0, 20, 40, 80, np.inf)  # face sizes (px) of the validation recall by size


def sample_face_sizes(samples):
    """``sqrt(w h)`` in photo pixels of the face each sample's box target points at.

    A crop of side ``S`` (``samples["sides"]``) has the box target ``((gx1 - cx1) / S, (gy1 - cy1) / S,
    (gx2 - cx2) / S, (gy2 - cy2) / S)``, so the face is ``S (1 + t2 - t0)`` wide and ``S (1 + t3 - t1)``
    high: the size :func:`tinymtcnn.eval.detection.face_sizes` gives an annotated box. Meaningful for
    positive and part samples (a negative's target is zero: its crop side).
    """
    b = np.asarray(samples["boxes"], dtype=np.float64).reshape(-1, 4)
    s = np.asarray(samples["sides"], dtype=np.float64)
    return s * np.sqrt(np.clip(1 + b[:, 2] - b[:, 0], 0, None) * np.clip(1 + b[:, 3] - b[:, 1], 0, None))


def recall_by_face_size(prob, samples, edges=SAMPLE_SIZE_EDGES):
    """Recall (``P(face) > 0.5``) of the positive samples binned by :func:`sample_face_sizes`:
    ``[{"bin": "20-40 px", "faces": n, "recall": r}, ...]``, the rows of
    :func:`tinymtcnn.eval.detection.recall_by_size` with ``recall`` ``None`` (not NaN) where ``n == 0``,
    so that a history compares equal to itself and is strict JSON."""
    from ..eval.detection import recall_by_size

    pos = np.asarray(samples["labels"]) == POSITIVE
    rows = recall_by_size(sample_face_sizes(samples)[pos], np.asarray(prob)[pos] > 0.5, edges)
    return [{**r, "recall": r["recall"] if r["faces"] else None} for r in rows]


def evaluate_samples(net, samples, *, weights=TASK_WEIGHTS["pnet"], batch_size=512):
    """Metrics of ``net`` on ``samples`` (eval mode, no OHEM):

    ``cls``, ``box``, ``landmark``: each loss term averaged over all its valid samples (not per
    batch); ``loss``: their weighted sum; ``accuracy`` on pos+neg with
    ``P(face) > 0.5``; ``recall`` (positives found) and ``precision``; ``landmark_error``: mean
    point distance in crop units on landmark samples (multiply by the crop side for pixels);
    ``landmark_nme``: per landmark sample, the mean point distance divided by the inter-ocular distance
    of its target (eye centres = points 1 and 2), averaged over the samples (the paper's NME);
    ``recall_by_size``: the recall of the positives by face size (:func:`recall_by_face_size`: under
    20, 20-40, 40-80 and from 80 px), how well the small faces of crowds are kept.
    """
    was_training = net.training
    net.eval()
    probs, sums, counts = [], {"cls": 0.0, "box": 0.0, "landmark": 0.0}, {"cls": 0, "box": 0, "landmark": 0}
    lm_err, lm_n, nme_sum, nme_n = 0.0, 0, 0.0, 0
    for lo in range(0, len(samples), batch_size):
        idx = np.arange(lo, min(lo + batch_size, len(samples)))
        batch = samples.batch(idx)
        out = net.forward(batch["images"])
        _, parts, _ = joint_loss(out, batch, weights=weights, ohem=None)
        for k, nk in (("cls", "n_cls"), ("box", "n_box"), ("landmark", "n_landmark")):
            sums[k] += parts[k] * parts[nk]  # each term is a mean over its own valid samples
            counts[k] += parts[nk]
        probs.append(np.asarray(out["face_prob"]).reshape(len(idx)))
        if "landmarks" in out:
            is_lm = batch["labels"] == LANDMARK
            if is_lm.any():
                pred = np.asarray(out["landmarks"]).reshape(len(idx), 10)[is_lm]
                truth = batch["landmarks"][is_lm]
                d = pred - truth
                dist = np.hypot(d[:, :5], d[:, 5:])
                lm_err += float(np.sum(dist))
                lm_n += int(is_lm.sum()) * 5
                iod = np.hypot(truth[:, 1] - truth[:, 0], truth[:, 6] - truth[:, 5])
                ok = iod > 0
                nme_sum += float(np.sum(dist[ok].mean(axis=1) / iod[ok]))
                nme_n += int(ok.sum())
    net.train(was_training)
    labels = samples["labels"]
    prob = np.concatenate(probs) if probs else np.zeros(0)
    face, pos, neg = prob > 0.5, labels == POSITIVE, labels == NEGATIVE
    cls = pos | neg
    tp = int(np.sum(face & pos))
    metrics = {k: sums[k] / max(counts[k], 1) for k in sums}
    metrics["loss"] = float(np.dot(weights, [metrics["cls"], metrics["box"], metrics["landmark"]]))
    metrics.update({"accuracy": float(np.mean(face[cls] == pos[cls])) if cls.any() else float("nan"),
                    "recall": tp / max(int(pos.sum()), 1),
                    "precision": tp / max(int(np.sum(face & cls)), 1),
                    "landmark_error": lm_err / lm_n if lm_n else float("nan"),
                    "landmark_nme": nme_sum / nme_n if nme_n else float("nan"),
                    "recall_by_size": recall_by_face_size(prob, samples)})
    return metrics


def _size_recall(rows):
    """``"recall by px <20 .812 20-40 .903 40-80 - 80+ .970"`` (``-``: no positive of that size)."""
    def short(label):  # "0-20 px" -> "<20", ">= 80 px" -> "80+", "20-40 px" -> "20-40"
        label = label.replace(" px", "")
        if label.startswith(">= "):
            return label[3:] + "+"
        if label.startswith("0-"):
            return "<" + label[2:]
        return label

    return "recall by px " + " ".join(
        f"{short(r['bin'])} " + ("-" if r["recall"] is None else f"{r['recall']:.3f}".lstrip("0"))
        for r in rows)


def format_record(kind, rec, epochs):
    """One log line for an epoch's history record: train loss terms, validation metrics, time."""
    t = rec["train"]
    line = (f"{kind} epoch {rec['epoch']}/{epochs} lr {rec['lr']:.2g} | train loss {t['loss']:.4f} "
            f"(cls {t['cls']:.4f} box {t['box']:.4f} lmk {t['landmark']:.4f})")
    if "val" in rec:
        v = rec["val"]
        line += (f" | val cls {v['cls']:.4f} box {v['box']:.4f} lmk {v['landmark']:.4f} acc {v['accuracy']:.3f} "
                 f"recall {v['recall']:.3f} prec {v['precision']:.3f} lmk_err {v['landmark_error']:.4f}")
        if v.get("recall_by_size"):
            line += f" ({_size_recall(v['recall_by_size'])})"
    return line + f" | {rec['seconds']:.1f}s (cpu {rec.get('cpu_seconds', float('nan')):.1f}s)"
