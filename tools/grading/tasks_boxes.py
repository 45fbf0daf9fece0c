"""Checkers of the detection and training tasks: 3.1 heat map to boxes, 4.1 NMS, 4.2 box regression,
4.3 square boxes, 6.1 the joint loss, 6.2 IoU and sample labels (references: the teacher's package)."""
import numpy as np

from .cases import TaskCases, check_array, check_value, describe, item, Wrong

EXACT = {"rtol": 0.0, "atol": 1e-9}


def _boxes(rng, n, clusters=3, size=40.0):
    centres = rng.uniform(20, 200, (clusters, 2))[rng.integers(0, clusters, n)]
    half = rng.uniform(0.3, 0.6, (n, 1)) * size + rng.uniform(-4, 4, (n, 2))
    return np.round(np.concatenate([centres - half, centres + half], axis=1) + rng.normal(0, 3, (n, 4)))


def heatmap(rng):
    from tinymtcnn.detect.boxes import heatmap_to_boxes

    tc = TaskCases()
    for name, shape, scale, threshold, levels in (("scale 0.7, threshold 0.6", (9, 11), 0.7, 0.6, None),
                                                  ("no cell reaches the threshold: K = 0", (5, 6), 0.5, 1.1, None),
                                                  ("cells equal to the threshold count (>=)", (6, 7), 0.9, 0.5,
                                                   (0.2, 0.5, 0.7)),
                                                  ("scale 0.35: rounding toward zero", (7, 5), 0.35, 0.5, None),
                                                  ("one row, scale 1", (1, 8), 1.0, 0.3, None)):
        prob = rng.choice(levels, shape) if levels else rng.random(shape)
        reg = rng.normal(0, 0.2, (4,) + shape)
        expected = heatmap_to_boxes(prob, reg, scale, threshold)
        c = tc.case(name, f"prob {shape}, reg {(4,) + shape}, scale {scale}, threshold {threshold}")
        c.call("heatmap_to_boxes", tc.arr(prob), tc.arr(reg), scale, threshold)
        c.check = lambda r, e=expected: [check_array(n, item(r[0], i, "(boxes, scores, offsets)"), e[i], **EXACT)
                                         for i, n in enumerate(("boxes", "scores", "offsets"))]
    return tc


def nms(rng):
    from tinymtcnn.kernels.nms import nms_naive

    tc = TaskCases()
    tied = _boxes(rng, 8, clusters=2)
    degenerate = _boxes(rng, 10, clusters=2)
    degenerate[::3, 2:] = degenerate[::3, :2] - 1  # zero area in M's +1 convention: overlaps are 0/0 = NaN
    for name, boxes, scores, threshold, mode in (
            ("union 0.5, 30 boxes in 3 clusters", _boxes(rng, 30), rng.random(30), 0.5, "union"),
            ("min 0.7, 25 boxes", _boxes(rng, 25, 4), rng.random(25), 0.7, "min"),
            ("tied scores: among equal scores the highest index goes first", tied, np.repeat([0.9, 0.8], 4), 0.3,
             "union"),
            ("no boxes", np.zeros((0, 4)), np.zeros(0), 0.5, "union"),
            ("one box", _boxes(rng, 1), rng.random(1), 0.5, "union"),
            ("threshold 0: any overlap suppresses", _boxes(rng, 15, 2), rng.random(15), 0.0, "union"),
            ("degenerate boxes (zero area): NaN overlaps suppress", degenerate, rng.random(10), 0.5, "union")):
        expected = nms_naive(boxes, scores, threshold, mode)
        c = tc.case(name, f"boxes {boxes.shape}, threshold {threshold}, mode {mode!r}")
        c.call("nms_naive", tc.arr(boxes), tc.arr(scores), threshold, mode)
        c.check = lambda r, e=expected: [_picks(r[0], e)]
    return tc


def _picks(got, expected):
    problem = check_array("picked indices", got, expected)
    if problem and isinstance(got, np.ndarray) and got.dtype.kind in "iu" and got.ndim == 1:
        return f"picked indices: expected {expected.tolist()}, got {got.tolist()} (in pick order)"
    return problem


def box_regression(rng):
    from tinymtcnn.detect.boxes import apply_box_regression

    tc = TaskCases()
    for name, n, plus_one in (("stage 1: plus_one False", 12, False), ("stages 2, 3: plus_one True", 12, True),
                              ("no boxes", 0, True)):
        boxes, offsets = _boxes(rng, n), rng.normal(0, 0.15, (n, 4))
        expected = apply_box_regression(boxes, offsets, plus_one)
        c = tc.case(name, f"boxes ({n}, 4), offsets ({n}, 4), plus_one {plus_one}")
        c.call("apply_box_regression", tc.arr(boxes), tc.arr(offsets), plus_one)
        c.check = lambda r, e=expected: [check_array("boxes", r[0], e, rtol=1e-12, atol=1e-9)]
    return tc


def square(rng):
    from tinymtcnn.detect.boxes import square_boxes

    tc = TaskCases()
    wide = _boxes(rng, 6)
    wide[:, 2] += 25
    tall = _boxes(rng, 6)
    tall[:, 3] += 25
    sq = _boxes(rng, 4)
    sq[:, 3] = sq[:, 1] + (sq[:, 2] - sq[:, 0])
    for name, boxes in (("wide boxes", wide), ("tall boxes", tall), ("already square", sq),
                        ("no boxes", np.zeros((0, 4)))):
        expected = square_boxes(boxes)
        c = tc.case(name, f"boxes {boxes.shape}")
        c.call("square_boxes", tc.arr(boxes))
        c.check = lambda r, e=expected: [check_array("boxes", r[0], e, rtol=1e-12, atol=1e-9)]
    return tc


def _labels(rng, n):
    return rng.choice(np.array([1, 0, -1, -2], dtype=np.int64), n)


def _dict(value, keys, what):
    if not isinstance(value, dict) or sorted(value) != sorted(keys):
        raise Wrong(f"{what}: expected a dict with keys {sorted(keys)}, got "
                    f"{sorted(value) if isinstance(value, dict) else describe(value)}")
    return value


def joint_loss(rng):
    from tinymtcnn.train.losses import classification_loss, joint_loss as reference

    tc = TaskCases()
    tie_logits = np.tile(rng.normal(size=(1, 2)), (10, 1))
    for name, logits, labels, ohem in (("OHEM 0.7, mixed labels", rng.normal(0, 2, (20, 2)), _labels(rng, 20), 0.7),
                                       ("ohem None keeps every pos/neg sample", rng.normal(0, 2, (12, 2)),
                                        _labels(rng, 12), None),
                                       ("no positive or negative sample: loss 0, zero gradient",
                                        rng.normal(size=(6, 2)), rng.choice(np.array([-1, -2]), 6), 0.7),
                                       ("equal losses: OHEM keeps the lowest indices", tie_logits,
                                        np.ones(10, dtype=np.int64), 0.7)):
        expected = classification_loss(logits, labels, ohem=ohem)
        c = tc.case(f"classification_loss, {name}", f"logits {logits.shape}, labels {labels.tolist()}, ohem {ohem}")
        c.call("classification_loss", tc.arr(logits), tc.arr(labels), ohem=ohem)
        c.check = lambda r, e=expected: [check_value("loss", item(r[0], 0, "(loss, grad, kept)"), e[0]),
                                         check_array("grad", item(r[0], 1, "(loss, grad, kept)"), e[1]),
                                         check_array("kept", item(r[0], 2, "(loss, grad, kept)"), e[2])]
    for name, n, pnet, weights in (("P-Net outputs (N, C, 1, 1), no landmark head", 16, True, (1.0, 0.5, 0.5)),
                                   ("O-Net outputs with landmarks, weights (1, 0.5, 1)", 18, False, (1.0, 0.5, 1.0))):
        shape = (lambda k: (n, k, 1, 1)) if pnet else (lambda k: (n, k))
        outputs = {"face_logits": rng.normal(size=shape(2)), "box_reg": rng.normal(0, 0.2, shape(4))}
        if not pnet:
            outputs["landmarks"] = rng.random(shape(10))
        batch = {"labels": _labels(rng, n), "boxes": rng.normal(0, 0.2, (n, 4)), "landmarks": rng.random((n, 10))}
        total, parts, grads = reference(outputs, batch, weights=weights, ohem=0.7)
        c = tc.case(f"joint_loss, {name}", f"N {n}, labels {batch['labels'].tolist()}, weights {weights}, ohem 0.7")
        c.call("joint_loss", {"dict": {k: tc.arr(v) for k, v in outputs.items()}},
               {"dict": {k: tc.arr(v) for k, v in batch.items()}}, weights={"tuple": list(weights)}, ohem=0.7)
        c.check = lambda r, t=total, p=parts, g=grads: _check_joint(r[0], t, p, g)
    return tc


def _check_joint(got, total, parts, grads):
    what = "(total, parts, grads)"
    problems = [check_value("total", item(got, 0, what), total)]
    got_parts = _dict(item(got, 1, what), parts, "parts")
    problems += [check_value(f"parts[{k!r}]", got_parts[k], v) for k, v in parts.items()]
    got_grads = _dict(item(got, 2, what), grads, "grads")
    problems += [check_array(f"grads[{k!r}]", got_grads[k], v) for k, v in grads.items()]
    return problems


def iou_labels(rng):
    from tinymtcnn.train.samples import iou, label_for_iou

    tc = TaskCases()
    box = np.array([50.0, 60.0, 110.0, 130.0])
    touching = np.array([[110.0, 60.0, 150.0, 130.0], [0.0, 0.0, 40.0, 40.0], [50.0, 130.0, 110.0, 170.0]])
    for name, one, many in (("overlapping boxes", box, box + rng.uniform(-30, 30, (12, 4))),
                            ("touching and disjoint boxes: IoU 0", box, touching),
                            ("the same box: IoU 1", box, box[None].repeat(2, axis=0)),
                            ("zero-area boxes: 0, not NaN", np.array([5.0, 5.0, 5.0, 5.0]),
                             np.array([[5.0, 5.0, 5.0, 5.0], [1.0, 1.0, 9.0, 9.0]])),
                            ("no boxes", box, np.zeros((0, 4)))):
        expected = iou(one, many)
        c = tc.case(f"iou, {name}", f"box {one.tolist()}, boxes {many.shape}")
        c.call("iou", tc.arr(one), tc.arr(many))
        c.check = lambda r, e=expected: [check_array("iou", r[0], e, rtol=1e-9, atol=1e-12)]
    values = (0.9, 0.65, 0.6499, 0.5, 0.4, 0.3999, 0.35, 0.3, 0.2999, 0.0)
    c = tc.case("label_for_iou at and around the thresholds 0.3, 0.4, 0.65", f"best IoU in {list(values)}")
    for v in values:
        c.call("label_for_iou", v)
    c.check = lambda r: [check_value(f"label_for_iou({v})", got, label_for_iou(v)) for v, got in zip(values, r)]
    return tc
